#pragma once
/// The results a user has trained, as `ncp ask` reads them and `ncp tell` appends them: CSV with a header
/// `code,<metric>,...` (columns in any order), one row per architecture, the code in a form `ncp flops` or
/// `ncp predict` takes (NAS-Bench-MR's string or 27 integers; NAS-Bench-201's `|op~0|+...` string or 30 one-hot
/// values), every value a finite number, no code twice. Fields may be double-quoted ("" inside quotes is one ").

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "ncp/arch/model_code.hpp"
#include "ncp/io/atomic.hpp"
#include "ncp/config.hpp"

namespace ncp::io {

/// A results file, checked: its header and rows.
struct results_table {
    bool header = false;                      ///< whether the file had a header (a missing or empty one has not)
    std::vector<std::string> columns;         ///< the metric columns, file order (the header without `code`)
    std::vector<std::vector<double>> codes;   ///< per row: the code in original units (27 or 30 values)
    std::vector<std::string> code_text;       ///< per row: the code in its canonical string form
    std::vector<std::vector<double>> values;  ///< per row: the metrics, in `columns` order
    std::vector<std::vector<std::string>> value_text;  ///< per row: the metric fields as written, `columns` order
    std::vector<std::size_t> lines;           ///< per row: its line in the file (from 1), or row (make_results)

    /// Rows.
    std::size_t size() const { return codes.size(); }
    /// Index of metric `name` in `columns`; throws naming `file` and the columns there are.
    std::size_t column(const std::string& name, const std::string& file) const {
        for (std::size_t i = 0; i < columns.size(); ++i)
            if (columns[i] == name) return i;
        std::string have;
        for (const auto& c : columns) have += (have.empty() ? "" : ", ") + c;
        throw error(file + ": no column '" + name + "' (the header has: code" + (have.empty() ? "" : ", ") + have +
                    ")");
    }
};

namespace detail {

/// The fields of one CSV line (RFC 4180 quoting, no line breaks inside fields); throws a reason for a bad quote.
inline std::vector<std::string> csv_fields(std::string_view line) {
    std::vector<std::string> fields(1);
    bool quoted = false, was_quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (quoted) {
            if (c != '"') {
                fields.back() += c;
            } else if (i + 1 < line.size() && line[i + 1] == '"') {
                fields.back() += '"';
                ++i;
            } else {
                quoted = false;
            }
        } else if (c == ',') {
            fields.emplace_back();
            was_quoted = false;
        } else if (c == '"' && fields.back().empty() && !was_quoted) {
            quoted = was_quoted = true;
        } else if (was_quoted) {
            throw error("text after a closing quote");
        } else {
            fields.back() += c;
        }
    }
    if (quoted) throw error("a quote is not closed");
    return fields;
}

}  // namespace detail

/// Reads and checks a results file. `dim`: the code dimension every code must have (0: that of the first code).
/// A missing file, an empty one or a header alone is an empty table when `missing_ok` (nothing known yet), else an
/// error. Every error names the file and, for a row, its line: a header without `code` or with a column twice, a
/// row of another length, an invalid code or one of another dimension, a value that is missing or not a finite
/// number, a code already on an earlier line (compared as codes, not as text).
inline results_table read_results(const std::filesystem::path& file, index_t dim = 0, bool missing_ok = false) {
    const std::string name = file.string();
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) {
        if (missing_ok) return {};
        throw error(name + ": no such file");
    }
    if (std::filesystem::is_directory(file, ec)) throw error(name + ": is a folder, not a CSV file");
    std::ifstream in(file, std::ios::binary);
    if (!in) throw error(name + ": cannot be read");
    results_table t;
    std::map<std::string, std::size_t> seen;  // canonical code -> line
    std::size_t code_column = 0, width = 0, number = 0;
    bool header = false;
    for (std::string line; std::getline(in, line);) {
        ++number;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (arch::detail::trim(line).empty()) continue;
        const std::string where = name + " line " + std::to_string(number) + ": ";
        std::vector<std::string> fields;
        try {
            fields = detail::csv_fields(line);
        } catch (const error& e) {
            throw error(where + e.what());
        }
        if (!header) {
            header = t.header = true;
            width = fields.size();
            bool has_code = false;
            for (std::size_t i = 0; i < fields.size(); ++i) {
                const std::string f(arch::detail::trim(fields[i]));
                if (f.empty()) throw error(where + "the header has an empty column name");
                for (std::size_t j = 0; j < i; ++j)
                    if (arch::detail::trim(fields[j]) == f) throw error(where + "column '" + f + "' appears twice");
                if (f == "code") {
                    has_code = true;
                    code_column = i;
                } else {
                    t.columns.push_back(f);
                }
            }
            if (!has_code) throw error(where + "the header has no 'code' column (expected code,<metric>,...)");
            continue;
        }
        if (fields.size() != width)
            throw error(where + std::to_string(fields.size()) + " fields, the header has " + std::to_string(width));
        std::vector<double> code;
        try {
            const std::string_view text = arch::detail::trim(fields[code_column]);
            code = arch::parse_model_code(text, dim != 0 ? dim : arch::code_dim_of(text));
            if (dim == 0) dim = static_cast<index_t>(code.size());
        } catch (const error& e) {
            throw error(where + e.what());
        }
        std::string canonical = arch::code_string(code);
        if (const auto [at, fresh] = seen.emplace(canonical, number); !fresh)
            throw error(where + "code " + canonical + " is also on line " + std::to_string(at->second));
        std::vector<double> values;
        std::vector<std::string> text;
        for (std::size_t i = 0; i < fields.size(); ++i) {
            if (i == code_column) continue;
            const std::string_view f = arch::detail::trim(fields[i]);
            const std::string& column = t.columns[values.size()];
            double v = 0;
            const auto [end, err] = std::from_chars(f.data(), f.data() + f.size(), v);
            if (f.empty()) throw error(where + column + " is missing");
            if (err != std::errc() || end != f.data() + f.size() || !std::isfinite(v))
                throw error(where + column + " is not a finite number (" + arch::detail::quoted(f) + ")");
            values.push_back(v);
            text.emplace_back(f);
        }
        t.codes.push_back(std::move(code));
        t.code_text.push_back(std::move(canonical));
        t.values.push_back(std::move(values));
        t.value_text.push_back(std::move(text));
        t.lines.push_back(number);
    }
    if (!header && !missing_ok) throw error(name + ": empty (expected a header code,<metric>,...)");
    return t;
}

/// A results table from values held in memory (the Python package's `ncp.ask`): `codes[r]` in original units,
/// `metrics` row-major with one value per column. The checks are read_results', errors naming `source` and the row
/// (from 0): an invalid code or one of another dimension, a value that is not finite, a code twice.
inline results_table make_results(std::vector<std::string> columns, const std::vector<std::vector<double>>& codes,
                                  std::span<const double> metrics, const std::string& source) {
    if (metrics.size() != codes.size() * columns.size())
        throw error(source + ": " + std::to_string(codes.size()) + " codes but " + std::to_string(metrics.size()) +
                    " metric values (expected " + std::to_string(columns.size()) + " per code)");
    results_table t;
    t.header = true;
    t.columns = std::move(columns);
    std::map<std::string, std::size_t> seen;
    for (std::size_t r = 0; r < codes.size(); ++r) {
        const std::string where = source + " row " + std::to_string(r) + ": ";
        if (r > 0 && codes[r].size() != codes[0].size())
            throw error(where + "a code of " + std::to_string(codes[r].size()) + " values after codes of " +
                        std::to_string(codes[0].size()));
        std::string canonical;
        try {
            canonical = arch::code_string(codes[r]);
        } catch (const error& e) {
            throw error(where + e.what());
        }
        if (const auto [at, fresh] = seen.emplace(canonical, r); !fresh)
            throw error(where + "code " + canonical + " is also row " + std::to_string(at->second));
        std::vector<double> values(metrics.begin() + static_cast<std::ptrdiff_t>(r * t.columns.size()),
                                   metrics.begin() + static_cast<std::ptrdiff_t>((r + 1) * t.columns.size()));
        std::vector<std::string> text;
        for (std::size_t c = 0; c < values.size(); ++c) {
            if (!std::isfinite(values[c])) throw error(where + t.columns[c] + " is not a finite number");
            char buffer[32];  // shortest text that reads back to the same double
            text.emplace_back(buffer, std::to_chars(buffer, buffer + sizeof buffer, values[c]).ptr);
        }
        t.codes.push_back(codes[r]);
        t.code_text.push_back(std::move(canonical));
        t.values.push_back(std::move(values));
        t.value_text.push_back(std::move(text));
        t.lines.push_back(r);
    }
    return t;
}

/// `text` as one CSV field: quoted when it holds a comma, a quote or surrounding spaces.
inline std::string csv_field(std::string_view text) {
    if (text.find_first_of(",\"") == std::string_view::npos && arch::detail::trim(text) == text)
        return std::string(text);
    std::string q = "\"";
    for (const char c : text) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
}

/// The CSV text of a results table: the header `code,<columns>`, then each row, codes in canonical form and values
/// as they were written.
inline std::string results_csv(const results_table& t) {
    std::ostringstream out;
    out << "code";
    for (const auto& c : t.columns) out << "," << csv_field(c);
    out << "\n";
    for (std::size_t r = 0; r < t.size(); ++r) {
        out << t.code_text[r];
        for (const auto& v : t.value_text[r]) out << "," << v;
        out << "\n";
    }
    return out.str();
}

/// `ncp tell`: appends the rows of `results` to `known` atomically (`known` is created, with `results`' columns,
/// when it is missing or empty) and returns how many. Both files are checked as read_results does; `results` must
/// have exactly `known`'s metric columns (in any order), codes of the same dimension, and no code `known` holds.
/// On any error nothing is written.
inline std::size_t append_results(const std::filesystem::path& known, const std::filesystem::path& results) {
    results_table k = read_results(known, 0, true);
    const index_t dim = k.size() > 0 ? static_cast<index_t>(k.codes.front().size()) : 0;
    const results_table r = read_results(results, dim, false);
    if (!k.header) k.columns = r.columns;
    std::vector<std::size_t> from(k.columns.size());  // known column -> results column
    for (std::size_t c = 0; c < k.columns.size(); ++c) from[c] = r.column(k.columns[c], results.string());
    for (const auto& c : r.columns)
        if (std::find(k.columns.begin(), k.columns.end(), c) == k.columns.end())
            throw error(results.string() + ": column '" + c + "' is not one of " + known.string() + "'s");
    std::map<std::string, std::size_t> lines;
    for (std::size_t i = 0; i < k.size(); ++i) lines.emplace(k.code_text[i], k.lines[i]);
    for (std::size_t i = 0; i < r.size(); ++i) {
        if (const auto at = lines.find(r.code_text[i]); at != lines.end())
            throw error(results.string() + " line " + std::to_string(r.lines[i]) + ": code " + r.code_text[i] +
                        " is already known (" + known.string() + " line " + std::to_string(at->second) + ")");
        std::vector<double> values(k.columns.size());
        std::vector<std::string> text(k.columns.size());
        for (std::size_t c = 0; c < from.size(); ++c) {
            values[c] = r.values[i][from[c]];
            text[c] = r.value_text[i][from[c]];
        }
        k.codes.push_back(r.codes[i]);
        k.code_text.push_back(r.code_text[i]);
        k.values.push_back(std::move(values));
        k.value_text.push_back(std::move(text));
        k.lines.push_back(0);
    }
    atomic_write(known, results_csv(k));
    return r.size();
}

}  // namespace ncp::io

#pragma once
/// Codes as users write them, for a model of any code dimension: NAS-Bench-MR codes in either form of parse_code,
/// NAS-Bench-201 codes as 30 comma-separated one-hot values or the benchmark's `|op~0|+...` string, other models'
/// codes as comma-separated numbers; the canonical text of a code of either benchmark.

#include <charconv>
#include <cmath>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ncp/arch/code.hpp"
#include "ncp/arch/nb201.hpp"
#include "ncp/fwd.hpp"

namespace ncp::arch {

namespace detail {

/// Comma-separated finite numbers (spaces allowed around each, optionally inside one pair of brackets).
inline std::vector<double> parse_numbers(std::string_view text) {
    std::string_view s = detail::trim(text);
    if (!s.empty() && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
    std::vector<double> values;
    for (std::size_t start = 0;;) {
        const std::size_t comma = s.find(',', start);
        const std::string_view token = detail::trim(s.substr(start, comma - start));
        double v = 0;
        const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), v);
        if (token.empty() || ec != std::errc() || end != token.data() + token.size() || !std::isfinite(v))
            throw error("invalid code " + detail::quoted(text) + ": value " + std::to_string(values.size()) +
                        " (" + detail::quoted(token) + ") is not a finite number");
        values.push_back(v);
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return values;
}

}  // namespace detail

/// The code `text` for a model taking `dim`-dimensional codes, in original units. Throws ncp::error naming the text
/// when it is malformed, invalid, or of another dimension than the model's.
inline std::vector<double> parse_model_code(std::string_view text, index_t dim) {
    const bool has_comma = text.find(',') != std::string_view::npos;
    auto wrong_dimension = [&](std::size_t got) {
        return error("code " + detail::quoted(text) + " has " + std::to_string(got) +
                     " numbers; the model takes " + std::to_string(dim) + "-dimensional codes");
    };
    if (dim == static_cast<index_t>(code_size)) {
        if (has_comma) {
            const std::size_t count = detail::parse_numbers(text).size();
            if (count != code_size) throw wrong_dimension(count);
        }
        const code c = parse_code(text);
        return {c.begin(), c.end()};
    }
    if (dim == static_cast<index_t>(nb201_code_size)) {
        if (!has_comma) {
            const auto one_hot = nb201_one_hot(parse_nb201(text));
            return {one_hot.begin(), one_hot.end()};
        }
        const auto values = detail::parse_numbers(text);
        if (values.size() != nb201_code_size) throw wrong_dimension(values.size());
        try {
            nb201_from_one_hot(values);
        } catch (const error& e) {
            throw error("code " + detail::quoted(text) + ": " + e.what());
        }
        return values;
    }
    const auto values = detail::parse_numbers(text);
    if (static_cast<index_t>(values.size()) != dim) throw wrong_dimension(values.size());
    return values;
}

/// The code dimension a code's text is written in: 30 for NAS-Bench-201's string (it holds '|') or 30 numbers,
/// else 27 (NAS-Bench-MR's string or 27 numbers; other counts are reported by parse_model_code). With
/// parse_model_code, it reads a code of either space without being told which.
inline index_t code_dim_of(std::string_view text) {
    if (text.find('|') != std::string_view::npos) return static_cast<index_t>(nb201_code_size);
    if (text.find(',') == std::string_view::npos) return static_cast<index_t>(code_size);
    std::size_t commas = 0;
    for (const char c : text) commas += c == ',';
    return commas + 1 == nb201_code_size ? static_cast<index_t>(nb201_code_size) : static_cast<index_t>(code_size);
}

/// Throws ncp::error unless `values` are a valid code of their space, told by the length: 27 whole numbers within
/// NAS-Bench-MR's rules (exact_code), 30 one-hot values (NAS-Bench-201). Codes of other lengths have no rules here.
inline void check_code(std::span<const double> values) {
    if (values.size() == nb201_code_size) (void)nb201_from_one_hot(values);
    if (values.size() == code_size) (void)exact_code(values);
}

/// The canonical string form of a code given in original units, its space told by the length: 30 one-hot values
/// give NAS-Bench-201's `|op~0|+...`, 27 whole numbers NAS-Bench-MR's `64_64-2_1_2_64-...`. Throws ncp::error for
/// any other length or an invalid code.
inline std::string code_string(std::span<const double> values) {
    if (values.size() == nb201_code_size) return to_string(nb201_from_one_hot(values));
    if (values.size() != code_size)
        throw error("a code has 27 values (NAS-Bench-MR) or 30 (NAS-Bench-201), not " + std::to_string(values.size()));
    return to_string(exact_code(values));
}

}  // namespace ncp::arch

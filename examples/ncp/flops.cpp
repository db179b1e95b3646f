/// `ncp flops`: exact FLOPs (G) and params (M) of architecture codes, as CSV on standard output.

#include <cmath>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cli.hpp"
#include "convention_options.hpp"
#include "ncp/arch/code_list.hpp"
#include "ncp/arch/count.hpp"
#include "ncp/data/format.hpp"

namespace {

constexpr const char* usage =
    "usage: ncp flops [OPTIONS] CODE...\n"
    "       ncp flops [OPTIONS] --codes FILE     (one code per line, # comments; '-' reads standard input)\n"
    "       ncp flops [OPTIONS] --data FILE.bin  (every record of a converted benchmark)\n"
    "CODE is the string form (64_64-2_1_2_64-...) or 27 comma-separated integers.\n"
    "Prints CSV: code,flops_g,params_m (one row per valid code, in input order).\n"
    "options:\n"
    "  --compare         with --data: add stored_flops_g,stored_params_m,diff_flops_g,diff_params_m\n"
    "  --verbose         state the convention on standard error\n";

/// One code to measure, with the FLOPs and params stored for it (in units) when comparing.
struct input {
    ncp::arch::code code;                 ///< the architecture
    std::optional<ncp::arch::cost> stored;  ///< what the benchmark holds
};

/// CSV rows gathered in a buffer written out in large blocks.
class csv_writer {
public:
    csv_writer() { m_buffer.reserve(block); }
    ~csv_writer() { flush(); }
    /// Appends `code,flops_g,params_m`, and the stored values and differences when given.
    void row(const ncp::arch::code& k, const ncp::arch::cost& c, const std::optional<ncp::arch::cost>& stored) {
        char line[ncp::arch::max_code_string_length + 6 * (ncp::arch::max_fixed_length + 1) + 1];
        char* end = ncp::arch::write_code_string(line, k);
        const auto number = [&end](std::int64_t value, int decimals) {
            *end++ = ',';
            end = ncp::arch::write_fixed(end, value, decimals);
        };
        number(c.flops, ncp::arch::flops_g_decimals);
        number(c.params, ncp::arch::params_m_decimals);
        if (stored) {
            number(stored->flops, ncp::arch::flops_g_decimals);
            number(stored->params, ncp::arch::params_m_decimals);
            number(c.flops - stored->flops, ncp::arch::flops_g_decimals);
            number(c.params - stored->params, ncp::arch::params_m_decimals);
        }
        *end++ = '\n';
        m_buffer.append(line, end);
        if (m_buffer.size() >= block) flush();
    }
    /// Writes out what is buffered.
    void flush() {
        std::fwrite(m_buffer.data(), 1, m_buffer.size(), stdout);
        m_buffer.clear();
    }

private:
    static constexpr std::size_t block = 1 << 20;
    std::string m_buffer;
};

/// A stored value in G or M as whole units; throws ncp::error naming the record when it is out of range.
std::int64_t stored_units(double value, double scale, const std::string& where) {
    const double units = std::round(value * scale);
    if (!(std::abs(units) < 9e18))
        throw ncp::error(where + ": stored value " + std::to_string(value) + " is out of range");
    return static_cast<std::int64_t>(units);
}

int run(std::span<const std::string> args) {
    ncp::arch::convention conv;
    std::vector<std::string> codes;
    std::string codes_file;
    std::string data_file;
    bool compare = false;
    bool verbose = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (ncp::cli::convention_option(args, i, conv)) continue;
        if (args[i] == "--help" || args[i] == "-h") {
            std::fputs(usage, stdout);
            std::fputs(ncp::cli::convention_usage, stdout);
            return 0;
        }
        if (args[i] == "--codes" || args[i] == "--data") {
            (args[i] == "--codes" ? codes_file : data_file) = ncp::cli::option_value(args, i);
            ++i;
        } else if (args[i] == "--compare") {
            compare = true;
        } else if (args[i] == "--verbose") {
            verbose = true;
        } else if (args[i].starts_with("--")) {
            throw ncp::usage_error("unknown option " + args[i]);
        } else {
            codes.push_back(args[i]);
        }
    }
    if (!codes.empty() + !codes_file.empty() + !data_file.empty() != 1)
        throw ncp::usage_error("give codes as arguments, --codes FILE or --data FILE.bin (one of them)");
    if (compare && data_file.empty()) throw ncp::usage_error("--compare needs --data FILE.bin");
    if (verbose) std::fprintf(stderr, "ncp flops: convention: %s\n", ncp::arch::to_string(conv).c_str());

    // Inputs are read before any output, so that an unreadable file prints nothing on standard output.
    const std::string content = codes_file.empty() ? std::string() : ncp::arch::read_text(codes_file);
    const std::optional<ncp::data::benchmark> bench =
        data_file.empty() ? std::nullopt : std::optional(ncp::data::load_benchmark(data_file));
    if (bench && bench->code_dim() != ncp::arch::code_size)  // one line, not one a record
        throw ncp::error(data_file + ": codes of " + std::to_string(bench->code_dim()) +
                         " values; ncp flops counts NAS-Bench-MR codes of 27 (NAS-Bench-201 cells have no counted "
                         "costs)");
    std::optional<std::size_t> flops_column;
    std::optional<std::size_t> params_column;
    if (compare) {
        flops_column = bench->metric_index("flops");
        params_column = bench->metric_index("params");
    }

    std::fputs(compare ? "code,flops_g,params_m,stored_flops_g,stored_params_m,diff_flops_g,diff_params_m\n"
                       : "code,flops_g,params_m\n",
               stdout);
    csv_writer out;
    // Each invalid code is reported with where it was, and the run goes on with the others.
    bool all_valid = true;
    const auto measure = [&](const auto& read, const auto& where) {
        try {
            const input in = read();
            out.row(in.code, ncp::arch::count(in.code, conv), in.stored);
        } catch (const ncp::error& e) {
            std::fprintf(stderr, "ncp flops: %s: %s\n", where().c_str(), e.what());
            all_valid = false;
        }
    };
    if (!codes.empty()) {
        for (std::size_t a = 0; a < codes.size(); ++a)
            measure([&] { return input{ncp::arch::parse_code(codes[a]), {}}; },
                    [&] { return "argument " + std::to_string(a + 1); });
    } else if (!codes_file.empty()) {
        for (const ncp::arch::code_line& l : ncp::arch::code_lines(content))
            measure([&] { return input{ncp::arch::parse_code(l.text), {}}; },
                    [&] { return codes_file + " line " + std::to_string(l.line); });
    } else {
        for (std::size_t r = 0; r < bench->size(); ++r) {
            const auto where = [&] { return data_file + " record " + std::to_string(r); };
            measure(
                [&] {
                    input in{ncp::arch::exact_code(std::span<const double>(&bench->codes(r, 0), bench->code_dim())),
                             {}};
                    if (compare)
                        in.stored = ncp::arch::cost{stored_units(bench->metrics(r, *flops_column), 1e9, where()),
                                                    stored_units(bench->metrics(r, *params_column), 1e6, where())};
                    return in;
                },
                where);
        }
    }
    return all_valid ? 0 : 1;
}

const ncp::cli::registration registered("flops", "exact FLOPs and params of architecture codes (CSV)", run);

}  // namespace

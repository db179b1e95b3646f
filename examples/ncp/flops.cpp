/// `ncp flops`: exact FLOPs (G) and params (M) of architecture codes, as CSV on standard output.

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "cli.hpp"
#include "convention_options.hpp"
#include "ncp/arch/code_list.hpp"
#include "ncp/arch/count.hpp"

namespace {

constexpr const char* usage =
    "usage: ncp flops [OPTIONS] CODE...\n"
    "       ncp flops [OPTIONS] --codes FILE     (one code per line; '-' reads standard input)\n"
    "CODE is the string form (64_64-2_1_2_64-...) or 27 comma-separated integers.\n"
    "Prints CSV: code,flops_g,params_m (one row per valid code, in input order).\n"
    "options:\n"
    "  --verbose         state the convention on standard error\n";

/// Appends CSV rows to a buffer written out in large blocks.
class csv_writer {
public:
    csv_writer() { m_buffer.reserve(block); }
    ~csv_writer() { flush(); }
    /// Appends `code,flops_g,params_m`.
    void row(const ncp::arch::code& k, const ncp::arch::cost& c) {
        char line[ncp::arch::max_code_string_length + 2 * ncp::arch::max_fixed_length + 3];
        char* end = ncp::arch::write_code_string(line, k);
        *end++ = ',';
        end = ncp::arch::write_fixed(end, c.flops, ncp::arch::flops_g_decimals);
        *end++ = ',';
        end = ncp::arch::write_fixed(end, c.params, ncp::arch::params_m_decimals);
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

int run(std::span<const std::string> args) {
    ncp::arch::convention conv;
    std::vector<std::string> codes;
    std::string codes_file;
    bool verbose = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (ncp::cli::convention_option(args, i, conv)) continue;
        if (args[i] == "--help" || args[i] == "-h") {
            std::fputs(usage, stdout);
            std::fputs(ncp::cli::convention_usage, stdout);
            return 0;
        }
        if (args[i] == "--codes") {
            codes_file = ncp::cli::option_value(args, i);
            ++i;
        } else if (args[i] == "--verbose") {
            verbose = true;
        } else if (args[i].starts_with("--")) {
            throw ncp::usage_error("unknown option " + args[i]);
        } else {
            codes.push_back(args[i]);
        }
    }
    if (codes.empty() == codes_file.empty())
        throw ncp::usage_error("give codes as arguments or --codes FILE (one of them)");
    if (verbose) std::fprintf(stderr, "ncp flops: convention: %s\n", ncp::arch::to_string(conv).c_str());

    // Each invalid code is reported with where it was, and the run goes on with the others.
    const auto measure = [&](csv_writer& out, std::string_view text, const std::string& where) {
        try {
            const ncp::arch::code k = ncp::arch::parse_code(text);
            out.row(k, ncp::arch::count(k, conv));
            return true;
        } catch (const ncp::error& e) {
            std::fprintf(stderr, "ncp flops: %s: %s\n", where.c_str(), e.what());
            return false;
        }
    };
    bool all_valid = true;
    const std::string content = codes_file.empty() ? std::string() : ncp::arch::read_text(codes_file);
    csv_writer out;
    std::fputs("code,flops_g,params_m\n", stdout);
    if (codes_file.empty()) {
        for (std::size_t a = 0; a < codes.size(); ++a)
            all_valid &= measure(out, codes[a], "argument " + std::to_string(a + 1));
    } else {
        for (const ncp::arch::code_line& l : ncp::arch::code_lines(content))
            all_valid &= measure(out, l.text, codes_file + " line " + std::to_string(l.line));
    }
    return all_valid ? 0 : 1;
}

const ncp::cli::registration registered("flops", "exact FLOPs and params of architecture codes (CSV)", run);

}  // namespace

/// `ncp synth`: writes a synthetic benchmark (.bin) with a known best code, or scores codes on its landscape.

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <span>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include "cli.hpp"
#include "ncp/arch/synthetic.hpp"
#include "ncp/io/benchmark_writer.hpp"
#include "ncp/io/json.hpp"

namespace {

constexpr const char* usage =
    "usage: ncp synth --out FILE.bin [--records N] [--seed S] [--noise SIGMA]\n"
    "       ncp synth --score CODE... [--seed S]\n"
    "The first writes a synthetic benchmark (setting 'synthetic', metrics mIoU mAcc aAcc flops params) and prints\n"
    "a one-line JSON summary: the landscape's best code, its true mIoU, FLOPs and params, and the best records.\n"
    "The second prints CSV code,mIoU_true,flops_g,params_m: the noise-free mIoU of each CODE on the landscape of\n"
    "seed S. CODE is the string form (64_64-2_1_2_64-...) or 27 comma-separated integers.\n"
    "options:\n"
    "  --records N       records to draw (default 2507, at most 1000000)\n"
    "  --seed S          seeds the landscape and the records (default 233)\n"
    "  --noise SIGMA     standard deviation of an observed mIoU around the true one, 0 to 1000 (default 0.5)\n";

/// The value of option `args[i]` as a T (an unsigned integer or a double); usage_error when it is not one.
template <class T>
T number_option(std::span<const std::string> args, std::size_t i) {
    const std::string& text = ncp::cli::option_value(args, i);
    T value{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.starts_with('-') || ec != std::errc{} || end != text.data() + text.size())
        throw ncp::usage_error(args[i] + " " + text +
                               (std::is_integral_v<T> ? ": not a non-negative integer" : ": not a number >= 0"));
    return value;
}

/// Writes the benchmark and prints the summary.
int generate(const std::filesystem::path& out, const ncp::arch::synthetic_options& options) {
    ncp::io::check_output_folder(out.parent_path());
    const auto bench = ncp::arch::make_synthetic(options);
    ncp::io::make_output_folder(out.parent_path());
    ncp::io::write_benchmark(out, bench);

    const ncp::arch::synthetic_landscape landscape(options.seed);
    const ncp::arch::code& best = landscape.best();
    const ncp::arch::cost best_cost = ncp::arch::count(best);
    std::size_t top_true = 0;
    std::size_t top_observed = 0;
    double top_true_score = 0;
    for (std::size_t r = 0; r < bench.size(); ++r) {
        const auto c = ncp::arch::exact_code(std::span<const double>(&bench.codes(r, 0), bench.code_dim()));
        const double s = landscape.score(c);
        if (r == 0 || s > top_true_score) {
            top_true = r;
            top_true_score = s;
        }
        if (bench.metrics(r, 0) > bench.metrics(top_observed, 0)) top_observed = r;
    }
    const auto record_code = [&](std::size_t r) {
        return ncp::arch::to_string(
            ncp::arch::exact_code(std::span<const double>(&bench.codes(r, 0), bench.code_dim())));
    };
    ncp::io::json_writer json(std::cout, false);
    json.begin_object()
        .member("file", out.string())
        .member("setting", bench.setting)
        .member("records", bench.size())
        .member("seed", options.seed)
        .member("noise", options.noise)
        .member("best_code", ncp::arch::to_string(best))
        .member("best_mIoU_true", landscape.score(best))
        .member("best_flops_g", best_cost.flops_g())
        .member("best_params_m", best_cost.params_m())
        .member("top_true_record", top_true)
        .member("top_true_code", record_code(top_true))
        .member("top_true_mIoU_true", top_true_score)
        .member("top_observed_record", top_observed)
        .member("top_observed_mIoU", bench.metrics(top_observed, 0))
        .end_object();
    std::cout << "\n";
    return 0;
}

/// Prints the CSV of true scores; invalid codes are reported by argument position and the others still printed.
int score(const std::vector<std::string>& codes, const ncp::arch::synthetic_options& options) {
    const ncp::arch::synthetic_landscape landscape(options.seed);
    std::fputs("code,mIoU_true,flops_g,params_m\n", stdout);
    bool all_valid = true;
    for (std::size_t a = 0; a < codes.size(); ++a) {
        try {
            const ncp::arch::code c = ncp::arch::parse_code(codes[a]);
            const ncp::arch::cost k = ncp::arch::count(c);
            std::printf("%s,%.6f,%s,%s\n", ncp::arch::to_string(c).c_str(), landscape.score(c),
                        ncp::arch::fixed_string(k.flops, ncp::arch::flops_g_decimals).c_str(),
                        ncp::arch::fixed_string(k.params, ncp::arch::params_m_decimals).c_str());
        } catch (const ncp::error& e) {
            std::fprintf(stderr, "ncp synth: argument %zu: %s\n", a + 1, e.what());
            all_valid = false;
        }
    }
    return all_valid ? 0 : 1;
}

int run(std::span<const std::string> args) {
    ncp::arch::synthetic_options options;
    std::string out;
    bool scoring = false;
    bool drawing_option = false;  // --records or --noise, which only --out uses
    std::vector<std::string> codes;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--help" || args[i] == "-h") {
            std::fputs(usage, stdout);
            return 0;
        }
        if (args[i] == "--out") {
            out = ncp::cli::option_value(args, i);
            if (out.empty()) throw ncp::usage_error("--out needs a file name");
            ++i;
        } else if (args[i] == "--records") {
            options.records = number_option<std::size_t>(args, i++);
            drawing_option = true;
        } else if (args[i] == "--seed") {
            options.seed = number_option<std::uint64_t>(args, i++);
        } else if (args[i] == "--noise") {
            options.noise = number_option<double>(args, i++);
            drawing_option = true;
        } else if (args[i] == "--score") {
            scoring = true;
        } else if (args[i].starts_with("--")) {
            throw ncp::usage_error("unknown option " + args[i] + " (see ncp synth --help)");
        } else if (scoring) {
            codes.push_back(args[i]);
        } else {
            throw ncp::usage_error("unexpected argument '" + args[i] + "' (codes follow --score)");
        }
    }
    if (scoring) {
        if (!out.empty() || drawing_option)
            throw ncp::usage_error("--score takes codes and --seed only (not --out, --records, --noise)");
        if (codes.empty()) throw ncp::usage_error("--score needs at least one code");
        return score(codes, options);
    }
    if (out.empty()) throw ncp::usage_error("missing --out FILE.bin (see ncp synth --help)");
    try {
        ncp::arch::validate(options);
    } catch (const ncp::error& e) {
        throw ncp::usage_error(e.what());
    }
    return generate(out, options);
}

const ncp::cli::registration registered("synth", "write a synthetic benchmark with a known best code; score codes",
                                        run);

}  // namespace

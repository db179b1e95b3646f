/// `ncp synth`: the written file, the summary, scoring codes, and bad arguments.

#include <doctest/doctest.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "ncp/arch/synthetic.hpp"
#include "ncp/data/format.hpp"
#include "ncp/io/benchmark_writer.hpp"
#include "programs/run.hpp"
#include "test_support.hpp"

using ncp::test::read_file;
using ncp::test::contains;

namespace arch = ncp::arch;

namespace {

constexpr const char* all64 = "64_64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64";

std::string encoded(const ncp::data::benchmark& b) {
    const auto bytes = ncp::io::encode_benchmark(b);
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

/// `"key":value` as the one-line JSON summary writes it.
std::string member(const std::string& key, const std::string& value) { return "\"" + key + "\":" + value; }

/// The shortest form of `v` that reads back as `v`, as the JSON writer prints numbers.
std::string shortest(double v) {
    char buffer[32];
    return std::string(buffer, std::to_chars(buffer, buffer + sizeof buffer, v).ptr);
}

std::string fixed6(double v) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.6f", v);
    return buffer;
}

}  // namespace

TEST_CASE("ncp synth --out writes the library's benchmark, byte for byte, and summarises it") {
    const ncp::test::scratch_dir dir("synth");
    const auto file = dir / "nested" / "synthetic" / "trainval.bin";  // missing folders are created
    const auto r = ncp::test::run_cli({"synth", "--out", file.string()});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    CHECK(r.err.empty());
    CHECK(read_file(file) == encoded(arch::make_synthetic()));
    const arch::code best = arch::synthetic_best_code();
    const arch::cost cost = arch::count(best);
    CHECK(r.out.starts_with("{" + member("file", "\"" + file.string() + "\"") + "," +
                            member("setting", "\"synthetic\"") + "," + member("records", "2507") + "," +
                            member("seed", "233") + "," + member("noise", "0.5") + "," +
                            member("best_code", "\"" + arch::to_string(best) + "\"") + "," +
                            member("best_mIoU_true", "80") + ","));
    CHECK(contains(r.out, member("best_flops_g", shortest(cost.flops_g()))));
    CHECK(contains(r.out, member("best_params_m", shortest(cost.params_m()))));
    CHECK(r.out.ends_with("}\n"));
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);

    // The best records it names are the best ones of the file.
    const auto b = ncp::data::load_benchmark(file);
    const arch::synthetic_landscape l(233);
    std::size_t top_true = 0;
    std::size_t top_observed = 0;
    for (std::size_t row = 0; row < b.size(); ++row) {
        const auto c = arch::exact_code(std::span<const double>(&b.codes(row, 0), 27));
        const auto top = arch::exact_code(std::span<const double>(&b.codes(top_true, 0), 27));
        if (l.score(c) > l.score(top)) top_true = row;
        if (b.metrics(row, 0) > b.metrics(top_observed, 0)) top_observed = row;
    }
    CHECK(contains(r.out, member("top_true_record", std::to_string(top_true))));
    CHECK(contains(r.out, member("top_observed_record", std::to_string(top_observed))));

    // Same arguments, same bytes; --records, --seed and --noise reach the library.
    const auto again = dir / "again.bin";
    REQUIRE(ncp::test::run_cli({"synth", "--out", again.string()}).status == 0);
    CHECK(read_file(again) == read_file(file));
    const auto small = dir / "small.bin";
    const auto s = ncp::test::run_cli({"synth", "--records", "60", "--seed", "7", "--noise", "0.25", "--out",
                                       small.string()});
    REQUIRE_MESSAGE(s.status == 0, s.err);
    CHECK(read_file(small) == encoded(arch::make_synthetic({.records = 60, .seed = 7, .noise = 0.25})));
    CHECK(contains(s.out, member("best_code", "\"" + arch::to_string(arch::synthetic_best_code({.seed = 7})) + "\"")));
}

TEST_CASE("ncp synth --score prints the true mIoU, FLOPs and params of each code") {
    const std::string best = arch::to_string(arch::synthetic_best_code());
    auto r = ncp::test::run_cli({"synth", "--score", best, all64});
    CHECK(r.status == 0);
    CHECK(r.out == "code,mIoU_true,flops_g,params_m\n" + best + ",80.000000," +
                       ncp::arch::fixed_string(arch::count(arch::parse_code(best)).flops, 9) + "," +
                       ncp::arch::fixed_string(arch::count(arch::parse_code(best)).params, 6) + "\n" + all64 + "," +
                       fixed6(arch::synthetic_score(arch::parse_code(all64))) + ",1.959638194,4.128754\n");
    // Another seed is another landscape; invalid codes are named by argument and the others still scored.
    r = ncp::test::run_cli({"synth", "--seed", "7", "--score", all64, "64_64-bad"});
    CHECK(r.status == 1);
    CHECK(r.out == std::string("code,mIoU_true,flops_g,params_m\n") + all64 + "," +
                       fixed6(arch::synthetic_score(arch::parse_code(all64), {.seed = 7})) + ",1.959638194,4.128754\n");
    CHECK(contains(r.err, "ncp synth: argument 2: invalid code string \"64_64-bad\""));
}

TEST_CASE("ncp synth: usage errors exit 2, unwritable outputs exit 1 and leave nothing") {
    const auto usage = [](std::initializer_list<std::string> args, const std::string& message) {
        const auto r = ncp::test::run_cli(std::vector<std::string>(args));
        CHECK(r.status == 2);
        CHECK_MESSAGE(contains(r.err, message), r.err);
        CHECK(r.out.empty());
    };
    usage({"synth"}, "missing --out");
    usage({"synth", "--records", "10"}, "missing --out");
    usage({"synth", "--out"}, "--out needs a value");
    usage({"synth", "--out", "x.bin", "--records", "-5"}, "--records -5: not a non-negative integer");
    usage({"synth", "--out", "x.bin", "--records", "12abc"}, "--records 12abc: not a non-negative integer");
    usage({"synth", "--out", "x.bin", "--records", "0"}, "records = 0: expected 1..1000000");
    usage({"synth", "--out", "x.bin", "--seed", "-1"}, "--seed -1: not a non-negative integer");
    usage({"synth", "--out", "x.bin", "--noise", "-0.5"}, "--noise -0.5: not a number >= 0");
    usage({"synth", "--out", "x.bin", "--noise", "nan"}, "noise");
    usage({"synth", "--out", "x.bin", "--frobnicate"}, "unknown option --frobnicate");
    usage({"synth", "--out", "x.bin", all64}, "codes follow --score");
    usage({"synth", "--score"}, "--score needs at least one code");
    usage({"synth", "--score", all64, "--out", "x.bin"}, "--score takes codes and --seed only");
    CHECK(!std::filesystem::exists("x.bin"));

    const ncp::test::scratch_dir dir("synth");
    std::ofstream(dir / "plain") << "a file, not a folder\n";
    const auto target = dir / "plain" / "out.bin";
    const auto r = ncp::test::run_cli({"synth", "--records", "5", "--out", target.string()});
    CHECK(r.status == 1);
    CHECK(r.err == "ncp synth: " + (dir / "plain").string() + ": cannot create the output folder (" +
                       (dir / "plain").string() + " is not a folder)\n");
    CHECK(r.out.empty());
    CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), {}) == 1);
}

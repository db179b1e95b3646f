/// `ncp flops` and `ncp describe`: output format, error reporting, exit codes.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "ncp/data/format.hpp"
#include "ncp/io/benchmark_writer.hpp"
#include "programs/run.hpp"
#include "test_support.hpp"

using ncp::test::contains;

namespace {

constexpr const char* all64 = "64_64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64";
constexpr const char* all64_ints = "64,64,2,2,64,2,2,2,64,64,2,2,2,2,64,64,64,2,2,2,2,2,64,64,64,64,64";
constexpr const char* first_record =
    "128_128-2_1_4_128-2_2_4_4_128_128-2_3_4_4_4_128_128_128-2_4_4_4_4_4_128_128_128_128-128";

/// A scratch folder holding codes.txt with `content`.
struct codes_file {
    ncp::test::scratch_dir dir{"flops"};
    std::filesystem::path path = dir / "codes.txt";
    explicit codes_file(const std::string& content) { std::ofstream(path) << content; }
};

}  // namespace

TEST_CASE("ncp flops prints the CSV header and one row per code, in the string form, 9 and 6 decimals") {
    const auto r = ncp::test::run_cli({"flops", first_record, all64_ints});
    CHECK(r.status == 0);
    CHECK(r.out == std::string("code,flops_g,params_m\n") + first_record + ",13.727426866,28.290994\n" + all64 +
                       ",1.959638194,4.128754\n");
    CHECK(r.err.empty());
}

TEST_CASE("ncp flops takes the convention from --input, --head and --classes, and states it only when verbose") {
    auto r = ncp::test::run_cli({"flops", "--head", "seg", "--classes", "19", all64});
    CHECK(r.status == 0);
    CHECK(r.out == std::string("code,flops_g,params_m\n") + all64 + ",1.977543680,4.126739\n");
    r = ncp::test::run_cli({"flops", "--verbose", "--input", "256", all64});
    CHECK(r.status == 0);
    CHECK(r.out.starts_with("code,flops_g,params_m\n"));
    CHECK(contains(r.err, "input 256, head cls, classes 50"));
}

TEST_CASE("ncp flops --codes skips blank lines and comments and names the line of each invalid code") {
    const codes_file f(std::string("# two codes and two mistakes\n") + all64 + "\n\n64_64-bad\n  " + first_record +
                      "  \r\n" + "64,64,2,2,64,2,2,2,64,64,2,2,2,2,64,64,64,2,2,2,2,2,64,64,64,64,12\n");
    const auto r = ncp::test::run_cli({"flops", "--codes", f.path.string()});
    CHECK(r.status == 1);
    CHECK(r.out == std::string("code,flops_g,params_m\n") + all64 + ",1.959638194,4.128754\n" + first_record +
                       ",13.727426866,28.290994\n");
    CHECK(contains(r.err, f.path.string() + " line 4: invalid code string \"64_64-bad\""));
    CHECK(contains(r.err, f.path.string() + " line 6: invalid code"));
    CHECK(contains(r.err, "code[26] = 12"));
    CHECK(!contains(r.err, "line 2:"));
}

TEST_CASE("ncp flops --codes - reads standard input; invalid arguments are named by position") {
    auto r = ncp::test::run_cli({"flops", "--codes", "-"}, std::string(all64) + "\n");
    CHECK(r.status == 0);
    CHECK(r.out == std::string("code,flops_g,params_m\n") + all64 + ",1.959638194,4.128754\n");
    r = ncp::test::run_cli({"flops", all64, "1,2,3"});
    CHECK(r.status == 1);
    CHECK(r.out == std::string("code,flops_g,params_m\n") + all64 + ",1.959638194,4.128754\n");
    CHECK(contains(r.err, "argument 2: invalid code \"1,2,3\""));
}

TEST_CASE("ncp flops: usage errors exit 2, unreadable files exit 1") {
    CHECK(ncp::test::run_cli({"flops"}).status == 2);
    CHECK(ncp::test::run_cli({"flops", "--codes", "x.txt", all64}).status == 2);
    CHECK(ncp::test::run_cli({"flops", "--frobnicate", all64}).status == 2);
    CHECK(ncp::test::run_cli({"flops", "--codes"}).status == 2);
    auto r = ncp::test::run_cli({"flops", "--input", "100", all64});
    CHECK(r.status == 2);
    CHECK(contains(r.err, "--input 100: input side 100 is not a multiple of 32"));
    r = ncp::test::run_cli({"flops", "--classes", "many", all64});
    CHECK(r.status == 2);
    CHECK(contains(r.err, "--classes many: not an integer"));
    CHECK(ncp::test::run_cli({"flops", "--head", "det", all64}).status == 2);
    r = ncp::test::run_cli({"flops", "--codes", "/nonexistent/codes.txt"});
    CHECK(r.status == 1);
    CHECK(contains(r.err, "cannot open /nonexistent/codes.txt"));
}

TEST_CASE("ncp describe prints the block table, or the JSON setting") {
    auto r = ncp::test::run_cli({"describe", all64});
    CHECK(r.status == 0);
    CHECK(r.out.starts_with("block "));
    CHECK(contains(r.out, "\n  module 7 "));
    CHECK(r.out.ends_with("total: 1.959638194 G FLOPs, 4.128754 M params (input 128, head cls, classes 50)\n"));
    r = ncp::test::run_cli({"describe", "--json", "--head", "seg", "--classes", "19", all64_ints});
    CHECK(r.status == 0);
    CHECK(contains(r.out, "\"network_setting\": [[1, [2], [64]],"));
    CHECK(contains(r.out, "\"flops_g\": 1.977543680,"));
    r = ncp::test::run_cli({"describe", "64_64"});
    CHECK(r.status == 1);
    CHECK(contains(r.err, "ncp describe: invalid code string \"64_64\""));
    CHECK(ncp::test::run_cli({"describe"}).status == 2);
    CHECK(ncp::test::run_cli({"describe", all64, all64}).status == 2);
}

TEST_CASE("ncp flops --data counts every record; --compare adds the stored values and the differences") {
    const ncp::test::scratch_dir dir("flops-data");
    ncp::data::benchmark b;
    b.setting = "tiny";
    b.metric_names = {"top1", "flops", "params"};
    b.codes = xt::xtensor<double, 2>({3, 27});
    const std::vector<std::vector<double>> rows = {
        {64, 64, 2, 2, 64, 2, 2, 2, 64, 64, 2, 2, 2, 2, 64, 64, 64, 2, 2, 2, 2, 2, 64, 64, 64, 64, 64},
        {64, 64, 2, 2, 64, 2, 2, 2, 64, 64, 2, 2, 2, 2, 64, 64, 64, 2, 2, 2, 2, 2, 64, 64, 64, 64, 65},
        {64, 64, 2, 2, 64, 2, 2, 2, 64, 64, 2, 2, 2, 2, 64, 64, 64, 2, 2, 2, 2, 2, 64, 64, 64, 64, 64}};
    for (std::size_t r = 0; r < 3; ++r)
        for (std::size_t i = 0; i < 27; ++i) b.codes(r, i) = rows[r][i];
    b.metrics = {{70.0, 1.959638194, 4.128754}, {70.0, 1.0, 1.0}, {70.0, 1.959638190, 4.128755}};
    const auto path = dir / "tiny.bin";
    ncp::io::write_benchmark(path, b);

    // A file of other codes (NAS-Bench-201's 30 values) is one error line, not one a record.
    ncp::data::benchmark cells = b;
    cells.codes = xt::zeros<double>({3, 30});
    ncp::io::write_benchmark(dir / "cells.bin", cells);
    auto r = ncp::test::run_cli({"flops", "--data", (dir / "cells.bin").string()});
    CHECK(r.status == 1);
    CHECK(r.out.empty());
    CHECK(r.err == "ncp flops: " + (dir / "cells.bin").string() +
                       ": codes of 30 values; ncp flops counts NAS-Bench-MR codes of 27 (NAS-Bench-201 cells have no "
                       "counted costs)\n");

    r = ncp::test::run_cli({"flops", "--data", path.string()});
    CHECK(r.status == 1);
    CHECK(r.out == std::string("code,flops_g,params_m\n") + all64 + ",1.959638194,4.128754\n" + all64 +
                       ",1.959638194,4.128754\n");
    CHECK(contains(r.err, path.string() + " record 1: invalid code: code[26] = 65"));

    r = ncp::test::run_cli({"flops", "--data", path.string(), "--compare"});
    CHECK(r.status == 1);
    CHECK(r.out == std::string("code,flops_g,params_m,stored_flops_g,stored_params_m,diff_flops_g,diff_params_m\n") +
                       all64 + ",1.959638194,4.128754,1.959638194,4.128754,0.000000000,0.000000\n" + all64 +
                       ",1.959638194,4.128754,1.959638190,4.128755,0.000000004,-0.000001\n");

    CHECK(ncp::test::run_cli({"flops", "--compare", all64}).status == 2);
    CHECK(ncp::test::run_cli({"flops", "--data", path.string(), all64}).status == 2);
    r = ncp::test::run_cli({"flops", "--data", (dir / "missing.bin").string()});
    CHECK(r.status == 1);
    CHECK(r.out.empty());
    CHECK(contains(r.err, "missing.bin"));
}

TEST_CASE("ncp flops --data --compare on the benchmark: no differences") {
    const auto bin = ncp::test::converted("seg");
    if (!bin) return;
    const auto r = ncp::test::run_cli({"flops", "--data", bin->string(), "--compare"});
    CHECK(r.status == 0);
    std::size_t rows = 0;
    std::size_t start = r.out.find('\n') + 1;
    while (start < r.out.size()) {
        const std::size_t end = r.out.find('\n', start);
        CHECK(r.out.substr(start, end - start).ends_with(",0.000000000,0.000000"));
        ++rows;
        start = end + 1;
    }
    CHECK(rows == 2507);
}

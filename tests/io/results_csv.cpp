/// Results files of the closed loop (KNOWN.csv, RESULTS.csv): the header, codes in every form, values, quoting,
/// the errors naming file and line, and `append_results` (ncp tell): columns in any order, atomic, all-or-nothing.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "ncp/io/results_csv.hpp"
#include "test_support.hpp"

using ncp::test::contains;
using ncp::test::error_of;
using ncp::test::read_file;

namespace fs = std::filesystem;

namespace {

const std::string all64 = "64_64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64";
const std::string all64_ints = "64,64,2,2,64,2,2,2,64,64,2,2,2,2,64,64,64,2,2,2,2,2,64,64,64,64,64";
const std::string small = "8_8-1_1_1_8-1_2_1_1_8_8-1_3_1_1_1_8_8_8-1_4_1_1_1_1_8_8_8_8-8";
const std::string cell = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|";

void write(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

}  // namespace

TEST_CASE("a results file: header in any order, codes in either form, quoted fields, blank lines") {
    const ncp::test::scratch_dir dir("results-read");
    write(dir / "k.csv", "mIoU,code,flops\r\n75.5,\"" + all64 + "\",1.96\n\n\"77,0\",\"" + small + "\",0.1\n");
    // "77,0" is not a number: the quotes keep the comma inside the field
    CHECK(error_of([&] { ncp::io::read_results(dir / "k.csv"); }) ==
          (dir / "k.csv").string() + " line 4: mIoU is not a finite number (\"77,0\")");
    write(dir / "k.csv", "mIoU,code,flops\r\n75.5,\"" + all64 + "\",1.96\n\n 77 ,"
                         "\"[64, 8,1,1,8,1,1,1,8,8,1,1,1,1,8,8,8,1,1,1,1,1,8,8,8,8,8]\",0.1\n");
    const auto t = ncp::io::read_results(dir / "k.csv");
    CHECK(t.header);
    CHECK(t.columns == std::vector<std::string>{"mIoU", "flops"});
    REQUIRE(t.size() == 2);
    CHECK(t.code_text[0] == all64);
    CHECK(t.code_text[1] == "64_8-1_1_1_8-1_2_1_1_8_8-1_3_1_1_1_8_8_8-1_4_1_1_1_1_8_8_8_8-8");
    CHECK(t.values[1] == std::vector<double>{77, 0.1});
    CHECK(t.lines == std::vector<std::size_t>{2, 4});
    CHECK(t.codes[0].size() == 27);
    CHECK(t.column("flops", "k.csv") == 1);
    CHECK(error_of([&] { t.column("params", "k.csv"); }) ==
          "k.csv: no column 'params' (the header has: code, mIoU, flops)");
    CHECK(ncp::io::results_csv(t) == "code,mIoU,flops\n" + all64 + ",75.5,1.96\n" +
                                         "64_8-1_1_1_8-1_2_1_1_8_8-1_3_1_1_1_8_8_8-1_4_1_1_1_1_8_8_8_8-8,77,0.1\n");
}

TEST_CASE("NAS-Bench-201 cells as strings or one-hot values; a missing or header-only file is empty where allowed") {
    const ncp::test::scratch_dir dir("results-nb201");
    write(dir / "k.csv", "code,Acc\n" + cell + ",45.5\n");
    const auto t = ncp::io::read_results(dir / "k.csv");
    REQUIRE(t.size() == 1);
    CHECK(t.codes[0].size() == 30);
    CHECK(t.code_text[0] == cell);
    CHECK(ncp::io::read_results(dir / "none.csv", 0, true).size() == 0);
    CHECK_FALSE(ncp::io::read_results(dir / "none.csv", 0, true).header);
    CHECK(error_of([&] { ncp::io::read_results(dir / "none.csv"); }) == (dir / "none.csv").string() + ": no such file");
    write(dir / "h.csv", "code,Acc\n");
    CHECK(ncp::io::read_results(dir / "h.csv", 0, true).header);
    CHECK(ncp::io::read_results(dir / "h.csv").size() == 0);
    // A folder is not a missing file (nothing known), even where one is allowed.
    fs::create_directory(dir / "folder.csv");
    CHECK(error_of([&] { ncp::io::read_results(dir / "folder.csv", 0, true); }) ==
          (dir / "folder.csv").string() + ": is a folder, not a CSV file");
}

TEST_CASE("bad results files: every error names the file and the line") {
    const ncp::test::scratch_dir dir("results-bad");
    const auto f = dir / "bad.csv";
    const std::string name = f.string();
    auto error_for = [&](const std::string& text, ncp::index_t dim = 0) {
        write(f, text);
        return error_of([&] { ncp::io::read_results(f, dim); });
    };
    CHECK(error_for("") == name + ": empty (expected a header code,<metric>,...)");
    CHECK(error_for("arch,mIoU\n") == name + " line 1: the header has no 'code' column (expected code,<metric>,...)");
    CHECK(error_for("code,mIoU,mIoU\n") == name + " line 1: column 'mIoU' appears twice");
    CHECK(error_for("code,,x\n") == name + " line 1: the header has an empty column name");
    CHECK(error_for("code,mIoU\n" + all64 + "\n") == name + " line 2: 1 fields, the header has 2");
    CHECK(error_for("code,mIoU\n" + all64 + ",\n") == name + " line 2: mIoU is missing");
    CHECK(error_for("code,mIoU\n" + all64 + ",nan\n") == name + " line 2: mIoU is not a finite number (\"nan\")");
    CHECK(error_for("code,mIoU\n" + all64 + ",1e999\n") == name + " line 2: mIoU is not a finite number (\"1e999\")");
    CHECK(contains(error_for("code,mIoU\n64_64-2_1_2,1\n"), name + " line 2: invalid code string"));
    CHECK(error_for("code,mIoU\n" + all64 + ",1\n\"" + all64_ints + "\",2\n") ==
          name + " line 3: code " + all64 + " is also on line 2");
    CHECK(contains(error_for("code,Acc\n" + all64 + ",1\n", 30), name + " line 2: "));
    CHECK(contains(error_for("code,mIoU\n" + all64 + ",1\n" + cell + ",2\n"), name + " line 3: "));
    CHECK(error_for("code,mIoU\n\"" + all64 + ",1\n") == name + " line 2: a quote is not closed");
    CHECK(error_for("code,mIoU\n\"" + all64 + "\"x,1\n") == name + " line 2: text after a closing quote");
}

TEST_CASE("append_results (ncp tell): creates, reorders columns, and writes nothing on any error") {
    const ncp::test::scratch_dir dir("results-append");
    const auto known = dir / "known.csv", results = dir / "results.csv";
    write(results, "flops,code,mIoU\n1.96," + all64 + ",75.5\n");
    CHECK(ncp::io::append_results(known, results) == 1);  // created with the results' columns
    CHECK(read_file(known) == "code,flops,mIoU\n" + all64 + ",1.96,75.5\n");
    write(results, "mIoU,code,flops\n70.25,\"" + small + "\",0.08\n");
    CHECK(ncp::io::append_results(known, results) == 1);
    CHECK(read_file(known) == "code,flops,mIoU\n" + all64 + ",1.96,75.5\n" + small + ",0.08,70.25\n");

    const std::string before = read_file(known);
    write(results, "code,mIoU,flops\n\"" + all64_ints + "\",1,2\n");
    CHECK(error_of([&] { ncp::io::append_results(known, results); }) ==
          results.string() + " line 2: code " + all64 + " is already known (" + known.string() + " line 2)");
    write(results, "code,mIoU\n" + all64 + ",1\n");
    CHECK(error_of([&] { ncp::io::append_results(known, results); }) ==
          results.string() + ": no column 'flops' (the header has: code, mIoU)");
    write(results, "code,mIoU,flops,params\n" + all64 + ",1,2,3\n");
    CHECK(error_of([&] { ncp::io::append_results(known, results); }) ==
          results.string() + ": column 'params' is not one of " + known.string() + "'s");
    write(results, "code,mIoU,flops\n" + cell + ",1,2\n");
    CHECK(contains(error_of([&] { ncp::io::append_results(known, results); }), results.string() + " line 2: "));
    write(results, "code,mIoU,flops\n9_9,1,2\n");
    CHECK(contains(error_of([&] { ncp::io::append_results(known, results); }), results.string() + " line 2: "));
    CHECK(error_of([&] { ncp::io::append_results(known, dir / "missing.csv"); }) ==
          (dir / "missing.csv").string() + ": no such file");
    CHECK(read_file(known) == before);
    for (const auto& e : fs::directory_iterator(dir.path()))  // no temporary file left behind
        CHECK((e.path() == known || e.path() == results));
}

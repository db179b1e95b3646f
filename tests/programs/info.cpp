/// `ncp info`: the JSON summary of benchmark files, and its errors.

#include <doctest/doctest.h>

#include <algorithm>
#include <charconv>
#include <string>
#include <vector>

#include "ncp/data/format.hpp"
#include "ncp/io/benchmark_writer.hpp"
#include "programs/run.hpp"

namespace {

std::string number(double x) {
    char buf[32];
    return std::string(buf, std::to_chars(buf, buf + sizeof buf, x).ptr);
}

// Checks the summary of `file` against the file's contents as the library loads them.
void check_summary(const std::filesystem::path& file, std::size_t records, const std::vector<std::string>& names) {
    const auto r = ncp::test::run_cli({"info", file.string()});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    const auto b = ncp::data::load_benchmark(file);
    std::string quoted;
    for (char c : b.setting) quoted += c == '"' ? std::string("\\\"") : std::string(1, c);
    CHECK(r.out.find("\"setting\": \"" + quoted + "\",\n") != std::string::npos);
    CHECK(r.out.find("\"records\": " + std::to_string(records) + ",\n") != std::string::npos);
    CHECK(r.out.find("\"code_dim\": " + std::to_string(b.code_dim()) + ",\n") != std::string::npos);
    std::size_t at = 0;
    for (const auto& name : names) {
        const auto column = b.metric(name);
        const auto expected = "\"name\": \"" + name + "\",\n      \"min\": " +
                              number(*std::min_element(column.begin(), column.end())) + ",\n      \"max\": " +
                              number(*std::max_element(column.begin(), column.end())) + "\n";
        const auto found = r.out.find(expected, at);
        CHECK_MESSAGE(found != std::string::npos, expected << " in\n" << r.out);
        at = found == std::string::npos ? at : found;
    }
    CHECK(std::count(r.out.begin(), r.out.end(), '{') == static_cast<std::ptrdiff_t>(names.size() + 1));
}

}  // namespace

TEST_CASE("ncp info summarises a benchmark file") {
    const ncp::test::scratch_dir dir("info");
    ncp::data::benchmark b{"toy \"quoted\"", {"acc", "flops"}, {{8.0, 16.0}, {24.0, 32.0}, {8.0, 8.0}},
                           {{70.5, 1.25}, {-3.0, 2.0}, {71.0, 0.5}}};
    ncp::io::write_benchmark(dir / "toy.bin", b);
    check_summary(dir / "toy.bin", 3, {"acc", "flops"});
    const auto r = ncp::test::run_cli({"info", (dir / "toy.bin").string(), "--compact"});
    CHECK(r.out.find(R"("setting":"toy \"quoted\"","records":3,"code_dim":2,"metrics":[{"name":"acc","min":-3,)"
                     R"("max":71},{"name":"flops","min":0.5,"max":2}]})") != std::string::npos);
}

TEST_CASE("ncp info on every NAS-Bench-MR setting") {
    const std::vector<std::string> seg{"mIoU", "mAcc", "aAcc", "flops", "params"};
    const std::vector<std::string> cls{"top1", "top5", "flops", "params"};
    for (const auto& entry : std::vector<std::pair<std::string, std::vector<std::string>>>{
             {"seg", seg}, {"seg-4x", seg}, {"cls-10c", cls}, {"cls-50-100", cls}, {"cls-50-1000", cls},
             {"cls-10-1000", cls}, {"video", cls}, {"video-p", cls}, {"nas-bench-201", {"Acc", "Flops", "Params"}}}) {
        const auto& [setting, names] = entry;
        const auto file = ncp::test::converted(setting);
        if (!file) return;
        INFO(entry.first);
        check_summary(*file, setting == "nas-bench-201" ? 15625 : 2507, names);
    }
}

TEST_CASE("ncp info errors: usage (exit 2), unreadable files (exit 1, naming the file)") {
    CHECK(ncp::test::run_cli({"info"}).status == 2);
    CHECK(ncp::test::run_cli({"info", "a.bin", "b.bin"}).status == 2);
    CHECK(ncp::test::run_cli({"info", "--pretty"}).status == 2);
    const ncp::test::scratch_dir dir("info");
    auto r = ncp::test::run_cli({"info", (dir / "absent.bin").string()});
    CHECK(r.status == 1);
    CHECK(r.err.starts_with("ncp info: " + (dir / "absent.bin").string() + ": cannot open"));
    std::ofstream(dir / "junk.bin") << "junk, not a benchmark\n";
    r = ncp::test::run_cli({"info", (dir / "junk.bin").string()});
    CHECK(r.status == 1);
    CHECK(r.err.find("junk.bin: not an ncp benchmark file") != std::string::npos);
    CHECK(r.out.empty());
}

/// `ncp search` as a library call on models already read (what the Python package calls): the same ncp.json as
/// from checkpoint files, nothing written unless asked, start codes given as text, and the errors.

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "ncp/arch/synthetic.hpp"
#include "ncp/io/benchmark_writer.hpp"
#include "ncp/search/program.hpp"
#include "test_support.hpp"

using namespace ncp;
using ncp::test::contains;
using ncp::test::read_file;

TEST_CASE("run_search on loaded models: ncp.json as text, written only when asked, given starts") {
    const test::scratch_dir dir("search-program");
    io::write_benchmark(dir / "seg.bin", arch::make_synthetic({.records = 300, .seed = 4}));
    const auto cfg = io::load_config(test::source_dir() / "configs/seg.yaml",
                                     std::vector<std::pair<std::string, std::string>>{
                                         {"data.path", (dir / "seg.bin").string()},
                                         {"optimization.epoch", "2"},
                                         {"log_dir", dir.path().string()},
                                         {"editing.starts", "3"},
                                         {"editing.iters", "5"}});
    const auto trained = train::train_predictor(cfg, train::load_data(cfg));
    io::save_checkpoint(dir / "best.ckpt", trained.best);

    // From the file, written; from the record, not written: the same ncp.json.
    const auto from_file = search::run_search(cfg, {search::model_arg{"", dir / "best.ckpt"}});
    const std::string written = read_file(dir / "seg" / "ncp.json");
    CHECK(from_file.json == written);
    CHECK(contains(from_file.text, "outputs: "));
    std::filesystem::remove_all(dir / "seg");
    const auto held = search::run_search(cfg, {{"", trained.best, "trained"}}, {.write = false});
    CHECK(held.json == written);
    CHECK(!contains(held.text, "outputs: "));
    CHECK(!std::filesystem::exists(dir / "seg"));
    CHECK(held.directory == dir / "seg");

    // Start codes as text replace the config's; they equal the same codes from editing.start_file.
    const std::string a = "64_64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64";
    const std::string b = "32_32-2_1_2_32-2_2_2_2_32_32-2_3_2_2_2_32_32_32-2_4_2_2_2_2_32_32_32_32-32";
    auto listed = cfg;
    listed.editing.start_file = (dir / "starts.txt").string();
    io::atomic_write(dir / "starts.txt", a + "\n" + b + "\n");
    const auto given = search::run_search(cfg, {{"", trained.best, "trained"}}, {.starts = {a, b}, .write = false});
    CHECK(given.json == search::run_search(listed, {{"", trained.best, "trained"}}, {.write = false}).json);
    CHECK(contains(given.json, "\"starts\":2,"));

    CHECK_THROWS_WITH_AS(search::run_search(cfg, {{"", trained.best, "trained"}}, {.starts = {a, "64_64"}}),
                         doctest::Contains("starts[1]: invalid code"), error);
    CHECK_THROWS_WITH_AS(search::run_search(cfg, std::vector<search::model_input>{}),
                         "a search needs at least one model", error);
    CHECK_THROWS_WITH_AS(search::run_search(cfg, {{"", trained.best, "trained"}}, {.weights = {{"cls", 2.0}}}),
                         doctest::Contains("unknown task name 'cls'"), error);
    CHECK_THROWS_WITH_AS(search::run_search(cfg, {{"", trained.best, "trained"}},
                                            {.weights = {{"synthetic", 2.0}, {"synthetic", 3.0}}}),
                         "--weights: task 'synthetic' is weighted twice", error);
}

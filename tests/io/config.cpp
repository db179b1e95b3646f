/// The YAML run configuration: the shipped configs, overrides, round trips and every kind of bad input.

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "ncp/io/config.hpp"
#include "test_support.hpp"

using ncp::test::error_of;

namespace {

namespace fs = std::filesystem;
using overrides = std::vector<std::pair<std::string, std::string>>;

fs::path write_temp(const std::string& name, const std::string& text) {
    const fs::path p = fs::temp_directory_path() / ("ncp-config-" + std::to_string(::getpid()) + "-" + name);
    std::ofstream(p) << text;
    return p;
}

}  // namespace

TEST_CASE("the shipped configs load with the original's defaults") {
    const auto dir = ncp::test::source_dir() / "configs";
    const auto seg = ncp::io::load_config(dir / "seg.yaml");
    CHECK(seg.data.dataset == "seg");
    CHECK(seg.data.metrics == std::vector<std::vector<std::string>>{{"mIoU"}, {"mAcc", "aAcc"}, {"flops", "params"}});
    CHECK(seg.network.activation == "swish");
    CHECK(seg.network.input_dim == 0);
    CHECK(seg.optimization.epoch == 200);
    CHECK(seg.optimization.adam_param.lr == doctest::Approx(1e-2));
    CHECK(seg.optimization.onecycle_scheduler.final_div_factor == doctest::Approx(1e4));
    CHECK(seg.optimization.step_milestones == std::vector<int>{30, 60, 90});
    CHECK(seg.seed == 233);
    CHECK(seg.editing.iters == 70);
    CHECK(seg.editing.use_flops);
    CHECK_FALSE(seg.editing.known_results);  // ncp's selection keys default to the original's behaviour
    CHECK_FALSE(seg.editing.guard);

    // NAS-Bench-201's trust region: the 10 best known cells, 5 steps, the guard, known results (README)
    const auto nb = ncp::io::load_config(dir / "nb201.yaml");
    CHECK(nb.editing.iters == 5);
    CHECK(nb.editing.starts == 0);
    CHECK(nb.editing.start_known == 10);
    CHECK(nb.editing.guard);
    CHECK(nb.editing.known_results);
    CHECK(nb.editing.kappa == 2);

    const auto det = ncp::io::load_config(dir / "3ddet.yaml");
    CHECK(det.data.metrics.size() == 2);
    CHECK(det.network.layer2_drop_ratio == std::vector<double>{0.5, 0.0});
    CHECK(ncp::io::load_config(dir / "cls.yaml").data.dataset == "cls-50-1000");
    CHECK(ncp::io::load_config(dir / "video.yaml").data.metrics[0] == std::vector<std::string>{"top1"});
}

TEST_CASE("overrides follow the original's --section.key value syntax") {
    const auto dir = ncp::test::source_dir() / "configs";
    const overrides o{{"optimization.epoch", "50"},
                      {"log_dir", "out"},
                      {"optimization.sgd_param.nesterov", "True"},
                      {"data.metrics", "[[mIoU], [flops, params]]"},
                      {"network.layer2_drop_ratio", "[0.5, 0]"}};
    const auto cfg = ncp::io::load_config(dir / "seg.yaml", o);
    CHECK(cfg.optimization.epoch == 50);
    CHECK(cfg.log_dir == "out");
    CHECK(cfg.optimization.sgd_param.nesterov);
    CHECK(cfg.data.metrics.size() == 2);

    CHECK(error_of([&] { ncp::io::load_config(dir / "seg.yaml", overrides{{"optimization.epochs", "5"}}); })
              .find("unknown config key 'optimization.epochs'") != std::string::npos);
    CHECK(error_of([&] { ncp::io::load_config(dir / "seg.yaml", overrides{{"optimization.epoch", "many"}}); })
              .find("'optimization.epoch' expects an integer") != std::string::npos);
    CHECK(error_of([&] { ncp::io::load_config(dir / "seg.yaml", overrides{{"editing.lr", ".nan"}}); })
              .find("'editing.lr' expects a finite number") != std::string::npos);
}

TEST_CASE("to_yaml writes every key and reads back to the same config") {
    auto cfg = ncp::io::load_config(ncp::test::source_dir() / "configs" / "seg.yaml",
                                    overrides{{"optimization.adam_param.lr", "0.0123456789012345"}});
    cfg.data.path = "some dir/with \"quotes\".bin";
    const auto p = write_temp("roundtrip.yaml", ncp::io::to_yaml(cfg));
    const auto back = ncp::io::load_config(p);
    CHECK(ncp::io::to_yaml(back) == ncp::io::to_yaml(cfg));
    CHECK(back.optimization.adam_param.lr == cfg.optimization.adam_param.lr);
    CHECK(back.data.path == cfg.data.path);
    fs::remove(p);
}

TEST_CASE("bad config files are errors naming the file, the key and the line") {
    const auto unknown = write_temp("unknown.yaml", "data:\n  dataset: seg\n  metricz: [[mIoU]]\n");
    const auto msg = error_of([&] { ncp::io::load_config(unknown); });
    CHECK(msg.find(unknown.string() + ":3") != std::string::npos);
    CHECK(msg.find("unknown key 'data.metricz'") != std::string::npos);

    const auto typed = write_temp("typed.yaml", "optimization:\n  batch_size: [1, 2]\n");
    CHECK(error_of([&] { ncp::io::load_config(typed); }).find("'optimization.batch_size' expects an integer") !=
          std::string::npos);

    const auto section = write_temp("section.yaml", "optimization: 5\n");
    CHECK(error_of([&] { ncp::io::load_config(section); }).find("'optimization' must be a section") !=
          std::string::npos);

    const auto broken = write_temp("broken.yaml", "data: [unclosed\n");
    CHECK(error_of([&] { ncp::io::load_config(broken); }).find("not valid YAML") != std::string::npos);

    const auto bad_value = write_temp("value.yaml", "network:\n  activation: gelu\n");
    CHECK(error_of([&] { ncp::io::load_config(bad_value); }).find("'network.activation' must be one of") !=
          std::string::npos);

    const auto groups = write_temp("groups.yaml", "data:\n  metrics: [[mIoU], [flops]]\n");
    CHECK(error_of([&] { ncp::io::load_config(groups); }).find("'network.layer2_drop_ratio' needs one value") !=
          std::string::npos);

    CHECK(error_of([&] { ncp::io::load_config("/no/such/config.yaml"); }).find("/no/such/config.yaml") !=
          std::string::npos);

    // YAML would let the second of two equal keys win without a word.
    const auto twice = write_temp("twice.yaml", "optimization:\n  epoch: 2\n  batch_size: 64\n  epoch: 3\n");
    CHECK(error_of([&] { ncp::io::load_config(twice); }) ==
          twice.string() + ":4: key 'optimization.epoch' appears twice");
    const auto dotted = write_temp("dotted.yaml", "optimization:\n  epoch: 2\noptimization.epoch: 3\n");
    CHECK(error_of([&] { ncp::io::load_config(dotted); }) ==
          dotted.string() + ":3: key 'optimization.epoch' appears twice");
    const auto folder = unknown.parent_path();
    CHECK(error_of([&] { ncp::io::load_config(folder); }) == folder.string() + ": is a folder, not a config file");
    for (const auto& p : {unknown, typed, section, broken, bad_value, groups, twice, dotted}) fs::remove(p);
}

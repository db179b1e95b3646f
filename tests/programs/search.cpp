/// `ncp search` as a program: its files (JSON, CSV, SVG) and what they must hold, many starts, several tasks with
/// weights, ensembles, NAS-Bench-201 with a known subset, bad input of every kind, and (with NCP_DATA_DIR) the
/// trajectory of docs/algorithm.md section 6 on seg.

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ncp/arch/count.hpp"
#include "ncp/arch/nb201.hpp"
#include "ncp/arch/synthetic.hpp"
#include "ncp/export/json.hpp"
#include "ncp/export/torch.hpp"
#include "ncp/io/benchmark_writer.hpp"
#include "ncp/train/trainer.hpp"
#include "programs/run.hpp"
#include "train/synthetic.hpp"
#include "test_support.hpp"

using ncp::test::read_csv;
using ncp::test::read_file;
using ncp::test::contains;

namespace fs = std::filesystem;
using ncp::test::run_cli;

namespace {

std::size_t column(const std::vector<std::string>& header, const std::string& name) {
    for (std::size_t i = 0; i < header.size(); ++i)
        if (header[i] == name) return i;
    FAIL("no column " << name);
    return 0;
}

/// Python checks a file parses (json / xml); the test's python is Debian's.
bool python_parses(const fs::path& file, const std::string& module) {
    const std::string code = module == "json" ? "import json,sys; json.load(open(sys.argv[1]))"
                                              : "import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])";
    return ncp::test::run_command({ncp::test::python, "-c", code, file.string()}).status == 0;
}

const std::string seg_cfg = (ncp::test::source_dir() / "configs/seg.yaml").string();

/// Trains a few epochs of configs/seg.yaml on `bin`; returns the checkpoint.
fs::path train_seg(const fs::path& bin, const fs::path& log_dir, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"train", "--cfg", seg_cfg, "--data.path", bin.string(),
                                     "--optimization.epoch", "4", "--log_dir", log_dir.string(), "--threads", "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = run_cli(args);
    REQUIRE_MESSAGE(r.status == 0, r.err);
    return log_dir / "seg" / "best_model.ckpt";
}

}  // namespace

TEST_CASE("search writes ncp.json, ncp.csv, ncp.svg; every reported cost is the counter's") {
    const ncp::test::scratch_dir dir("cli-search");
    ncp::io::write_benchmark(dir / "seg.bin", ncp::arch::make_synthetic({.records = 300, .seed = 4}));
    const auto ckpt = train_seg(dir / "seg.bin", dir.path());
    // The default model is <log_dir>/<dataset>/best_model.ckpt; the data file gives stored results.
    auto r = run_cli({"search", "--cfg", seg_cfg, "--log_dir", dir.path().string(), "--data.path",
                      (dir / "seg.bin").string(), "--editing.model_path", ""});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    CHECK(contains(r.out, "1 start x 70 iterations"));
    CHECK(contains(r.out, "FLOPs/params: counted (input 128, head cls, classes 50)"));
    CHECK(contains(r.out, "selected: "));
    CHECK(contains(r.out, "gain over the start: mIoU "));
    const fs::path out = dir / "seg";
    REQUIRE(python_parses(out / "ncp.json", "json"));
    REQUIRE(python_parses(out / "ncp.svg", "xml"));
    const std::string json = read_file(out / "ncp.json");
    CHECK(contains(json, "\"costs\":\"counted (input 128, head cls, classes 50)\""));
    CHECK(contains(json, "\"selection\":"));
    CHECK(contains(json, "\"pareto\":"));
    CHECK(contains(json, "\"rounded_main\":"));

    const auto rows = read_csv(out / "ncp.csv");
    REQUIRE(rows.size() == 1 + 71);
    const auto& h = rows[0];
    CHECK(h[0] == "start");
    CHECK(h[2] == "code");
    CHECK(h[3] == "mIoU");
    CHECK(h.back() == "x26");
    const std::size_t code = column(h, "code"), flops = column(h, "flops_g"), params = column(h, "params_m");
    const std::size_t rounded = column(h, "mIoU_rounded"), truth = column(h, "true_mIoU");
    for (std::size_t i = 1; i < rows.size(); ++i) {
        REQUIRE(rows[i].size() == h.size());
        const auto c = ncp::arch::parse_code(rows[i][code]);
        const auto k = ncp::arch::count(c);
        CHECK(rows[i][flops] == ncp::arch::fixed_string(k.flops, 9));
        CHECK(rows[i][params] == ncp::arch::fixed_string(k.params, 6));
        CHECK(std::isfinite(std::stod(rows[i][rounded])));
        (void)truth;
    }
    CHECK(rows[1][code] == "64_64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64");

    // The segmentation-head convention on request, stated everywhere.
    r = run_cli({"search", "--cfg", seg_cfg, "--model", ckpt.string(), "--log_dir", dir.path().string(),
                 "--editing.convention", "segmentation", "--editing.iters", "3"});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    CHECK(contains(r.out, "head seg, classes 19"));
    CHECK(contains(r.out, "1.977543680 G FLOPs"));  // the all-64 start, docs/algorithm.md section 3
    CHECK(contains(read_file(out / "ncp.json"), "head seg, classes 19"));

    // --export DIR: the selected code's network, in the search's convention.
    r = run_cli({"search", "--cfg", seg_cfg, "--model", ckpt.string(), "--log_dir", dir.path().string(),
                 "--editing.convention", "segmentation", "--editing.iters", "3", "--export", (dir / "net").string()});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    const auto at = r.out.find("selected: ");
    REQUIRE(at != std::string::npos);
    const auto selected = ncp::arch::parse_code(r.out.substr(at + 10, r.out.find('\n', at) - at - 10));
    const ncp::arch::convention seg{128, ncp::arch::head_kind::segmentation, 19};
    CHECK(read_file(dir / "net" / "net.py") == ncp::exporting::torch_module(selected, seg));
    CHECK(read_file(dir / "net" / "net.json") == ncp::exporting::network_json(selected, seg));
    CHECK(contains(r.out, "exported: " + (dir / "net" / "net.py").string() + ", " +
                              (dir / "net" / "net.json").string() + "\n"));
}

TEST_CASE("many starts, budgets, several tasks, ensembles") {
    const ncp::test::scratch_dir dir("cli-search-multi");
    ncp::io::write_benchmark(dir / "seg.bin", ncp::arch::make_synthetic({.records = 300, .seed = 4}));
    const auto seg = train_seg(dir / "seg.bin", dir / "a");
    const auto seg2 = train_seg(dir / "seg.bin", dir / "b", {"--SEED", "7"});
    auto r = run_cli({"search", "--cfg", seg_cfg, "--model", seg.string(), "--log_dir", dir.path().string(),
                      "--editing.starts", "16", "--editing.iters", "10", "--editing.max_flops", "1.0",
                      "--editing.max_params", "2.5"});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    CHECK(contains(r.out, "16 starts x 10 iterations"));
    auto rows = read_csv(dir / "seg" / "ncp.csv");
    CHECK(rows.size() == 1 + 16 * 11);
    const std::string json = read_file(dir / "seg" / "ncp.json");
    const auto at = json.find("\"selection\":");
    REQUIRE(at != std::string::npos);
    const double f = std::stod(json.substr(json.find("\"flops_g\":", at) + 10));
    const double p = std::stod(json.substr(json.find("\"params_m\":", at) + 11));
    CHECK(f <= 1.0);
    CHECK(p <= 2.5);

    // Two tasks (the second another setting with its own metrics and statistics), weighted.
    const auto cls_bin =
        ncp::test::write_synthetic(dir / "cls.bin", "cls-50-1000", {"top1", "top5", "flops", "params"}, 300);
    r = run_cli({"train", "--cfg", (ncp::test::source_dir() / "configs/cls.yaml").string(), "--data.path",
                 cls_bin.string(), "--optimization.epoch", "3", "--log_dir", (dir / "c").string(), "--threads", "1"});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    const auto cls = dir / "c" / "cls-50-1000" / "best_model.ckpt";
    r = run_cli({"search", "--cfg", seg_cfg, "--model", "seg=" + seg.string(), "--model", "seg=" + seg2.string(),
                 "--model", cls.string(), "--weights", "seg=1,cls-50-1000=2", "--log_dir", dir.path().string(),
                 "--editing.iters", "8", "--editing.max_flops", "1.2"});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    CHECK(contains(r.out, "seg (weight 1, 2 models) cls-50-1000 (weight 2, 1 model)"));
    const fs::path both = dir / "seg+cls-50-1000";
    REQUIRE(python_parses(both / "ncp.json", "json"));
    rows = read_csv(both / "ncp.csv");
    CHECK(column(rows[0], "seg/mIoU") < column(rows[0], "cls-50-1000/top1"));
    CHECK(column(rows[0], "cls-50-1000/top1_rounded") > 0);
    const std::string j2 = read_file(both / "ncp.json");
    const auto sel = j2.find("\"selection\":");
    CHECK(std::stod(j2.substr(j2.find("\"flops_g\":", sel) + 10)) <= 1.2);
    CHECK(contains(j2.substr(sel, 2000), "\"cls-50-1000\":{\"top1\":"));
}

TEST_CASE("NAS-Bench-201: one-hot cells, a known subset, the guard, stored results of the selection") {
    const ncp::test::scratch_dir dir("cli-search-nb201");
    // Every cell, with a made-up accuracy: convolutions help, 'none' hurts, skip on edge 3 helps.
    ncp::data::benchmark b{"nas-bench-201", {"Acc", "Flops", "Params"}, xt::zeros<double>({15625, 30}),
                           xt::zeros<double>({15625, 3})};
    for (std::size_t index = 0; index < 15625; ++index) {
        ncp::arch::nb201_cell cell{};
        double acc = 30, flops = 7.79, params = 0.08;
        for (std::size_t e = 0, rest = index; e < 6; ++e, rest /= 5) {
            cell[e] = static_cast<int>(rest % 5);
            acc += cell[e] == 4 ? 2.0 : cell[e] == 3 ? 1.2 : cell[e] == 1 ? -2.5 : 0.3;
            flops += cell[e] == 4 ? 35.39 / 6 : cell[e] == 3 ? 3.93 / 6 : 0;
            params += cell[e] == 4 ? 0.2 : cell[e] == 3 ? 0.02 : 0;
        }
        if (cell[3] == 2) acc += 2;
        const auto one_hot = ncp::arch::nb201_one_hot(cell);
        for (std::size_t i = 0; i < 30; ++i) b.codes(index, i) = one_hot[i];
        b.metrics(index, 0) = acc;
        b.metrics(index, 1) = std::round(flops * 100) / 100;
        b.metrics(index, 2) = std::round(params * 1000) / 1000;
    }
    ncp::io::write_benchmark(dir / "nb.bin", b);
    const std::string cfg = (ncp::test::source_dir() / "configs/nb201.yaml").string();
    const std::vector<std::string> common = {"--cfg", cfg, "--data.path", (dir / "nb.bin").string(), "--log_dir",
                                             dir.path().string()};
    auto with = [&](std::vector<std::string> head, std::vector<std::string> tail) {
        head.insert(head.end(), common.begin(), common.end());
        head.insert(head.end(), tail.begin(), tail.end());
        return head;
    };
    auto r = run_cli(with({"train"}, {"--optimization.epoch", "20", "--threads", "1"}));
    REQUIRE_MESSAGE(r.status == 0, r.err);
    CHECK(contains(r.err, "(100 records, 30-dim codes)"));
    const auto ckpt = dir / "nas-bench-201" / "best_model.ckpt";
    fs::copy_file(ckpt, dir / "m1.ckpt");
    r = run_cli(with({"train"}, {"--optimization.epoch", "20", "--threads", "1", "--SEED", "5"}));
    REQUIRE_MESSAGE(r.status == 0, r.err);
    r = run_cli(with({"search", "--model", (dir / "m1.ckpt").string(), "--model", ckpt.string()},
                     {"--editing.starts", "32", "--editing.iters", "20"}));
    REQUIRE_MESSAGE(r.status == 0, r.err);
    CHECK(contains(r.out, "NAS-Bench-201, 42 starts x 20 iterations"));  // 32 random + the 10 best known
    CHECK(contains(r.out, "(weight 1, 2 models)"));
    CHECK(contains(r.out, "FLOPs/params: the nas-bench-201 benchmark file"));
    CHECK(contains(r.out, "stored Acc"));
    CHECK(contains(r.out, "best known record: |"));
    const std::string json = read_file(dir / "nas-bench-201" / "ncp.json");
    const auto sel = json.find("\"selection\":");
    REQUIRE(sel != std::string::npos);
    CHECK(contains(json.substr(sel, 3000), "\"true\":{\"nas-bench-201\":{\"record\":"));
    // The best known record is one of the 100 the models trained on.
    const std::vector<std::pair<std::string, std::string>> path = {{"data.path", (dir / "nb.bin").string()}};
    const ncp::io::run_config c = ncp::io::load_config(cfg, path);
    const auto known = ncp::train::training_records(c, 15625);
    const auto bk = json.find("\"best_known\":");
    REQUIRE(bk != std::string::npos);
    const auto rec = std::stoul(json.substr(json.find("\"record\":", bk) + 9));
    CHECK(std::find(known.begin(), known.end(), rec) != known.end());
    const auto rows = read_csv(dir / "nas-bench-201" / "ncp.csv");
    CHECK(rows.size() == 1 + 42 * 21);
    CHECK(rows[0].back() == "x29");
    CHECK(ncp::arch::parse_nb201(rows[1][2]) == ncp::arch::parse_nb201(rows[1][2]));

    r = run_cli(with({"search", "--model", ckpt.string()}, {"--editing.max_flops", "0.1"}));
    CHECK(r.status == 1);
    CHECK(contains(r.err, "budgets (editing.max_flops, editing.max_params) apply to NAS-Bench-MR codes"));
}

TEST_CASE("bad input: models that do not fit, starts out of bounds, unknown tasks, impossible budgets") {
    const ncp::test::scratch_dir dir("cli-search-bad");
    ncp::io::write_benchmark(dir / "seg.bin", ncp::arch::make_synthetic({.records = 300, .seed = 4}));
    const auto ckpt = train_seg(dir / "seg.bin", dir.path());
    const std::vector<std::string> base = {"search", "--cfg", seg_cfg, "--log_dir", dir.path().string(), "--model",
                                           ckpt.string(), "--editing.iters", "2"};
    auto with = [&](std::vector<std::string> extra) {
        auto a = base;
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
    };
    auto r = run_cli(with({"--data.dataset", "nas-bench-201", "--data.metrics", "[[Acc], [Flops, Params]]",
                           "--network.layer2_drop_ratio", "[0.5, 0]"}));
    CHECK(r.status == 1);
    CHECK(contains(r.err, "the model takes 27-dimensional codes, but data.dataset nas-bench-201 has 30"));
    r = run_cli(with({"--data.dataset", "nas-bench-201", "--export", (dir / "net").string()}));
    CHECK(r.status == 2);
    CHECK(contains(r.err, "--export: NAS-Bench-201 cells are not NAS-Bench-MR networks"));
    CHECK(!fs::exists(dir / "net"));
    r = run_cli(with({"--data.metrics", "[[mIoU], [flops, params]]", "--network.layer2_drop_ratio", "[0.5, 0]"}));
    CHECK(r.status == 1);
    CHECK(contains(r.err, "the model predicts [[mIoU], [mAcc, aAcc], [flops, params]], the config's data.metrics are "
                          "[[mIoU], [flops, params]]"));
    r = run_cli(with({"--editing.max_value_alpha", "2", "--editing.start",
                      "128_64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64"}));
    CHECK(r.status == 1);
    CHECK(contains(r.err, "editing.start: start code"));
    CHECK(contains(r.err, "code[0] = 128 is outside the search bounds [8, 64]"));
    r = run_cli(with({"--editing.start", "64_64-2_1_2_64"}));
    CHECK(r.status == 1);
    CHECK(contains(r.err, "editing.start: invalid code string"));
    r = run_cli(with({"--weights", "cls=2"}));
    CHECK(r.status == 1);
    CHECK(contains(r.err, "--weights: unknown task name 'cls' (the tasks are: synthetic)"));
    CHECK(run_cli(with({"--weights", "seg=-1"})).status == 2);
    r = run_cli(with({"--editing.max_flops", "0.001"}));
    CHECK(r.status == 1);
    CHECK(contains(r.err, "no architecture meets the budget"));
    r = run_cli(with({"--editing.max_flops", "-1"}));
    CHECK(r.status == 1);
    CHECK(contains(r.err, "editing.max_flops"));
    r = run_cli(with({"--editing.start_file", (dir / "none.txt").string()}));
    CHECK(r.status == 1);
    CHECK(contains(r.err, "none.txt"));
    std::ofstream(dir / "starts.txt")
        << "# two starts\n64_64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64\n1,2\n";
    r = run_cli(with({"--editing.start_file", (dir / "starts.txt").string()}));
    CHECK(r.status == 1);
    CHECK(contains(r.err, "starts.txt line 3: invalid code"));
    r = run_cli({"search", "--cfg", seg_cfg, "--model", (dir / "missing.ckpt").string()});
    CHECK(r.status == 1);
    CHECK(contains(r.err, "missing.ckpt: no such checkpoint file"));
    r = run_cli(with({"--editing.starts", "100000000", "--editing.iters", "70"}));
    CHECK(r.status == 1);
    CHECK(contains(r.err, "the search's records (100000000 starts x 71 recorded iterations) need about "));
    CHECK(contains(r.err, "of memory, more than the "));
    r = run_cli(with({"--editing.per_step_increase", "0"}));
    CHECK(r.status == 1);
    CHECK(contains(r.err, "editing.per_step_increase must be positive"));
    // Unusable output folders are said before the search: nothing is written.
    std::ofstream(dir / "plain") << "x";
    r = run_cli(with({"--export", (dir / "plain" / "net").string()}));
    CHECK(r.err == "ncp search: " + (dir / "plain" / "net").string() + ": cannot create the output folder (" +
                       (dir / "plain").string() + " is not a folder)\n");
    CHECK(r.out.empty());
    r = run_cli({"search", "--cfg", seg_cfg, "--log_dir", (dir / "plain").string(), "--model", ckpt.string()});
    CHECK(r.status == 1);
    CHECK(contains(r.err, "plain is not a folder)"));
    CHECK(r.out.empty());  // no summary: the search did not run
    CHECK(run_cli({"search"}).status == 2);
    CHECK(run_cli({"search", "--cfg", seg_cfg, "--model", "seg="}).status == 2);
    CHECK(run_cli(with({"--threads", "0"})).status == 2);
}

TEST_CASE("the files do not depend on the number of threads") {
    const ncp::test::scratch_dir dir("cli-search-threads");
    ncp::io::write_benchmark(dir / "seg.bin", ncp::arch::make_synthetic({.records = 300, .seed = 4}));
    const auto ckpt = train_seg(dir / "seg.bin", dir.path());
    std::string first_json, first_csv;
    for (const std::string threads : {"1", "2", "4"}) {
        const auto out = dir / ("t" + threads);
        const auto r = run_cli({"search", "--cfg", seg_cfg, "--model", ckpt.string(), "--log_dir", out.string(),
                                "--editing.starts", "200", "--editing.iters", "10", "--threads", threads});
        REQUIRE_MESSAGE(r.status == 0, r.err);
        const std::string json = read_file(out / "seg" / "ncp.json"), csv = read_file(out / "seg" / "ncp.csv");
        if (threads == "1") {
            first_json = json;
            first_csv = csv;
        }
        CAPTURE(threads);
        CHECK(json == first_json);
        CHECK(csv == first_csv);
    }
}

TEST_CASE("seg (NCP_DATA_DIR): predicted mIoU rises while FLOPs fall from the all-64 start") {
    const auto bin = ncp::test::converted("seg");
    if (!bin) return;
    const ncp::test::scratch_dir dir("cli-search-seg");
    auto r = run_cli({"train", "--cfg", seg_cfg, "--data.path", bin->string(), "--optimization.epoch", "40",
                      "--log_dir", dir.path().string()});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    r = run_cli({"search", "--cfg", seg_cfg, "--data.path", bin->string(), "--log_dir", dir.path().string(),
                 "--editing.model_path", ""});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    MESSAGE(r.out);
    const auto rows = read_csv(dir / "seg" / "ncp.csv");
    REQUIRE(rows.size() == 72);
    const std::size_t main = column(rows[0], "mIoU_rounded"), flops = column(rows[0], "flops_g");
    CHECK(std::stod(rows[71][main]) > std::stod(rows[1][main]) + 1.0);
    CHECK(std::stod(rows[71][flops]) < std::stod(rows[1][flops]) * 0.85);
    CHECK(rows[1][flops] == "1.959638194");
    CHECK(contains(r.out, "stored mIoU 75.930 (record"));  // the all-64 code is a benchmark record
}

/// `ncp train` and `ncp predict` as programs: the output files, identical bytes on repeat and for any --threads,
/// predictions that reproduce the validation numbers of metrics.json, and bad input of every kind.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "ncp/arch/code.hpp"
#include "ncp/data/format.hpp"
#include "ncp/io/checkpoint.hpp"
#include "ncp/train/trainer.hpp"
#include "programs/run.hpp"
#include "train/synthetic.hpp"

using ncp::test::read_file;

namespace fs = std::filesystem;
using ncp::test::run_cli;

namespace {

/// The number after `"key": ` following the first occurrence of `section`.
double json_number(const std::string& text, const std::string& section, const std::string& key) {
    const auto at = text.find("\"" + key + "\": ", text.find("\"" + section + "\""));
    REQUIRE(at != std::string::npos);
    return std::stod(text.substr(at + key.size() + 4));
}

/// The integers of the JSON array after `"key":`.
std::vector<std::size_t> json_indices(const std::string& text, const std::string& key) {
    std::size_t at = text.find("\"" + key + "\":[");
    REQUIRE(at != std::string::npos);
    std::istringstream in(text.substr(at + key.size() + 4, text.find(']', at) - at - key.size() - 4));
    std::vector<std::size_t> out;
    for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoul(item));
    return out;
}

const std::vector<std::string> seg_metrics = {"mIoU", "mAcc", "aAcc", "flops", "params"};

/// Writes record `row`'s code as one line of 27 comma-separated integers (a line of `ncp predict --codes`).
void write_code_line(std::ostream& out, const ncp::data::benchmark& bench, std::size_t row) {
    for (std::size_t i = 0; i < ncp::arch::code_size; ++i) out << (i ? "," : "") << bench.codes(row, i);
    out << "\n";
}

}  // namespace

TEST_CASE("train writes its files, the same bytes twice; predict reproduces the validation MAE") {
    const ncp::test::scratch_dir dir("cli-train");
    const auto bench = ncp::test::synthetic_benchmark("seg", seg_metrics, 400, 3);
    ncp::io::write_benchmark(dir / "seg.bin", bench);
    const std::vector<std::string> args = {"train", "--cfg", (ncp::test::source_dir() / "configs/seg.yaml").string(),
                                           "--data.path", (dir / "seg.bin").string(), "--optimization.epoch", "4"};
    auto with_log_dir = [&](const std::string& sub) {
        auto a = args;
        a.insert(a.end(), {"--log_dir", (dir / sub).string()});
        return a;
    };
    const auto r1 = run_cli(with_log_dir("one"));
    REQUIRE_MESSAGE(r1.status == 0, r1.err);
    const auto out = dir / "one" / "seg";
    for (const char* f : {"best_model.ckpt", "last_model.ckpt", "metrics.json", "split.json", "train.log"})
        CHECK_MESSAGE(fs::exists(out / f), f);
    CHECK(r1.err.find("epoch 4/4") != std::string::npos);  // not a terminal: plain lines
    CHECK(read_file(out / "train.log").find("best epoch") != std::string::npos);
    // The same command again (the config, log_dir included, is part of the checkpoints): the same bytes.
    const std::string best = read_file(out / "best_model.ckpt"), last = read_file(out / "last_model.ckpt");
    const std::string split = read_file(out / "split.json");
    const auto r2 = run_cli(with_log_dir("one"));
    REQUIRE(r2.status == 0);
    CHECK(read_file(out / "best_model.ckpt") == best);
    CHECK(read_file(out / "last_model.ckpt") == last);
    CHECK(read_file(out / "split.json") == split);

    const std::string metrics = read_file(out / "metrics.json");
    const auto val = json_indices(read_file(out / "split.json"), "val");
    CHECK(val.size() == 80);
    CHECK(json_indices(read_file(out / "split.json"), "train").size() == 320);
    std::ofstream codes(dir / "val.txt");
    codes << "# the validation codes\n";
    for (std::size_t r : val) write_code_line(codes, bench, r);
    codes.close();
    const auto p =
        run_cli({"predict", "--model", (out / "best_model.ckpt").string(), "--codes", (dir / "val.txt").string()});
    REQUIRE_MESSAGE(p.status == 0, p.err);
    std::istringstream csv(p.out);
    std::string line;
    std::getline(csv, line);
    CHECK(line == "code,mIoU,mAcc,aAcc,flops,params");
    std::vector<double> mae(seg_metrics.size(), 0.0);
    std::size_t row = 0;
    while (std::getline(csv, line)) {
        REQUIRE(row < val.size());
        std::istringstream fields(line.substr(line.rfind('"') + 2));
        for (std::size_t m = 0; m < seg_metrics.size(); ++m) {
            std::string v;
            std::getline(fields, v, ',');
            mae[m] += std::abs(std::stod(v) - bench.metrics(val[row], m)) / static_cast<double>(val.size());
        }
        ++row;
    }
    CHECK(row == val.size());
    for (std::size_t m = 0; m < seg_metrics.size(); ++m) {
        CAPTURE(seg_metrics[m]);
        CHECK(mae[m] == doctest::Approx(json_number(metrics, "best_val_mae", seg_metrics[m])).epsilon(1e-4));
    }
}

TEST_CASE("predict --threads 1, 2 and 3 print the same bytes; a bad thread count is a usage error") {
    const ncp::test::scratch_dir dir("cli-predict-threads");
    const auto bench = ncp::test::synthetic_benchmark("seg", seg_metrics, 300, 4);
    ncp::io::write_benchmark(dir / "seg.bin", bench);
    const auto r = run_cli({"train", "--cfg", (ncp::test::source_dir() / "configs/seg.yaml").string(), "--data.path",
                            (dir / "seg.bin").string(), "--optimization.epoch", "1", "--log_dir", dir.path().string()});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    // Every record's code three times: 900 codes, four chunks of predict().
    std::ofstream codes(dir / "codes.txt");
    for (int copy = 0; copy < 3; ++copy)
        for (std::size_t row = 0; row < bench.size(); ++row) write_code_line(codes, bench, row);
    codes.close();
    REQUIRE(ncp::nn::predictor<float>::chunk_count(900) == 4);
    const std::string ckpt = (dir / "seg" / "best_model.ckpt").string(), list = (dir / "codes.txt").string();
    const auto one = run_cli({"predict", "--model", ckpt, "--codes", list, "--threads", "1"});
    REQUIRE_MESSAGE(one.status == 0, one.err);
    CHECK(std::count(one.out.begin(), one.out.end(), '\n') == 901);
    for (const char* threads : {"2", "3"}) {
        CAPTURE(threads);
        const auto p = run_cli({"predict", "--model", ckpt, "--codes", list, "--threads", threads});
        REQUIRE_MESSAGE(p.status == 0, p.err);
        CHECK(p.out == one.out);
    }
    const auto bad = run_cli({"predict", "--model", ckpt, "--codes", list, "--threads", "0"});
    CHECK(bad.status == 2);
    CHECK(bad.err.find("--threads takes a whole number from 1 to 4096 (got '0')") != std::string::npos);
}

TEST_CASE("--threads 1, 2, 3 and 4 write the same losses, validation errors and checkpoints") {
    const ncp::test::scratch_dir dir("cli-train-threads");
    // 400 records: 320 for training, batches of 192 and 128 rows, cut into 3 row blocks and 2, which 2, 3 and 4
    // threads share unevenly (some with no rows of the second batch).
    ncp::io::write_benchmark(dir / "seg.bin", ncp::test::synthetic_benchmark("seg", seg_metrics, 400, 5));
    std::string metrics, best, last;
    for (const char* threads : {"1", "2", "3", "4"}) {
        CAPTURE(threads);
        const auto r = run_cli({"train", "--cfg", (ncp::test::source_dir() / "configs/seg.yaml").string(),
                                "--data.path", (dir / "seg.bin").string(), "--optimization.epoch", "3",
                                "--optimization.batch_size", "192", "--log_dir", dir.path().string(), "--threads",
                                threads});
        REQUIRE_MESSAGE(r.status == 0, r.err);
        // metrics.json from the epochs to the rank correlations (threads and timings differ).
        const std::string text = read_file(dir / "seg" / "metrics.json");
        const auto from = text.find("\"epochs\""), to = text.find("\"steps\"");
        REQUIRE(from != std::string::npos);
        REQUIRE(to != std::string::npos);
        const auto used = std::min<ncp::index_t>(std::stoi(threads), ncp::train::row_blocks_for(192));
        CHECK(text.find("\"threads\": " + std::to_string(used)) != std::string::npos);
        if (metrics.empty()) {
            metrics = text.substr(from, to - from);
            best = read_file(dir / "seg" / "best_model.ckpt");
            last = read_file(dir / "seg" / "last_model.ckpt");
            continue;
        }
        CHECK(text.substr(from, to - from) == metrics);
        CHECK(read_file(dir / "seg" / "best_model.ckpt") == best);  // the same config: the same bytes
        CHECK(read_file(dir / "seg" / "last_model.ckpt") == last);
    }
}

TEST_CASE("log_interval: a progress line every log_interval batches within an epoch, in train.log too") {
    const ncp::test::scratch_dir dir("cli-train-log-interval");
    ncp::test::write_synthetic(dir / "seg.bin", "seg", seg_metrics, 300);  // 240 for training: 8 batches of 32
    const auto r = run_cli({"train", "--cfg", (ncp::test::source_dir() / "configs/seg.yaml").string(), "--data.path",
                            (dir / "seg.bin").string(), "--optimization.epoch", "2", "--optimization.batch_size", "32",
                            "--log_interval", "3", "--log_dir", dir.path().string(), "--threads", "1"});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    const std::string log = read_file(dir / "seg" / "train.log");
    for (const std::string at : {"epoch 1/2 batch 3/8 | loss ", "epoch 1/2 batch 6/8 | loss ",
                                 "epoch 2/2 batch 3/8 | loss ", "epoch 2/2 batch 6/8 | loss "}) {
        CAPTURE(at);
        CHECK(r.err.find(at) != std::string::npos);
        CHECK(log.find(at) != std::string::npos);
    }
    CHECK(r.err.find("batch 8/8") == std::string::npos);  // the epoch's own line reports its end
    CHECK(r.err.find("batch 1/8") == std::string::npos);
    CHECK(r.err.find("epoch 1/2 batch 3/8") < r.err.find("epoch 1/2 batch 6/8"));
    CHECK(r.err.find("epoch 1/2 batch 6/8") < r.err.find("epoch 2/2 batch 3/8"));
    CHECK(run_cli({"train", "--cfg", (ncp::test::source_dir() / "configs/seg.yaml").string(), "--log_interval", "0"})
              .status == 1);
}

TEST_CASE("bad input: config, data, checkpoints, codes") {
    const ncp::test::scratch_dir dir("cli-train-bad");
    const auto cfg = (ncp::test::source_dir() / "configs/seg.yaml").string();
    auto r = run_cli({"train", "--cfg", cfg, "--optimization.epochz", "3"});
    CHECK(r.status == 1);
    CHECK(r.err.find("unknown config key 'optimization.epochz'") != std::string::npos);
    r = run_cli({"train", "--cfg", cfg, "--data.root", (dir / "none").string()});
    CHECK(r.status == 1);
    CHECK(r.err.find((dir / "none" / "seg" / "trainval.bin").string() + ": benchmark file not found") !=
          std::string::npos);
    CHECK(r.err.find("scripts/convert_pkl.py") != std::string::npos);
    CHECK(run_cli({"train"}).status == 2);
    for (const char* threads : {"0", "-1", "two", "2x", "", "4097"}) {
        r = run_cli({"train", "--cfg", cfg, "--threads", threads});
        CHECK(r.status == 2);
        CHECK(r.err.find("--threads takes a whole number from 1 to 4096 (got '" + std::string(threads) + "')") !=
              std::string::npos);
    }

    ncp::test::write_synthetic(dir / "seg.bin", "seg", seg_metrics, 300);
    r = run_cli({"train", "--cfg", cfg, "--data.path", (dir / "seg.bin").string(), "--optimization.epoch", "1",
                 "--log_dir", dir.path().string()});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    const auto ckpt = dir / "seg" / "best_model.ckpt";
    const std::string good = read_file(ckpt);
    const std::string code = "64_64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64";
    REQUIRE(run_cli({"predict", "--model", ckpt.string(), code}).status == 0);

    r = run_cli({"predict", "--model", ckpt.string(), "1,2,3"});
    CHECK(r.status == 1);
    CHECK(r.err.find("code \"1,2,3\" has 3 numbers; the model takes 27-dimensional codes") != std::string::npos);
    r = run_cli({"predict", "--model", ckpt.string(), "64_64-2_1_2_64"});
    CHECK(r.status == 1);
    CHECK(r.err.find("invalid code") != std::string::npos);
    std::ofstream(dir / "codes.txt") << code << "\n\nfoo\n";
    r = run_cli({"predict", "--model", ckpt.string(), "--codes", (dir / "codes.txt").string()});
    CHECK(r.status == 1);
    CHECK(r.err.find((dir / "codes.txt").string() + " line 3: invalid code string \"foo\"") == 13);

    // Requests too large for memory are refused up front with the estimate, naming the keys to change.
    r = run_cli({"train", "--cfg", cfg, "--data.path", (dir / "seg.bin").string(), "--network.shared_layer",
                 "100000000", "--log_dir", dir.path().string()});
    CHECK(r.status == 1);
    CHECK(r.err.find("ncp train: the training's buffers (100000000 shared and 128 separated units, batches of 128) "
                     "need about ") != std::string::npos);
    CHECK(r.err.find("(a smaller network.shared_layer, network.seperated_layer or optimization.batch_size)\n") !=
          std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);  // no header line before the error
    r = run_cli({"train", "--cfg", cfg, "--data.path", (dir / "seg.bin").string(), "--optimization.batch_size", "1",
                 "--log_dir", dir.path().string()});
    CHECK(r.err == "ncp train: optimization.batch_size must be at least 2 (batch norm needs two records)\n");
    // An output folder that cannot be made is said before training.
    std::ofstream(dir / "plain") << "x";
    r = run_cli({"train", "--cfg", cfg, "--data.path", (dir / "seg.bin").string(), "--log_dir",
                 (dir / "plain").string()});
    CHECK(r.status == 1);
    CHECK(r.err == "ncp train: " + (dir / "plain" / "seg").string() + ": cannot create the output folder (" +
                       (dir / "plain").string() + " is not a folder)\n");
    CHECK(run_cli({"predict", "--model", ckpt.string()}).status == 2);

    const auto damaged = dir / "damaged.ckpt";
    std::ofstream(damaged, std::ios::binary) << good.substr(0, good.size() / 2);
    r = run_cli({"predict", "--model", damaged.string(), code});
    CHECK(r.status == 1);
    CHECK(r.err.find(damaged.string() + ": truncated") != std::string::npos);
    std::string other = good;
    other[8] = static_cast<char>(ncp::io::checkpoint_version + 1);
    std::ofstream(damaged, std::ios::binary) << other;
    r = run_cli({"predict", "--model", damaged.string(), code});
    CHECK(r.status == 1);
    CHECK(r.err.find(damaged.string() + ": checkpoint version 2") != std::string::npos);
}

TEST_CASE("--device: an unknown value is a usage error; gpu fails clearly without the backend or without a device") {
    const auto cfg = (ncp::test::source_dir() / "configs/seg.yaml").string();
    // A data file that does not exist: with a usable GPU the run gets past the device check and stops there.
    const std::vector<std::string> rest = {"--data.path", "/nonexistent/ncp-device-test.bin"};
    for (const std::string command : {"train", "search"}) {
        CAPTURE(command);
        std::vector<std::string> args = {command, "--cfg", cfg, "--device", "tpu"};
        auto r = run_cli(args);
        CHECK(r.status == 2);
        CHECK(r.err == "ncp " + command + ": --device takes cpu or gpu (got 'tpu')\n");

        args.back() = "gpu";
        args.insert(args.end(), rest.begin(), rest.end());
        r = run_cli(args);
        CHECK(r.status == 1);
        const std::string prefix = "ncp " + command + ": --device gpu";
        if (NCP_CLI_HAS_CUBLAS) {
            if (r.err.find("no CUDA device is usable") == std::string::npos) {
                MESSAGE("a CUDA device is present: the no-device message is not checked");
                CHECK(r.err.find("--device gpu") == std::string::npos);
            } else {
                CHECK(r.err.rfind(prefix + " (CUDA_DEVICE 0): no CUDA device is usable: cudaGetDeviceCount ", 0) == 0);
                CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
            }
        } else {
            CHECK(r.err == prefix +
                               ": ncp was built without the cuBLAS backend (configure with -DNCP_WITH_CUBLAS=ON)\n");
        }
    }
}

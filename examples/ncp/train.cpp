/// `ncp train --cfg FILE [--device cpu|gpu] [--threads N] [--section.key value ...]`: trains the predictor a config
/// describes and writes best_model.ckpt, last_model.ckpt, metrics.json, split.json and train.log into
/// <log_dir>/<dataset>/.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <utility>
#include <vector>

#include "cli.hpp"
#include "device.hpp"
#include "ncp/io/atomic.hpp"
#include "ncp/train/trainer.hpp"

namespace {

constexpr const char* usage =
    "usage: ncp train --cfg FILE [--device cpu|gpu] [--threads N] [--section.key value ...]\n"
    "  --cfg FILE            the run's YAML config (configs/seg.yaml, ...)\n"
    "  --device cpu|gpu      where to train (default cpu); gpu: the cuBLAS backend on CUDA device CUDA_DEVICE\n"
    "                        (config key, default 0)\n"
    "  --threads N           threads stepping a batch, at most one per row block of a batch (default: the machine's\n"
    "                        hardware threads, one thread for epochs where those are slower); results do not\n"
    "                        depend on it\n"
    "  --section.key value   overrides a config key, e.g. --optimization.epoch 50 --data.path my.bin\n";

std::string fixed(double v, int digits) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(digits) << v;
    return s.str();
}

int train(std::span<const std::string> args) {
    std::string cfg_file;
    int threads = ncp::cli::default_threads();
    bool adapt = true;
    ncp::cli::device where = ncp::cli::device::cpu;
    std::vector<std::pair<std::string, std::string>> overrides;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--help" || a == "-h") {
            std::cout << usage;
            return 0;
        }
        if (a == "--cfg") {
            cfg_file = ncp::cli::option_value(args, i++);
        } else if (a == "--device") {
            where = ncp::cli::parse_device(ncp::cli::option_value(args, i++));
        } else if (a == "--threads") {
            threads = ncp::cli::parse_threads(ncp::cli::option_value(args, i++));
            adapt = false;
        } else if (a.starts_with("--") && a.size() > 2) {
            overrides.emplace_back(a.substr(2), ncp::cli::option_value(args, i++));
        } else {
            throw ncp::usage_error("unexpected argument '" + a + "' (see ncp train --help)");
        }
    }
    if (cfg_file.empty()) throw ncp::usage_error("missing --cfg FILE (see ncp train --help)");

    const auto cfg = ncp::io::load_config(cfg_file, overrides);
    const bool on_gpu = where == ncp::cli::device::gpu;
    // Before the data: a missing device is the first thing to say.
    if (on_gpu) ncp::cli::gpu::require_device(cfg.cuda_device);
    const auto data_file = ncp::train::data_file(cfg);
    const auto bench = ncp::train::load_data(cfg);
    const auto out_dir = std::filesystem::path(cfg.log_dir) / cfg.data.dataset;
    ncp::io::check_output_folder(out_dir);  // an unusable folder is said before training, not after

    std::ostringstream log;
    const bool live = ::isatty(::fileno(stderr)) != 0;
    auto note = [&](const std::string& line) {
        log << line << "\n";
        if (live) std::cerr << "\r\033[K";
        std::cerr << line << "\n";
    };
    const auto used = std::min<ncp::index_t>(threads, ncp::train::row_blocks_for(cfg.optimization.batch_size));
    const std::string workers = on_gpu ? std::string("GPU") : std::to_string(used) + " thread(s)";

    std::vector<std::string> names;
    for (const auto& g : cfg.data.metrics) names.insert(names.end(), g.begin(), g.end());
    ncp::train::options opt;
    opt.threads = threads;
    opt.adapt_threads = adapt;
    opt.on_start = [&] {
        note("ncp train: " + cfg_file + " on " + data_file.string() + " (" + std::to_string(bench.size()) +
             " records, " + std::to_string(bench.code_dim()) + "-dim codes), " +
             std::to_string(cfg.optimization.epoch) + " epochs, " + cfg.optimization.optimizer + " + " +
             cfg.optimization.scheduler + ", " + cfg.optimization.criterion + " loss, seed " +
             std::to_string(cfg.seed) + ", " + workers);
    };
    opt.on_epoch = [&](const ncp::train::progress& p) {
        const auto& e = p.last;
        std::string line = "epoch " + std::to_string(e.epoch + 1) + "/" + std::to_string(p.epochs) + " | loss " +
                           fixed(e.train_loss, 5) + " | lr " + fixed(e.lr, 6) + " | val MAE";
        for (std::size_t i = 0; i < names.size(); ++i) line += " " + names[i] + " " + fixed(e.val_mae[i], 4);
        line += " | best " + fixed(p.best_mae, 4) + " @ " + std::to_string(p.best_epoch + 1);
        log << line << "\n";
        if (live) {
            const double left = p.elapsed_s / (e.epoch + 1) * (p.epochs - e.epoch - 1);
            std::cerr << "\r\033[Kepoch " << e.epoch + 1 << "/" << p.epochs << "  loss " << fixed(e.train_loss, 4)
                      << "  val " << names[0] << " MAE " << fixed(e.val_mae[0], 4) << " (best " << fixed(p.best_mae, 4)
                      << ")  " << fixed(left, 1) << " s left" << std::flush;
        } else {
            std::cerr << line << "\n";
        }
    };
    // Within an epoch, every log_interval batches: the live line on a terminal, a log line otherwise.
    opt.on_batch = [&](const ncp::train::batch_progress& p) {
        const std::string where = "epoch " + std::to_string(p.epoch + 1) + "/" + std::to_string(p.epochs) +
                                  " batch " + std::to_string(p.batch) + "/" + std::to_string(p.batches);
        if (live) {
            std::cerr << "\r\033[K" << where << "  loss " << fixed(p.mean_loss, 4) << std::flush;
        } else {
            const std::string line = where + " | loss " + fixed(p.mean_loss, 5);
            log << line << "\n";
            std::cerr << line << "\n";
        }
    };
    const auto r =
        on_gpu ? ncp::cli::gpu::train_predictor(cfg, bench, opt) : ncp::train::train_predictor(cfg, bench, opt);
    if (live) std::cerr << "\r\033[K";

    const auto& best = r.epochs[static_cast<std::size_t>(r.best_epoch)];
    std::string summary = "best epoch " + std::to_string(r.best_epoch + 1) + ": val MAE";
    for (std::size_t i = 0; i < names.size(); ++i) summary += " " + names[i] + " " + fixed(best.val_mae[i], 4);
    summary += "; Kendall tau " + names[0] + " " + fixed(r.kendall_tau[0], 4) + ", Spearman rho " +
               fixed(r.spearman_rho[0], 4) + "; " + std::to_string(r.steps) + " steps, " + fixed(r.ms_per_step(), 3) +
               " ms/step, training " + fixed(r.train_s, 2) + " s";
    note(summary);
    note("outputs: " + out_dir.string() + "/{best_model.ckpt,last_model.ckpt,metrics.json,split.json,train.log}");
    ncp::train::write_outputs(r, cfg, out_dir, log.str());
    return 0;
}

const ncp::cli::registration reg("train", "train the predictor on a benchmark file (--cfg FILE)", train);

}  // namespace

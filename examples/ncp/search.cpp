/// `ncp search --cfg FILE [--model [NAME=]CKPT ...] [--weights NAME=W,...] [--device cpu|gpu] [--export DIR]
/// [--section.key value ...]`: NCP on trained predictors; writes ncp.json, ncp.csv and ncp.svg into
/// <log_dir>/<dataset>/, prints the selected architecture and, with --export, writes its network into DIR.

#include <chrono>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include "cli.hpp"
#include "device.hpp"
#include "ncp/export/files.hpp"
#include "ncp/io/atomic.hpp"
#include "ncp/search/program.hpp"

namespace {

constexpr const char* usage =
    "usage: ncp search --cfg FILE [--model [NAME=]CKPT ...] [--weights NAME=W,...] [--device cpu|gpu]\n"
    "                  [--threads N] [--section.key value ...]\n"
    "  --cfg FILE              the run's YAML config (configs/seg.yaml, configs/nb201.yaml, ...): editing.* keys\n"
    "  --model [NAME=]CKPT     a checkpoint of ncp train (default: <editing.model_path or log_dir>/<dataset>/\n"
    "                          best_model.ckpt); NAME names its task (default: its setting). Several tasks: the\n"
    "                          weighted sum of their main metrics; several checkpoints of one NAME: an ensemble\n"
    "  --weights NAME=W,...    task weights (default 1 each)\n"
    "  --device cpu|gpu        where the predictors run (default cpu); gpu: the cuBLAS backend on CUDA device\n"
    "                          CUDA_DEVICE (config key, default 0; rounding, costs and selection stay on the CPU)\n"
    "  --threads N             host threads stepping the starts (in shards of 64) and evaluating new codes\n"
    "                          (default: the machine's hardware threads); results do not depend on it\n"
    "  --export DIR            write the selected architecture's network as DIR/net.py (a PyTorch module) and\n"
    "                          DIR/net.json (the original MultiResolutionNet's arguments), as ncp export does,\n"
    "                          in the search's FLOPs/params convention (NAS-Bench-MR only)\n"
    "  --section.key value     overrides a config key, e.g. --editing.starts 1024 --editing.max_flops 1.5\n"
    "Writes <log_dir>/<dataset>/{ncp.json,ncp.csv,ncp.svg} (several tasks: <log_dir>/<task>+<task>/).\n";

int search(std::span<const std::string> args) {
    std::string cfg_file;
    std::string export_dir;
    std::vector<ncp::search::model_arg> models;
    std::vector<std::pair<std::string, double>> weights;
    std::vector<std::pair<std::string, std::string>> overrides;
    int threads = ncp::cli::default_threads();
    ncp::cli::device where = ncp::cli::device::cpu;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--help" || a == "-h") {
            std::cout << usage;
            return 0;
        }
        if (a == "--cfg") {
            cfg_file = ncp::cli::option_value(args, i++);
        } else if (a == "--model") {
            models.push_back(ncp::search::parse_model_arg(ncp::cli::option_value(args, i++)));
        } else if (a == "--weights") {
            const auto w = ncp::search::parse_weights(ncp::cli::option_value(args, i++));
            weights.insert(weights.end(), w.begin(), w.end());
        } else if (a == "--device") {
            where = ncp::cli::parse_device(ncp::cli::option_value(args, i++));
        } else if (a == "--export") {
            export_dir = ncp::cli::option_value(args, i++);
            if (export_dir.empty()) throw ncp::usage_error("--export needs a folder name");
        } else if (a == "--threads") {
            threads = ncp::cli::parse_threads(ncp::cli::option_value(args, i++));
        } else if (a.starts_with("--") && a.size() > 2) {
            overrides.emplace_back(a.substr(2), ncp::cli::option_value(args, i++));
        } else {
            throw ncp::usage_error("unexpected argument '" + a + "' (see ncp search --help)");
        }
    }
    if (cfg_file.empty()) throw ncp::usage_error("missing --cfg FILE (see ncp search --help)");
    const auto cfg = ncp::io::load_config(cfg_file, overrides);
    if (!export_dir.empty() && cfg.data.dataset == "nas-bench-201")
        throw ncp::usage_error("--export: NAS-Bench-201 cells are not NAS-Bench-MR networks; only those export");
    if (!export_dir.empty()) ncp::io::check_output_folder(export_dir);  // said before the search, not after
    // On a terminal, a live line while the starts are stepped (at most ten updates a second).
    const bool live = ::isatty(::fileno(stderr)) != 0;
    const auto began = std::chrono::steady_clock::now();
    auto shown = began;
    ncp::search::step_progress progress;
    if (live)
        progress = [&](std::size_t done, std::size_t shards) {
            const auto now = std::chrono::steady_clock::now();
            if (done < shards && now - shown < std::chrono::milliseconds(100)) return;
            shown = now;
            const double elapsed = std::chrono::duration<double>(now - began).count();
            std::cerr << "\r\033[Ksearch: steps " << 100 * done / shards << " % (" << done << "/" << shards
                      << " shards), " << std::fixed << std::setprecision(1)
                      << elapsed / static_cast<double>(done) * static_cast<double>(shards - done) << " s left"
                      << std::flush;
        };
    const auto summary = where == ncp::cli::device::gpu
                             ? ncp::cli::gpu::run_search(cfg, std::move(models), weights, progress)
                             : ncp::search::run_search(cfg, models, weights, threads, progress);
    if (live) std::cerr << "\r\033[K" << std::flush;
    std::cout << summary.text;
    if (!export_dir.empty() && summary.selected) {
        const auto files =
            ncp::exporting::write_network_files(export_dir, "net", *summary.selected, summary.convention);
        std::cout << "exported: " << files[0].string() << ", " << files[1].string() << "\n";
    }
    return 0;
}

const ncp::cli::registration reg("search", "NCP: edit codes along trained predictors' gradients (--cfg FILE)", search);

}  // namespace

/// `ncp ask --cfg FILE --known KNOWN.csv --n K --out PROPOSALS.csv [--pool POOL.txt] [--SEED S] [--threads N] [--export
/// DIR] [--section.key value ...]`: the next K architectures to train, from the results known so far (the closed loop;
/// `ncp tell` adds the results).

#include <charconv>
#include <cstdio>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include "cli.hpp"
#include "ncp/search/ask_program.hpp"

namespace {

constexpr const char* usage =
    "usage: ncp ask --cfg FILE --known KNOWN.csv --n K --out PROPOSALS.csv [--pool POOL.txt] [--SEED S]\n"
    "               [--threads N] [--export DIR] [--section.key value ...]\n"
    "  --cfg FILE              the run's YAML config: data.dataset (the space), data.metrics, network.*,\n"
    "                          optimization.* (the ensemble's training), editing.* (NCP, budgets), ask.*\n"
    "  --known KNOWN.csv       the results so far: header code,<metric>,... with every metric of data.metrics;\n"
    "                          a missing file or a header alone: nothing known (K seeded random codes)\n"
    "  --n K                   how many architectures to propose\n"
    "  --out PROPOSALS.csv     code,predicted_<main metric>,spread,flops_g,params_m, best first (atomic)\n"
    "  --pool POOL.txt         propose only codes listed here (one per line, # comments)\n"
    "  --SEED S                seeds the ensemble and the random codes (the config's SEED)\n"
    "  --threads N             threads (default: the machine's hardware threads); the proposals do not depend\n"
    "                          on it\n"
    "  --export DIR            also write each proposal's network as DIR/<rank>.py (a PyTorch module) and\n"
    "                          DIR/<rank>.json, as ncp export does (NAS-Bench-MR codes; rank 1 is the first row)\n"
    "  --section.key value     overrides a config key, e.g. --ask.members 5 --editing.max_flops 1.5\n";

std::size_t parse_count(const std::string& value) {
    std::size_t n = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || end != value.data() + value.size() || n < 1 || n > 1000000)
        throw ncp::usage_error("--n takes a whole number from 1 to 1000000 (got '" + value + "')");
    return n;
}

int ask(std::span<const std::string> args) {
    std::string cfg_file;
    ncp::search::ask_request req;
    bool have_n = false;
    req.threads = ncp::cli::default_threads();
    std::vector<std::pair<std::string, std::string>> overrides;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--help" || a == "-h") {
            std::cout << usage;
            return 0;
        }
        if (a == "--cfg") {
            cfg_file = ncp::cli::option_value(args, i++);
        } else if (a == "--known") {
            req.known = ncp::cli::option_value(args, i++);
        } else if (a == "--n") {
            req.n = parse_count(ncp::cli::option_value(args, i++));
            have_n = true;
        } else if (a == "--out") {
            req.out = ncp::cli::option_value(args, i++);
        } else if (a == "--pool") {
            req.pool = ncp::cli::option_value(args, i++);
        } else if (a == "--export") {
            req.export_dir = ncp::cli::option_value(args, i++);
            if (req.export_dir->empty()) throw ncp::usage_error("--export needs a folder name");
        } else if (a == "--threads") {
            req.threads = ncp::cli::parse_threads(ncp::cli::option_value(args, i++));
        } else if (a.starts_with("--") && a.size() > 2) {
            overrides.emplace_back(a.substr(2), ncp::cli::option_value(args, i++));
        } else {
            throw ncp::usage_error("unexpected argument '" + a + "' (see ncp ask --help)");
        }
    }
    if (cfg_file.empty() || req.known.empty() || req.out.empty() || !have_n)
        throw ncp::usage_error("missing --cfg, --known, --n or --out (see ncp ask --help)");
    const auto cfg = ncp::io::load_config(cfg_file, overrides);
    if (req.export_dir && cfg.data.dataset == "nas-bench-201")
        throw ncp::usage_error("--export: NAS-Bench-201 cells are not NAS-Bench-MR networks; only those export");
    const bool live = ::isatty(::fileno(stderr)) != 0;
    ncp::search::ask_progress progress;
    if (live) progress = [](const std::string& stage) { std::cerr << "\r\033[Kncp ask: " << stage << std::flush; };
    const std::size_t n = ncp::search::run_ask(cfg, req, progress);
    if (live) std::cerr << "\r\033[K" << std::flush;
    std::cout << "ncp ask: " << n << " proposal" << (n == 1 ? "" : "s") << " written to " << req.out.string() << "\n";
    return 0;
}

const ncp::cli::registration reg("ask", "propose the next architectures to train from KNOWN.csv (closed loop)", ask);

}  // namespace

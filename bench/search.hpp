#pragma once
/// The NCP search benchmark's model and loop, shared by bench_search (CPU) and bench_cublas_steps (GPU): each run
/// starts from an empty memo, so every distinct rounded code is counted.

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>
#include <vector>

#include "ncp/arch/synthetic.hpp"
#include "ncp/io/checkpoint.hpp"
#include "ncp/search/editor.hpp"
#include "ncp/train/trainer.hpp"

namespace ncp::bench {

/// The seg predictor searched: $NCP_SEARCH_MODEL, or one trained for 30 epochs on the synthetic benchmark (once).
inline const io::model_record& search_model() {
    static const io::model_record r = [] {
        if (const char* path = std::getenv("NCP_SEARCH_MODEL"); path != nullptr && *path != '\0')
            return io::load_checkpoint(path);
        io::run_config cfg;
        cfg.optimization.epoch = 30;
        return train::train_predictor(cfg, arch::make_synthetic({})).best;
    }();
    return r;
}

/// Benchmarks editor<mr_space, float, Backend>::run on `starts` start codes (1: the default start; more: random ones)
/// x 70 iterations, on `threads` threads.
template <class Backend = default_backend>
void run_search(benchmark::State& state, std::size_t starts, int threads) {
    std::vector<search::task<float, Backend>> tasks;
    tasks.push_back({"seg", 1, {}});
    tasks.back().models.push_back(io::make_predictor<float, Backend>(search_model(), "bench"));
    const search::mr_space space;
    search::options opt;
    opt.threads = threads;
    search::editor<search::mr_space, float, Backend> ed(space, std::move(tasks), opt);
    std::vector<arch::code> codes;
    if (starts == 1) {
        codes.push_back(space.default_start());
    } else {
        std::mt19937_64 gen(233);
        for (std::size_t i = 0; i < starts; ++i) codes.push_back(space.random_code(gen));
    }
    std::size_t distinct = 0;
    for (auto _ : state) {
        const auto r = ed.run(codes);
        distinct = r.candidates.size();
        benchmark::DoNotOptimize(r.selected);
    }
    state.counters["starts"] = static_cast<double>(starts);
    state.counters["threads"] = threads;
    state.counters["distinct_codes"] = static_cast<double>(distinct);
    state.counters["steps_per_s"] =
        benchmark::Counter(static_cast<double>(starts * 70), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace ncp::bench

/// NCP search speed: the original's loop (one start x 70 iterations, exact FLOPs/params of every rounded code
/// included, selection included) and a batch of 1024 starts x 70 iterations on 1 and 2 threads (goal < 1 s), on a
/// seg predictor of the spec's shape. The model: $NCP_SEARCH_MODEL (a checkpoint, e.g. output/seg/best_model.ckpt)
/// or, without it, one trained here for 30 epochs on the synthetic benchmark. Each run starts from an empty memo, so
/// every distinct rounded code is counted. bench/compare_search.sh sets the first against the PyTorch peer.

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>
#include <vector>

#include "ncp/arch/synthetic.hpp"
#include "ncp/io/checkpoint.hpp"
#include "ncp/search/editor.hpp"
#include "ncp/train/trainer.hpp"

namespace {

using namespace ncp;

const io::model_record& model() {
    static const io::model_record r = [] {
        if (const char* path = std::getenv("NCP_SEARCH_MODEL"); path != nullptr && *path != '\0')
            return io::load_checkpoint(path);
        io::run_config cfg;
        cfg.optimization.epoch = 30;
        return train::train_predictor(cfg, arch::make_synthetic({})).best;
    }();
    return r;
}

void run_search(benchmark::State& state, std::size_t starts, int threads) {
    std::vector<search::task<float>> tasks;
    tasks.push_back({"seg", 1, {}});
    tasks.back().models.push_back(io::make_predictor<float>(model(), "bench"));
    const search::mr_space space;
    search::options opt;
    opt.threads = threads;
    search::editor<search::mr_space> ed(space, std::move(tasks), opt);
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

void one_start(benchmark::State& state) { run_search(state, 1, 1); }
void starts_1024(benchmark::State& state) { run_search(state, 1024, static_cast<int>(state.range(0))); }

}  // namespace

BENCHMARK(one_start)->Name("search/one_start_x70")->Unit(benchmark::kMillisecond);
BENCHMARK(starts_1024)->Name("search/1024_starts_x70/threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MinTime(2.0);

/// NCP search speed: the original's loop (one start x 70 iterations, exact FLOPs/params of every rounded code included,
/// selection included) and a batch of 1024 starts x 70 iterations on 1 and 2 threads (goal < 1 s), on a seg predictor
/// of docs/algorithm.md section 4's shape. The model: $NCP_SEARCH_MODEL (a checkpoint, e.g. output/seg/best_model.ckpt)
/// or, without it, one trained here for 30 epochs on the synthetic benchmark. Each run starts from an empty memo, so
/// every distinct rounded code is counted. bench/compare_search.sh sets the first against the PyTorch peer.

#include "search.hpp"

namespace {

void one_start(benchmark::State& state) { ncp::bench::run_search(state, 1, 1); }
void starts_1024(benchmark::State& state) { ncp::bench::run_search(state, 1024, static_cast<int>(state.range(0))); }

}  // namespace

BENCHMARK(one_start)->Name("search/one_start_x70")->Unit(benchmark::kMillisecond);
BENCHMARK(starts_1024)
    ->Name("search/1024_starts_x70/threads")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);

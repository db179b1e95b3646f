// The predictor's training step as `ncp train` runs it (train::detail::tape_training: the tape, row-split over a
// thread team, Adam applied as each thread's share of the gradients is summed), seg's shapes at batch 128, on 1 and
// 2 threads (`train_step/<threads>`: one epoch of 16 steps per iteration); and the evaluation pass over 502
// records, seg's validation split (`evaluate/<threads>`). Compare GFLOP/s with bench_peak (one core's fp32 FMA
// peak; two threads can reach twice).
//
// FLOP count (GEMMs only, 2 per multiply-accumulate): the forward runs 128 x (27*256 + 3*256*128 + 128*5) = 13.55 M
// multiply-accumulates; backward repeats them twice (d input and d weight of every linear layer: the first layer's
// input gradient is needed for the input BatchNorm's gamma and beta). 3 x 2 x 13.55 M = 81.3 MFLOP per step;
// evaluation 2 x 502 x 105856 = 106.3 MFLOP.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "ncp/train/trainer.hpp"

namespace {

constexpr double macs_per_sample = 27 * 256 + 3 * 256 * 128 + 128 * 5;
constexpr std::size_t steps = 16;
constexpr ncp::index_t batch = 128;

ncp::nn::predictor<float> seg_model() {
    ncp::nn::predictor_spec spec;  // seg: 27 -> 256, three heads of 128 for 1, 2, 2 metrics, swish
    ncp::nn::normalisation stats{std::vector<double>(27, 0.0), std::vector<double>(27, 1.0),
                                 std::vector<double>(5, 0.0), std::vector<double>(5, 1.0)};
    return ncp::nn::predictor<float>(spec, stats, 233);
}

std::vector<float> field(std::size_t n, double phase) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i) + phase));
    return v;
}

void train_step(benchmark::State& state) {
    const int threads = static_cast<int>(state.range(0));
    auto model = seg_model();
    constexpr std::size_t records = batch * steps;
    const auto x = field(records * 27, 0.1), y = field(records * 5, 0.7), xv = field(27, 0.3);
    ncp::train::detail::tape_training<ncp::backend::eigen_cpu> training(model, batch, threads, false,
                                                                        ncp::nn::loss_kind::smooth_l1, x, y, xv, 27, 5);
    ncp::optim::adam<float> adam(training.parameters(), {.lr = 1e-3, .weight_decay = 1e-7});
    std::vector<std::size_t> order(records);
    for (std::size_t i = 0; i < records; ++i) order[i] = (i * 7) % records;
    const auto epoch = [&] { training.epoch(0, order, batch, adam, [](ncp::index_t) {}); };
    epoch();
    for (auto _ : state) epoch();
    state.counters["steps/s"] = benchmark::Counter(steps, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["GFLOP/s"] = benchmark::Counter(steps * 3 * 2 * batch * macs_per_sample,
                                                   benchmark::Counter::kIsIterationInvariantRate,
                                                   benchmark::Counter::kIs1000);
}

void evaluate(benchmark::State& state) {
    const int threads = static_cast<int>(state.range(0));
    auto model = seg_model();
    constexpr std::size_t records = 502;
    const auto x = field(batch * 27, 0.1), y = field(batch * 5, 0.7), xv = field(records * 27, 0.3);
    ncp::train::detail::tape_training<ncp::backend::eigen_cpu> training(model, batch, threads, false,
                                                                        ncp::nn::loss_kind::smooth_l1, x, y, xv, 27, 5);
    model.train(false);
    std::vector<float> out(records * 5);
    for (auto _ : state) {
        training.evaluate(out);
        benchmark::DoNotOptimize(out.data());
    }
    state.counters["GFLOP/s"] = benchmark::Counter(2 * records * macs_per_sample,
                                                   benchmark::Counter::kIsIterationInvariantRate,
                                                   benchmark::Counter::kIs1000);
}

}  // namespace

// On a shared machine the fastest repetition is the honest figure: run with --benchmark_repetitions.
const auto fastest = [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); };
BENCHMARK(train_step)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()->ComputeStatistics("min", fastest);
BENCHMARK(evaluate)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()->ComputeStatistics("min", fastest);

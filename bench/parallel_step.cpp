// The predictor's training step as `ncp train` runs it (train::parallel_step, Adam applied slice by slice as the
// gradients complete), seg's shapes at batch 128, on 1 and 2 threads; and the evaluation pass over 502 records
// (seg's validation split). Compare GFLOP/s with bench_peak (one core's fp32 FMA peak; two threads can reach twice).
//
// FLOP count (GEMMs, 2 per multiply-accumulate), as bench_train_step: 3 x 2 x 128 x 105856 = 81.3 MFLOP per step;
// evaluation 2 x 502 x 105856 = 106.3 MFLOP.
#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include "ncp/optim/optimizers.hpp"
#include "ncp/train/parallel_step.hpp"

namespace {

constexpr double macs_per_sample = 27 * 256 + 3 * 256 * 128 + 128 * 5;

ncp::nn::predictor<float> seg_model() {
    ncp::nn::predictor_spec spec;  // seg: 27 -> 256, three heads of 128 for 1, 2, 2 metrics, swish
    ncp::nn::normalisation stats{std::vector<double>(27, 0.0), std::vector<double>(27, 1.0), std::vector<double>(5, 0.0),
                                 std::vector<double>(5, 1.0)};
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
    ncp::train::parallel_step<> step(model, 128, threads, ncp::train::loss_kind::smooth_l1);
    ncp::optim::adam<float> adam(step.parameters(), {.lr = 1e-3, .weight_decay = 1e-7});
    constexpr std::size_t records = 128 * 16;
    const auto x = field(records * 27, 0.1), y = field(records * 5, 0.7);
    std::vector<std::size_t> order(records);
    for (std::size_t i = 0; i < records; ++i) order[i] = (i * 7) % records;
    const auto epoch = [&] {
        step.train_batches(order, 128, x.data(), y.data(), [&](auto) { adam.begin_step(); },
                           [&](const auto& s) { adam.update(s.param, s.begin, s.end); }, [](auto, float) {});
    };
    epoch();
    for (auto _ : state) epoch();  // 16 steps
    state.counters["steps/s"] = benchmark::Counter(16, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["GFLOP/s"] = benchmark::Counter(16 * 3 * 2 * 128 * macs_per_sample,
                                                   benchmark::Counter::kIsIterationInvariantRate,
                                                   benchmark::Counter::kIs1000);
}

void evaluate(benchmark::State& state) {
    const int threads = static_cast<int>(state.range(0));
    auto model = seg_model();
    ncp::train::parallel_step<> step(model, 128, threads, ncp::train::loss_kind::smooth_l1);
    model.train(false);
    constexpr std::size_t records = 502;
    const auto x = field(records * 27, 0.3);
    std::vector<float> out(records * 5);
    for (auto _ : state) {
        step.evaluate(x.data(), records, out.data());
        benchmark::DoNotOptimize(out.data());
    }
    state.counters["GFLOP/s"] = benchmark::Counter(2 * records * macs_per_sample,
                                                   benchmark::Counter::kIsIterationInvariantRate,
                                                   benchmark::Counter::kIs1000);
}

}  // namespace

BENCHMARK(train_step)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(evaluate)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// One training step of the seg predictor (bench/predictor.hpp) at batch 128: forward in train mode, smooth L1 loss,
// backward, plain SGD on every parameter through the kernels.
//
// FLOP count (GEMMs only, 2 per multiply-accumulate): the forward runs 128 x (27*256 + 3*256*128 + 128*5) = 13.55 M
// multiply-accumulates; backward repeats them twice (d input and d weight of every linear layer: the first layer's
// input gradient is needed for the input BatchNorm's gamma and beta). 3 x 2 x 13.55 M = 81.3 MFLOP per step.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <vector>

#include "predictor.hpp"

namespace {

using namespace ncp::bench;

void train_step(benchmark::State& state) {
    constexpr ncp::index_t batch = 128;
    seg_predictor model;
    std::mt19937_64 gen(1);
    const ncp::Tensor<float> x = uniform(batch, seg_predictor::inputs, 1.7f, gen);
    const ncp::Tensor<float> y = uniform(batch, 5, 1.7f, gen);
    const std::vector<parameter<float>*> params = model.parameters();
    tape<float> t;
    const auto step = [&] {
        t.clear();
        t.backward(smooth_l1_loss(model(t, t.input(x), true), t.input(y)));
        for (parameter<float>* p : params) {
            ncp::detail::kernels<ncp::backend::eigen_cpu>::map<ncp::detail::fn::identity>(
                1, p->value.size(), -1e-3f, 1.0f, p->value.data(), p->value.size(),
                ncp::detail::view<float>::matrix(p->grad.data(), p->grad.size()));
        }
    };
    step();
    for (auto _ : state) step();
    const double flops = 3 * 2 * batch * seg_predictor::macs_per_sample;
    state.counters["GFLOP/s"] =
        benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
    state.counters["MFLOP/step"] = flops / 1e6;
}

}  // namespace

// On a shared machine the fastest repetition is the honest figure: run with --benchmark_repetitions.
BENCHMARK(train_step)->Unit(benchmark::kMillisecond)->ComputeStatistics("min", [](const std::vector<double>& v) {
    return *std::min_element(v.begin(), v.end());
});

// One NCP step (docs/algorithm.md section 6) on one code: the frozen seg predictor in eval mode, the loss
// L1(main, main + 0.1) + 0.5 L1(flops, flops - 0.1) with detached targets, the gradient w.r.t. the code only, SGD
// with lr 3 on the code, clamp to the bounds.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <vector>

#include "predictor.hpp"

namespace {

using namespace ncp::bench;
using K = ncp::detail::kernels<ncp::backend::eigen_cpu>;
using view = ncp::detail::view<float>;

void ncp_step(benchmark::State& state) {
    seg_predictor<> model;
    for (parameter<float>* p : model.parameters()) p->requires_grad = false;
    std::mt19937_64 gen(2);
    parameter<float> code(uniform(1, seg_predictor<>::inputs, 1.0f, gen));
    const ncp::Tensor<float> lower = ncp::Tensor<float>::filled(1, seg_predictor<>::inputs, -1.5f);
    const ncp::Tensor<float> upper = ncp::Tensor<float>::filled(1, seg_predictor<>::inputs, 1.5f);
    const ncp::index_t n = seg_predictor<>::inputs;
    tape<float> t;
    const auto step = [&] {
        t.clear();
        const var<float> out = model(t, t.leaf(code), false);
        t.backward(ncp_step_loss(out));
        K::map<ncp::detail::fn::identity>(1, n, -3.0f, 1.0f, code.value.data(), n, view::row(code.grad.data()));
        K::map<ncp::detail::fn::clamp>(1, n, 1.0f, 0.0f, code.value.data(), n, view::row(code.value.data()),
                                       view::row(lower.data()), view::row(upper.data()));
    };
    step();
    for (auto _ : state) step();
}

}  // namespace

// On a shared machine the fastest repetition is the honest figure: run with --benchmark_repetitions.
BENCHMARK(ncp_step)->Unit(benchmark::kMicrosecond)->ComputeStatistics("min", [](const std::vector<double>& v) {
    return *std::min_element(v.begin(), v.end());
});

// The seg predictor (bench/predictor.hpp) on the cuBLAS backend:
// - train_step/<batch>: one training step (forward in train mode, smooth L1, backward, SGD on every parameter through
//   the kernels), as bench_train_step does on the CPU at batch 128; larger batches show where the GPU pays off.
//   81.3 MFLOP per step at batch 128 (see bench/train_step.cpp), proportionally more for larger batches.
// - search_step/<codes>: one NCP step (as bench_ncp_step) for a batch of start codes at once: frozen model in eval
//   mode, L1(main, main + 0.1) + 0.5 L1(flops, flops - 0.1) summed over the codes so that each code gets its own
//   gradient, SGD with lr 3 on the codes, clamp to the bounds.
// - train_run/<epochs>: train::train_predictor<cublas> on the synthetic benchmark (2507 records, NAS-Bench-MR's size)
//   with configs/seg.yaml's defaults (batch 128, Adam + onecycle, smooth L1, validation every epoch): one epoch and the
//   whole 200-epoch run, the optimiser on the device; compare `ncp train` on the CPU (README, benchmarks).
// - search/1024_starts_x70: search::editor<mr_space, float, cublas> on 1024 random starts x 70 iterations (rounding,
//   exact costs and selection on the host), as bench_search's search/1024_starts_x70 on the CPU.
// Every iteration ends with the device idle (synchronize), so the times are whole steps. Without a CUDA device the
// program says so and exits with status 1.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <iostream>
#include <vector>

#include "ncp/backend/cublas.hpp"

#include "predictor.hpp"
#include "search.hpp"

namespace {

using namespace ncp::bench;
using gpu = ncp::backend::cublas;
using K = ncp::detail::kernels<gpu>;
using view = ncp::detail::view<float>;

void train_step(benchmark::State& state) {
    const ncp::index_t batch = state.range(0);
    seg_predictor<gpu> model;
    std::mt19937_64 gen(1);
    const ncp::Tensor<float, gpu> x = uniform<gpu>(batch, seg_predictor<gpu>::inputs, 1.7f, gen);
    const ncp::Tensor<float, gpu> y = uniform<gpu>(batch, 5, 1.7f, gen);
    const std::vector<parameter<float, gpu>*> params = model.parameters();
    tape<float, gpu> t;
    const auto step = [&] {
        t.clear();
        t.backward(smooth_l1_loss(model(t, t.input(x), true), t.input(y)));
        for (parameter<float, gpu>* p : params) {
            K::map<ncp::detail::fn::identity>(1, p->value.size(), -1e-3f, 1.0f, p->value.data(), p->value.size(),
                                              view::matrix(p->grad.data(), p->grad.size()));
        }
        K::synchronize();
    };
    step();
    const std::size_t mallocs = K::device_allocations();
    for (auto _ : state) step();
    if (K::device_allocations() != mallocs) state.SkipWithError("steady-state steps called cudaMalloc");
    const double flops = 3 * 2 * static_cast<double>(batch) * seg_predictor<gpu>::macs_per_sample;
    state.counters["GFLOP/s"] =
        benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
    state.counters["samples/s"] =
        benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
}

void search_step(benchmark::State& state) {
    const ncp::index_t codes = state.range(0);
    const ncp::index_t n = seg_predictor<gpu>::inputs;
    seg_predictor<gpu> model;
    for (parameter<float, gpu>* p : model.parameters()) p->requires_grad = false;
    std::mt19937_64 gen(2);
    parameter<float, gpu> code(uniform<gpu>(codes, n, 1.0f, gen));
    const auto lower = ncp::Tensor<float, gpu>::filled(1, n, -1.5f);
    const auto upper = ncp::Tensor<float, gpu>::filled(1, n, 1.5f);
    tape<float, gpu> t;
    const auto step = [&] {
        t.clear();
        const var<float, gpu> out = model(t, t.leaf(code), false);
        t.backward(ncp_step_loss(out));
        K::map<ncp::detail::fn::identity>(codes, n, -3.0f, 1.0f, code.value.data(), n,
                                          view::matrix(code.grad.data(), n));
        K::map<ncp::detail::fn::clamp>(codes, n, 1.0f, 0.0f, code.value.data(), n, view::matrix(code.value.data(), n),
                                       view::row(lower.data()), view::row(upper.data()));
        K::synchronize();
    };
    step();
    for (auto _ : state) step();
    state.counters["codes/s"] =
        benchmark::Counter(static_cast<double>(codes), benchmark::Counter::kIsIterationInvariantRate);
}

void train_run(benchmark::State& state) {
    ncp::io::run_config cfg;
    cfg.optimization.epoch = static_cast<int>(state.range(0));
    static const ncp::data::benchmark b = ncp::arch::make_synthetic({});
    std::int64_t steps = 0;
    for (auto _ : state) steps = ncp::train::train_predictor<gpu>(cfg, b).steps;
    state.counters["steps"] = static_cast<double>(steps);
    state.counters["ms/step"] = benchmark::Counter(static_cast<double>(steps) * 1e-3,
                                                   benchmark::Counter::kIsIterationInvariantRate |
                                                       benchmark::Counter::kInvert);
}

void search_1024(benchmark::State& state) { ncp::bench::run_search<gpu>(state, 1024, 1); }

/// The fastest repetition is the honest figure on a shared machine: run with --benchmark_repetitions.
double minimum(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

}  // namespace

BENCHMARK(train_step)->Arg(128)->Arg(1024)->Arg(8192)->Unit(benchmark::kMillisecond)->ComputeStatistics("min",
                                                                                                       minimum);
BENCHMARK(search_step)->Arg(1)->Arg(64)->Arg(1024)->Arg(16384)->Unit(benchmark::kMicrosecond)->ComputeStatistics(
    "min", minimum);

BENCHMARK(train_run)->Arg(1)->Arg(200)->Unit(benchmark::kSecond)->Iterations(1);
BENCHMARK(search_1024)->Name("search/1024_starts_x70")->Unit(benchmark::kMillisecond)->MinTime(2.0);

int main(int argc, char** argv) {
    const ncp::backend::cuda_devices devices = ncp::backend::probe_cuda_devices();
    if (devices.count == 0) {
        std::cerr << "bench_cublas_steps: no CUDA device to run on (" << devices.problem << ")\n";
        return 1;
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

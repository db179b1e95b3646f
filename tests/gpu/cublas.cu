// What only the cuBLAS backend has: errors without a device, the caching allocator, and agreement with the CPU
// backend to 1e-4 relative (NCP's seg predictor by hand and as nn::predictor: forward values and gradients with the
// same dropout masks; steps of each optimiser; a short training run's validation errors; a search trajectory); and
// the program's main. Without a usable CUDA device the main runs only the cases that need none (test suite
// "no device"), says so, and exits with 77, which ctest reports as a skip.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <span>
#include <string>
#include <vector>

#include <random>

#include "ncp/arch/synthetic.hpp"
#include "ncp/autograd/ops.hpp"
#include "ncp/backend/cublas.hpp"
#include "ncp/io/checkpoint.hpp"
#include "ncp/nn/predictor.hpp"
#include "ncp/optim/optimizers.hpp"
#include "ncp/search/editor.hpp"
#include "ncp/train/trainer.hpp"

#include "backends.hpp"
#include "test_support.hpp"

using ncp::test::error_of;

using ncp::index_t;
using ncp::backend::cublas;
using ncp::backend::eigen_cpu;
using namespace ncp::autograd;

namespace {

using gpu_kernels = ncp::detail::kernels<cublas>;

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

/// NCP's predictor for seg (docs/algorithm.md section 4): trunk BN(27) -> Linear(27, 256) -> BN -> swish ->
/// Dropout(0.5), heads Linear(256, 128) -> BN -> swish -> Dropout(p) -> Linear(128, |group|) for the groups [mIoU]
/// [mAcc, aAcc] [flops, params] with p = 0.5, 0.5, 0. Weights come from seeds, so both backends start from the same
/// values.
template <class B>
struct seg_predictor {
    using tensor = ncp::Tensor<float, B>;
    struct norm {
        parameter<float, B> gamma, beta;
        tensor running_mean, running_var;
        explicit norm(index_t n)
            : gamma(tensor::filled(1, n, 1)), beta(tensor::filled(1, n, 0)), running_mean(tensor::filled(1, n, 0)),
              running_var(tensor::filled(1, n, 1)) {}
        var<float, B> operator()(tape<float, B>& t, const var<float, B>& x, bool training) {
            return batch_norm(x, t.leaf(gamma), t.leaf(beta), running_mean, running_var, training);
        }
    };
    struct dense {
        parameter<float, B> weight, bias;
        dense(index_t in, index_t out, std::uint64_t seed)
            : weight(ncp::test::uniform<float, B>(out, in, seed, -1 / std::sqrt(in), 1 / std::sqrt(in))),
              bias(ncp::test::uniform<float, B>(1, out, seed + 1, -1 / std::sqrt(in), 1 / std::sqrt(in))) {}
        var<float, B> operator()(tape<float, B>& t, const var<float, B>& x) {
            return linear(x, t.leaf(weight), t.leaf(bias));
        }
    };
    struct head {
        dense fc;
        norm bn;
        float drop;
        dense out;
    };

    norm bn0{27};
    dense fc{27, 256, 1};
    norm bn1{256};
    std::vector<head> heads;
    random_stream stream{233, 0};

    seg_predictor() {
        const index_t sizes[] = {1, 2, 2};
        const float drops[] = {0.5f, 0.5f, 0.0f};
        for (int g = 0; g < 3; ++g) heads.push_back({dense(256, 128, 10 + 4 * g), norm(128), drops[g],
                                                     dense(128, sizes[g], 12 + 4 * g)});
    }

    var<float, B> forward(tape<float, B>& t, const var<float, B>& x, bool training) {
        var<float, B> h = dropout(swish(bn1(t, fc(t, bn0(t, x, training)), training)), 0.5f, stream, training);
        std::vector<var<float, B>> outs;
        for (head& g : heads) {
            outs.push_back(g.out(t, dropout(swish(g.bn(t, g.fc(t, h), training)), g.drop, stream, training)));
        }
        return concat_cols(std::span<const var<float, B>>(outs));
    }
    /// Every parameter, and whether its gradient is analytically zero: a shift that reaches a batch norm in training
    /// through linear maps only (the linear biases, the input norm's beta) is cancelled by the norm's batch mean, so
    /// its computed gradient is rounding noise.
    std::vector<std::pair<parameter<float, B>*, bool>> parameters() {
        std::vector<std::pair<parameter<float, B>*, bool>> all = {
            {&bn0.gamma, false}, {&bn0.beta, true}, {&fc.weight, false}, {&fc.bias, true},
            {&bn1.gamma, false}, {&bn1.beta, false}};
        for (head& g : heads) {
            for (auto* p : {&g.fc.weight, &g.fc.bias, &g.bn.gamma, &g.bn.beta, &g.out.weight, &g.out.bias}) {
                all.push_back({p, p == &g.fc.bias});
            }
        }
        return all;
    }
};

/// What one backend computes on the seg predictor, on the host: a training step and a search step.
struct step_results {
    std::vector<std::vector<float>> values;  ///< outputs and losses of both steps, running statistics
    std::vector<std::vector<float>> grads;   ///< parameter gradients (training), code gradient (search)
    std::vector<bool> zero_grad;             ///< per entry of grads: analytically zero
};

template <class B>
step_results run_steps() {
    using tensor = ncp::Tensor<float, B>;
    seg_predictor<B> model;
    step_results r;
    tape<float, B> t;
    // Training: a batch of 128 z-scored codes, smooth L1 against 5 targets.
    const tensor codes = ncp::test::uniform<float, B>(128, 27, 100, -2, 2);
    const tensor targets = ncp::test::uniform<float, B>(128, 5, 101, -2, 2);
    const var<float, B> out = model.forward(t, t.input(codes), true);
    const var<float, B> loss = smooth_l1_loss(out, t.input(targets));
    t.backward(loss);
    r.values = {out.value().to_host(), loss.value().to_host(), model.bn0.running_mean.to_host(),
                model.bn1.running_var.to_host()};
    for (const auto& [p, zero] : model.parameters()) {
        r.grads.push_back(p->grad.to_host());
        r.zero_grad.push_back(zero);
        p->requires_grad = false;
    }
    // Search: NCP's objective through the frozen model in eval mode, differentiated w.r.t. 8 start codes.
    t.clear();
    parameter<float, B> start(ncp::test::uniform<float, B>(8, 27, 102, -2, 2));
    const var<float, B> predicted = model.forward(t, t.leaf(start), false);
    const ncp::search::objective_layout layout{{1}, {1}, 0.5, true};
    const ncp::search::output_terms terms{5, 3, {}, {}};
    const var<float, B> objective =
        ncp::search::step_loss<float, B>(layout, std::span(&predicted, 1), std::span(&terms, 1), 1.0);
    t.backward(objective);
    r.values.push_back(predicted.value().to_host());
    r.values.push_back(objective.value().to_host());
    r.grads.push_back(start.grad.to_host());
    r.zero_grad.push_back(false);
    return r;
}

double max_abs(const std::vector<float>& v) {
    double m = 0;
    for (const float x : v) m = std::max(m, std::abs(double(x)));
    return m;
}

/// The largest difference relative to the largest magnitude of the CPU's values.
double relative_difference(const std::vector<float>& cpu, const std::vector<float>& gpu) {
    REQUIRE(cpu.size() == gpu.size());
    double d = 0;
    for (std::size_t i = 0; i < cpu.size(); ++i) d = std::max(d, std::abs(double(cpu[i]) - double(gpu[i])));
    return d / std::max(max_abs(cpu), 1e-30);
}

/// Values to 1e-4 relative; gradients likewise, except analytically zero ones, which must be negligible on both.
void check_agreement(const step_results& cpu, const step_results& gpu) {
    for (std::size_t k = 0; k < cpu.values.size(); ++k) {
        CAPTURE(k);
        CHECK(relative_difference(cpu.values[k], gpu.values[k]) < 1e-4);
    }
    double largest = 0;
    for (const auto& g : cpu.grads) largest = std::max(largest, max_abs(g));
    for (std::size_t k = 0; k < cpu.grads.size(); ++k) {
        CAPTURE(k);
        if (cpu.zero_grad[k]) {  // rounding noise on both sides: both negligible
            CHECK(max_abs(cpu.grads[k]) < 1e-5 * largest);
            CHECK(max_abs(gpu.grads[k]) < 1e-5 * largest);
        } else {
            CHECK(relative_difference(cpu.grads[k], gpu.grads[k]) < 1e-4);
        }
    }
}

/// nn::predictor for seg (27 inputs, outputs [mIoU] [mAcc, aAcc] [flops, params]) from seed 233: the same initial
/// weights and dropout streams on every backend.
template <class B>
ncp::nn::predictor<float, B> seg_model() {
    const ncp::nn::predictor_spec spec;  // seg's defaults (a named object: g++ 12 fails on the temporary here)
    ncp::nn::normalisation stats{std::vector<double>(27, 0.0), std::vector<double>(27, 1.0),
                                 std::vector<double>(5, 0.0), std::vector<double>(5, 1.0)};
    return ncp::nn::predictor<float, B>(spec, stats, 233);
}

/// A training step of nn::predictor (dropout on): outputs, loss, every parameter gradient.
template <class B>
step_results predictor_step() {
    auto model = seg_model<B>();
    tape<float, B> t;
    const auto codes = ncp::test::uniform<float, B>(128, 27, 100, -2, 2);
    const auto targets = ncp::test::uniform<float, B>(128, 5, 101, -2, 2);
    const var<float, B> out = model.forward(t.input(codes));
    const var<float, B> loss = smooth_l1_loss(out, t.input(targets));
    t.backward(loss);
    step_results r;
    r.values = {out.value().to_host(), loss.value().to_host()};
    model.for_each_parameter([&](const std::string& name, auto& p) {
        r.grads.push_back(p.grad.to_host());
        // A linear bias ahead of a batch norm in training (and the input norm's beta) is cancelled by the batch mean.
        r.zero_grad.push_back(name == "fc.0.bias" || name == "fc.1.bias" ||
                              (name.starts_with("nets.") && name.ends_with(".0.bias")));
    });
    return r;
}

/// Two steps of the optimiser `make` builds, over 1000 values with seeded gradients; the values afterwards.
template <class B, class Make>
std::vector<float> optimizer_steps(Make make) {
    auto value = ncp::test::uniform<float, B>(1, 1000, 7);
    auto grad = ncp::Tensor<float, B>::filled(1, 1000, 0.0f);
    auto opt = make(std::vector<ncp::optim::parameter<float>>{{value.data(), grad.data(), value.size()}});
    for (std::uint64_t step = 0; step < 2; ++step) {
        grad.copy_from_host(ncp::test::uniform_values<float>(1000, 8 + step));
        opt.step();
    }
    return value.to_host();
}

/// A short training run with `optimizer` on the synthetic benchmark, without dropout, so that the comparison of the
/// backends (the GPU steps whole batches, the CPU sums row blocks) is one of rounding.
template <class B>
ncp::train::result short_training(const std::string& optimizer) {
    ncp::io::run_config cfg;
    cfg.optimization.optimizer = optimizer;
    cfg.network.layer1_drop_ratio = 0;
    cfg.network.layer2_drop_ratio = {0, 0, 0};
    cfg.optimization.epoch = 4;
    cfg.seed = 233;
    static const ncp::data::benchmark b = ncp::arch::make_synthetic({.records = 400, .seed = 5});
    return ncp::train::train_predictor<B>(cfg, b, {.threads = 1});
}

/// 80 random starts x 10 iterations through the editor on backend B, with the model of `record`.
template <class B>
ncp::search::result<ncp::search::mr_space> search_trajectory(const ncp::io::model_record& record) {
    std::vector<ncp::search::task<float, B>> tasks(1);
    tasks[0].name = "seg";
    tasks[0].models.push_back(ncp::io::make_predictor<float, B>(record, "seg"));
    ncp::search::options opt;
    opt.iters = 10;
    ncp::search::editor<ncp::search::mr_space, float, B> ed(ncp::search::mr_space(), std::move(tasks), opt);
    std::mt19937_64 gen(3);
    std::vector<ncp::search::mr_space::code_type> starts;
    for (int i = 0; i < 80; ++i) starts.push_back(ed.space().random_code(gen));
    return ed.run(starts);
}

}  // namespace

TEST_CASE("without a device, the backend's errors name the CUDA call and CUDA's error" *
          doctest::test_suite("no device")) {
    const ncp::backend::cuda_devices devices = ncp::backend::probe_cuda_devices();
    CHECK(devices.count == 0);
    CHECK(starts_with(devices.problem, "cudaGetDeviceCount "));
    CHECK(starts_with(error_of([] { ncp::backend::require_cuda_device(); }),
                      "no CUDA device is usable: cudaGetDeviceCount "));
    CHECK(gpu_kernels::allocate<float>(0) == nullptr);  // nothing asked, nothing done
    const std::string malloc_error = error_of([] { (void)gpu_kernels::allocate<float>(10); });
    CHECK(starts_with(malloc_error, "cuBLAS backend: cudaMalloc of 256 bytes failed: cudaError"));
    CHECK(starts_with(error_of([] { ncp::Tensor<float, cublas> t(300, 2); }),
                      "cuBLAS backend: cudaMalloc of 4096 bytes failed: cudaError"));
    CHECK(starts_with(error_of([] { gpu_kernels::synchronize(); }),
                      "cuBLAS backend: cudaStreamCreateWithFlags failed: cudaError"));
    // The error is reported again, not remembered as success or turned into another.
    CHECK(error_of([] { (void)gpu_kernels::allocate<float>(10); }) == malloc_error);
}

TEST_CASE("the pool: freed blocks serve later allocations of their size class without cudaMalloc") {
    using K = gpu_kernels;
    float* a = K::allocate<float>(1000);  // 4000 bytes: a 4096-byte block
    K::deallocate(a, 1000);
    const std::size_t mallocs = K::device_allocations();
    float* b = K::allocate<float>(900);
    CHECK(b == a);
    double* c = K::allocate<double>(512);  // also 4096 bytes, but the block is taken: a new one
    CHECK(K::device_allocations() == mallocs + 1);
    K::deallocate(b, 900);
    K::deallocate(c, 512);
    // A training-sized step twice: the second one allocates nothing new on the device (reductions' partial sums
    // included).
    std::size_t after_first = 0;
    for (int step = 0; step < 2; ++step) {
        ncp::Tensor<float, cublas> x = ncp::test::uniform<float, cublas>(700, 400, 7);
        tape<float, cublas> t;
        parameter<float, cublas> w(ncp::test::uniform<float, cublas>(30, 400, 8));
        t.backward(mean(swish(linear(t.input(x), t.leaf(w)))));
        if (step == 0) after_first = K::device_allocations();
    }
    CHECK(K::device_allocations() == after_first);
}

TEST_CASE("the CPU and cuBLAS backends agree on the seg predictor: values and gradients to 1e-4 relative") {
    check_agreement(run_steps<eigen_cpu>(), run_steps<cublas>());
}


TEST_CASE("the backends agree on nn::predictor: a training step's outputs, loss and gradients to 1e-4 relative") {
    check_agreement(predictor_step<eigen_cpu>(), predictor_step<cublas>());
}

TEST_CASE("the backends agree on two steps of Adam, AdamW and SGD (momentum, Nesterov, L2) to 1e-4 relative") {
    using namespace ncp::optim;
    const adam_options adams[] = {{.lr = 0.01, .weight_decay = 1e-2},
                                  {.lr = 0.01, .weight_decay = 0.1, .decoupled = true}};
    for (const adam_options& o : adams) {
        CAPTURE(o.decoupled);
        const auto cpu = optimizer_steps<eigen_cpu>([&](auto ps) { return adam<float, eigen_cpu>(std::move(ps), o); });
        const auto gpu = optimizer_steps<cublas>([&](auto ps) { return adam<float, cublas>(std::move(ps), o); });
        CHECK(relative_difference(cpu, gpu) < 1e-4);
    }
    const sgd_options sgds[] = {{.lr = 0.01, .momentum = 0.9, .weight_decay = 1e-2},
                                {.lr = 0.01, .momentum = 0.9, .nesterov = true},
                                {.lr = 0.01, .momentum = 0.5, .dampening = 0.1}};
    for (const sgd_options& o : sgds) {
        CAPTURE(o.nesterov);
        const auto cpu = optimizer_steps<eigen_cpu>([&](auto ps) { return sgd<float, eigen_cpu>(std::move(ps), o); });
        const auto gpu = optimizer_steps<cublas>([&](auto ps) { return sgd<float, cublas>(std::move(ps), o); });
        CHECK(relative_difference(cpu, gpu) < 1e-4);
    }
}

TEST_CASE("the backends agree on a short training run (validation MAE per epoch) and on a search trajectory") {
    // SGD to 1e-4; Adam to 1e-3: it turns the rounding noise of gradients a batch norm cancels into steps of about
    // lr (on the CPU, whole batches and batches of four row blocks differ by 5e-4 after 4 epochs with Adam, 1e-8
    // with SGD).
    ncp::train::result cpu;
    for (const auto& run : {std::pair{"sgd", 1e-4}, {"adam", 1e-3}}) {
        const std::string optimizer = run.first;
        const double tolerance = run.second;
        CAPTURE(optimizer);
        cpu = short_training<eigen_cpu>(optimizer);
        const ncp::train::result gpu = short_training<cublas>(optimizer);
        CHECK(gpu.split.train == cpu.split.train);
        CHECK(gpu.steps == cpu.steps);
        CHECK(gpu.best_epoch == cpu.best_epoch);
        REQUIRE(gpu.epochs.size() == cpu.epochs.size());
        for (std::size_t e = 0; e < cpu.epochs.size(); ++e) {
            CAPTURE(e);
            for (std::size_t c = 0; c < cpu.epochs[e].val_mae.size(); ++c) {
                CAPTURE(c);
                CHECK(std::abs(gpu.epochs[e].val_mae[c] - cpu.epochs[e].val_mae[c]) <
                      tolerance * cpu.epochs[e].val_mae[c]);
            }
        }
    }
    // The trajectory from the CPU's best model on both backends: continuous codes and their predictions.
    const auto on_cpu = search_trajectory<eigen_cpu>(cpu.best);
    const auto on_gpu = search_trajectory<cublas>(cpu.best);
    const auto as_float = [](const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); };
    CHECK(relative_difference(as_float(on_cpu.continuous), as_float(on_gpu.continuous)) < 1e-4);
    CHECK(relative_difference(as_float(on_cpu.predicted), as_float(on_gpu.predicted)) < 1e-4);
}

int main(int argc, char** argv) {
    doctest::Context context(argc, argv);
    const ncp::backend::cuda_devices devices = ncp::backend::probe_cuda_devices();
    if (devices.count > 0) {
        context.addFilter("test-suite-exclude", "no device");
        return context.run();
    }
    std::cout << "skipped: the cuBLAS backend's tests need a CUDA device (" << devices.problem
              << "); running only the no-device cases\n";
    context.addFilter("test-suite", "no device");
    const int failed = context.run();
    return failed != 0 || context.shouldExit() ? failed : 77;
}

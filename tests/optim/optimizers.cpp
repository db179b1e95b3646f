/// Adam, AdamW and SGD: hand-computed steps, slice updates, and PyTorch's own optimisers on the same tensors. The
/// bodies run on the backend under test (tests/backends.hpp): the CPU here, the GPU in tests/gpu.

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "backends.hpp"
#include "ncp/optim/optimizers.hpp"
#include "ncp/optim/schedulers.hpp"
#include "torch_reference.hpp"

namespace {

/// One parameter on backend B whose gradient the test sets before each step.
template <class B>
struct optim_param {
    ncp::Tensor<float, B> value, grad;

    explicit optim_param(const std::vector<float>& initial)
        : value(ncp::Tensor<float, B>::from_host(initial)),
          grad(ncp::Tensor<float, B>::filled(1, static_cast<ncp::index_t>(initial.size()), 0.0f)) {}
    std::vector<ncp::optim::parameter<float>> views() { return {{value.data(), grad.data(), value.size()}}; }
    void set_grad(const std::vector<float>& g) { grad.copy_from_host(g); }
    /// The single value of a one-element parameter.
    float scalar() const { return value.to_host()[0]; }
};

}  // namespace

TEST_CASE_TEMPLATE("adam by hand: bias correction makes the first steps lr x sign(g)", P, ncp::test::on<float>) {
    using B = typename P::backend;
    using ncp::optim::adam;
    optim_param<B> p({1.0f});
    adam<float, B> opt(p.views(), {.lr = 0.1});
    p.set_grad({0.5f});
    opt.step();  // m = 0.05, v = 0.00025; corrected: 0.5 and 0.25 -> p -= 0.1 x 0.5 / (0.5 + 1e-8)
    CHECK(p.scalar() == doctest::Approx(0.9).epsilon(1e-6));
    opt.step();  // m = 0.095 / 0.19 = 0.5, v = 0.00049975 / 0.001999 = 0.25
    CHECK(p.scalar() == doctest::Approx(0.8).epsilon(1e-6));
    CHECK(opt.steps() == 2);

    optim_param<B> q({2.0f});
    adam<float, B> l2(q.views(), {.lr = 0.1, .weight_decay = 0.5});
    q.set_grad({-1.0f});  // + 0.5 x 2: the decayed gradient is 0, so nothing moves
    l2.step();
    CHECK(q.scalar() == 2.0f);

    optim_param<B> w({2.0f});
    adam<float, B> adamw(w.views(), {.lr = 0.1, .weight_decay = 0.5, .decoupled = true});
    w.set_grad({-1.0f});  // p = 2 (1 - 0.05) = 1.9, then + 0.1 x sign
    adamw.step();
    CHECK(w.scalar() == doctest::Approx(2.0));

    optim_param<B> eps({1.0f});
    adam<float, B> tiny(eps.views(), {.lr = 1.0, .eps = 1.0});
    eps.set_grad({1.0f});  // denominator 1 + eps = 2
    tiny.step();
    CHECK(eps.scalar() == doctest::Approx(0.5));
}

TEST_CASE_TEMPLATE("sgd by hand: momentum buffer starts as the gradient; Nesterov looks ahead; L2 decay", P,
                   ncp::test::on<float>) {
    using B = typename P::backend;
    using ncp::optim::sgd;
    optim_param<B> p({1.0f});
    sgd<float, B> heavy(p.views(), {.lr = 0.1, .momentum = 0.9});
    p.set_grad({0.5f});
    heavy.step();  // buf 0.5
    CHECK(p.scalar() == doctest::Approx(0.95));
    heavy.step();  // buf 0.45 + 0.5
    CHECK(p.scalar() == doctest::Approx(0.855));

    optim_param<B> n({1.0f});
    sgd<float, B> nesterov(n.views(), {.lr = 0.1, .momentum = 0.9, .nesterov = true});
    n.set_grad({0.5f});
    nesterov.step();  // d = 0.5 + 0.9 x 0.5
    CHECK(n.scalar() == doctest::Approx(0.905));
    nesterov.step();  // buf 0.95, d = 0.5 + 0.855
    CHECK(n.scalar() == doctest::Approx(0.7695));

    optim_param<B> d({1.0f});
    sgd<float, B> decay(d.views(), {.lr = 0.1, .weight_decay = 0.1});
    d.set_grad({0.5f});
    decay.step();  // d = 0.5 + 0.1
    CHECK(d.scalar() == doctest::Approx(0.94));
    CHECK_THROWS_AS((sgd<float, B>(d.views(), {.nesterov = true})), ncp::error);
}

TEST_CASE_TEMPLATE("slices updated separately equal one full step", P, ncp::test::on<float>) {
    using B = typename P::backend;
    std::vector<float> initial(37), g(37);
    for (int i = 0; i < 37; ++i) {
        initial[i] = std::sin(0.3f * i);
        g[i] = std::cos(0.7f * i);
    }
    optim_param<B> a(initial), b(initial);
    a.set_grad(g);
    b.set_grad(g);
    ncp::optim::adam<float, B> whole(a.views(), {.lr = 0.01, .weight_decay = 1e-3});
    ncp::optim::adam<float, B> parts(b.views(), {.lr = 0.01, .weight_decay = 1e-3});
    for (int s = 0; s < 3; ++s) {
        whole.step();
        parts.begin_step();
        parts.update(0, 20, 37);
        parts.update(0, 0, 20);
    }
    CHECK(a.value.to_host() == b.value.to_host());
}

TEST_CASE_TEMPLATE("a few steps of PyTorch's Adam, AdamW and SGD (with onecycle moving lr and momentum)", P,
                   ncp::test::on<float>) {
    using B = typename P::backend;
    using namespace ncp::optim;
    const auto ref = ncp::test::torch_reference(R"(
import math, torch
def grads(step):
    return torch.tensor([math.sin(1.3 * i + 0.7 * step) * (1 + i) for i in range(7)], dtype=torch.float32)
def run(name, make, steps=6, onecycle=False):
    p = torch.nn.Parameter(torch.tensor([math.cos(0.9 * i) for i in range(7)], dtype=torch.float32))
    opt = make([p])
    s = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=steps, pct_start=0.3,
                                            div_factor=10) if onecycle else None
    for k in range(steps):
        p.grad = grads(k)
        opt.step()
        if s: s.step()
    print(name, " ".join(repr(float(v)) for v in p.detach()))
O = torch.optim
run("adam", lambda ps: O.Adam(ps, lr=0.01, weight_decay=1e-2))
run("adam_onecycle", lambda ps: O.Adam(ps, lr=0.05, weight_decay=1e-7), onecycle=True)
run("adamw", lambda ps: O.AdamW(ps, lr=0.01, weight_decay=0.1))
run("sgd", lambda ps: O.SGD(ps, lr=0.01, momentum=0.9, weight_decay=1e-2))
run("sgd_nesterov", lambda ps: O.SGD(ps, lr=0.01, momentum=0.9, nesterov=True))
run("sgd_onecycle", lambda ps: O.SGD(ps, lr=0.05, momentum=0.9), onecycle=True)
)");
    if (!ref) return;
    auto run = [&](const std::string& name, auto make, bool onecycle) {
        constexpr int steps = 6;
        std::vector<float> initial(7), grad(7);
        for (int i = 0; i < 7; ++i) initial[i] = static_cast<float>(std::cos(0.9 * i));
        optim_param<B> p(initial);
        auto opt = make(p.views());
        scheduler s = one_cycle({.max_lr = 0.05, .total_steps = steps});
        if (onecycle) set_rates(opt, s);
        for (int k = 0; k < steps; ++k) {
            for (int i = 0; i < 7; ++i) grad[i] = static_cast<float>(std::sin(1.3 * i + 0.7 * k) * (1 + i));
            p.set_grad(grad);
            opt.step();
            if (onecycle) {
                advance(s);
                set_rates(opt, s);
            }
        }
        const std::vector<float> value = p.value.to_host();
        const auto& want = ref->at(name);
        REQUIRE(want.size() == 7);
        for (int i = 0; i < 7; ++i) {
            CAPTURE(name);
            CAPTURE(i);
            CHECK(value[i] == doctest::Approx(want[i]).epsilon(2e-6));
        }
    };
    auto adam_with = [](adam_options o) { return [o](auto ps) { return adam<float, B>(std::move(ps), o); }; };
    auto sgd_with = [](sgd_options o) { return [o](auto ps) { return sgd<float, B>(std::move(ps), o); }; };
    run("adam", adam_with({.lr = 0.01, .weight_decay = 1e-2}), false);
    run("adam_onecycle", adam_with({.lr = 0.05, .weight_decay = 1e-7}), true);
    run("adamw", adam_with({.lr = 0.01, .weight_decay = 0.1, .decoupled = true}), false);
    run("sgd", sgd_with({.lr = 0.01, .momentum = 0.9, .weight_decay = 1e-2}), false);
    run("sgd_nesterov", sgd_with({.lr = 0.01, .momentum = 0.9, .nesterov = true}), false);
    run("sgd_onecycle", sgd_with({.lr = 0.05, .momentum = 0.9}), true);
}

/// Adam, AdamW and SGD: hand-computed steps, slice updates, and PyTorch's own optimisers on the same tensors.

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "ncp/optim/optimizers.hpp"
#include "ncp/optim/schedulers.hpp"
#include "torch_reference.hpp"

using namespace ncp::optim;

namespace {

/// One parameter of one element whose gradient the test sets before each step.
struct scalar_param {
    float value, grad = 0;
    std::vector<parameter<float>> views() { return {{&value, &grad, 1}}; }
};

}  // namespace

TEST_CASE("adam by hand: bias correction makes the first steps lr x sign(g)") {
    scalar_param p{1.0f};
    adam<float> opt(p.views(), {.lr = 0.1});
    p.grad = 0.5f;
    opt.step();  // m = 0.05, v = 0.00025; corrected: 0.5 and 0.25 -> p -= 0.1 x 0.5 / (0.5 + 1e-8)
    CHECK(p.value == doctest::Approx(0.9).epsilon(1e-6));
    opt.step();  // m = 0.095 / 0.19 = 0.5, v = 0.00049975 / 0.001999 = 0.25
    CHECK(p.value == doctest::Approx(0.8).epsilon(1e-6));
    CHECK(opt.steps() == 2);

    scalar_param q{2.0f};
    adam<float> l2(q.views(), {.lr = 0.1, .weight_decay = 0.5});
    q.grad = -1.0f;  // + 0.5 x 2: the decayed gradient is 0, so nothing moves
    l2.step();
    CHECK(q.value == 2.0f);

    scalar_param w{2.0f};
    adam<float> adamw(w.views(), {.lr = 0.1, .weight_decay = 0.5, .decoupled = true});
    w.grad = -1.0f;  // p = 2 (1 - 0.05) = 1.9, then + 0.1 x sign
    adamw.step();
    CHECK(w.value == doctest::Approx(2.0));

    scalar_param eps{1.0f};
    adam<float> tiny(eps.views(), {.lr = 1.0, .eps = 1.0});
    eps.grad = 1.0f;  // denominator 1 + eps = 2
    tiny.step();
    CHECK(eps.value == doctest::Approx(0.5));
}

TEST_CASE("sgd by hand: momentum buffer starts as the gradient; Nesterov looks ahead; L2 decay") {
    scalar_param p{1.0f};
    sgd<float> heavy(p.views(), {.lr = 0.1, .momentum = 0.9});
    p.grad = 0.5f;
    heavy.step();  // buf 0.5
    CHECK(p.value == doctest::Approx(0.95));
    heavy.step();  // buf 0.45 + 0.5
    CHECK(p.value == doctest::Approx(0.855));

    scalar_param n{1.0f};
    sgd<float> nesterov(n.views(), {.lr = 0.1, .momentum = 0.9, .nesterov = true});
    n.grad = 0.5f;
    nesterov.step();  // d = 0.5 + 0.9 x 0.5
    CHECK(n.value == doctest::Approx(0.905));
    nesterov.step();  // buf 0.95, d = 0.5 + 0.855
    CHECK(n.value == doctest::Approx(0.7695));

    scalar_param d{1.0f};
    sgd<float> decay(d.views(), {.lr = 0.1, .weight_decay = 0.1});
    d.grad = 0.5f;
    decay.step();  // d = 0.5 + 0.1
    CHECK(d.value == doctest::Approx(0.94));
    CHECK_THROWS_AS(sgd<float>(d.views(), {.nesterov = true}), ncp::error);
}

TEST_CASE("slices updated separately equal one full step") {
    std::vector<float> a(37), b(37), g(37);
    for (int i = 0; i < 37; ++i) {
        a[i] = b[i] = std::sin(0.3f * i);
        g[i] = std::cos(0.7f * i);
    }
    adam<float> whole({{a.data(), g.data(), 37}}, {.lr = 0.01, .weight_decay = 1e-3});
    adam<float> parts({{b.data(), g.data(), 37}}, {.lr = 0.01, .weight_decay = 1e-3});
    for (int s = 0; s < 3; ++s) {
        whole.step();
        parts.begin_step();
        parts.update(0, 20, 37);
        parts.update(0, 0, 20);
    }
    CHECK(a == b);
}

TEST_CASE("a few steps of PyTorch's Adam, AdamW and SGD (with onecycle moving lr and momentum)") {
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
        std::vector<float> value(7), grad(7);
        for (int i = 0; i < 7; ++i) value[i] = static_cast<float>(std::cos(0.9 * i));
        auto opt = make(std::vector<parameter<float>>{{value.data(), grad.data(), 7}});
        scheduler s = one_cycle({.max_lr = 0.05, .total_steps = steps});
        if (onecycle) set_rates(opt, s);
        for (int k = 0; k < steps; ++k) {
            for (int i = 0; i < 7; ++i) grad[i] = static_cast<float>(std::sin(1.3 * i + 0.7 * k) * (1 + i));
            opt.step();
            if (onecycle) {
                advance(s);
                set_rates(opt, s);
            }
        }
        const auto& want = ref->at(name);
        REQUIRE(want.size() == 7);
        for (int i = 0; i < 7; ++i) {
            CAPTURE(name);
            CAPTURE(i);
            CHECK(value[i] == doctest::Approx(want[i]).epsilon(2e-6));
        }
    };
    auto adam_with = [](adam_options o) { return [o](auto ps) { return adam<float>(std::move(ps), o); }; };
    auto sgd_with = [](sgd_options o) { return [o](auto ps) { return sgd<float>(std::move(ps), o); }; };
    run("adam", adam_with({.lr = 0.01, .weight_decay = 1e-2}), false);
    run("adam_onecycle", adam_with({.lr = 0.05, .weight_decay = 1e-7}), true);
    run("adamw", adam_with({.lr = 0.01, .weight_decay = 0.1, .decoupled = true}), false);
    run("sgd", sgd_with({.lr = 0.01, .momentum = 0.9, .weight_decay = 1e-2}), false);
    run("sgd_nesterov", sgd_with({.lr = 0.01, .momentum = 0.9, .nesterov = true}), false);
    run("sgd_onecycle", sgd_with({.lr = 0.05, .momentum = 0.9}), true);
}

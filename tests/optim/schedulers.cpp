/// Learning-rate schedules: hand-computed values, then the sequences of PyTorch's own schedulers.

#include <doctest/doctest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "ncp/optim/schedulers.hpp"
#include "torch_reference.hpp"

using namespace ncp::optim;

TEST_CASE("onecycle by hand: phase ends at pct_start x total - 1 and total - 1") {
    // 10 steps, pct 0.3: rise over steps 0..2, fall over 2..9. max_lr 0.01, div 10 -> start 0.001, end 1e-7.
    one_cycle s({.max_lr = 0.01, .total_steps = 10});
    CHECK(s.lr() == doctest::Approx(0.001));
    CHECK(*s.momentum() == doctest::Approx(0.95));
    s.step();
    CHECK(s.lr() == doctest::Approx(0.0055));  // half way up a cosine
    CHECK(*s.momentum() == doctest::Approx(0.90));
    s.step();
    CHECK(s.lr() == doctest::Approx(0.01));
    CHECK(*s.momentum() == doctest::Approx(0.85));
    for (int i = 0; i < 7; ++i) s.step();
    CHECK(s.step_count() == 9);
    CHECK(s.lr() == doctest::Approx(1e-7));
    CHECK(*s.momentum() == doctest::Approx(0.95));
    s.step();  // the loop's last step() after the last batch is allowed
    CHECK_THROWS_AS(s.step(), ncp::error);
    CHECK_FALSE(one_cycle({.total_steps = 10, .cycle_momentum = false}).momentum().has_value());
    CHECK_THROWS_AS(one_cycle({.total_steps = 0}), ncp::error);
}

TEST_CASE("cosine, exponential and multi-step by hand") {
    cosine_annealing c(1.0, 4);
    std::vector<double> lrs = {c.lr()};
    for (int i = 0; i < 4; ++i) {
        c.step();
        lrs.push_back(c.lr());
    }
    const double expected[] = {1, (1 + std::cos(std::numbers::pi / 4)) / 2, 0.5, (1 - std::cos(std::numbers::pi / 4)) / 2, 0};
    for (int i = 0; i < 5; ++i) CHECK(lrs[i] == doctest::Approx(expected[i]).epsilon(1e-14));
    c.step();  // beyond T_max the recursive form climbs again
    CHECK(c.lr() == doctest::Approx((1 - std::cos(std::numbers::pi / 4)) / 2).epsilon(1e-14));

    exponential e(1.0, 0.97);
    e.step();
    e.step();
    CHECK(e.lr() == doctest::Approx(0.9409));

    multi_step m(1.0, {2, 4, 4}, 0.1);
    std::vector<double> got;
    for (int i = 0; i < 6; ++i, m.step()) got.push_back(m.lr());
    const double want[] = {1, 1, 0.1, 0.1, 0.001, 0.001};  // milestone 4 listed twice: gamma^2
    for (int i = 0; i < 6; ++i) CHECK(got[i] == doctest::Approx(want[i]));
}

TEST_CASE("the scheduler variant drives an optimiser's lr and momentum") {
    struct recorder {
        double lr = 0, momentum = -1;
        void set_lr(double v) { lr = v; }
        void set_momentum(double v) { momentum = v; }
    } opt;
    scheduler s = one_cycle({.max_lr = 0.01, .total_steps = 10});
    set_rates(opt, s);
    CHECK(opt.lr == doctest::Approx(0.001));
    CHECK(opt.momentum == doctest::Approx(0.95));
    advance(s);
    set_rates(opt, s);
    CHECK(opt.lr == doctest::Approx(0.0055));
    scheduler e = exponential(1.0, 0.5);
    opt.momentum = -1;
    advance(e);
    set_rates(opt, e);
    CHECK(opt.lr == 0.5);
    CHECK(opt.momentum == -1);  // not cycled: left alone
}

TEST_CASE("the sequences of PyTorch's schedulers") {
    const auto ref = ncp::test::torch_reference(R"(
import torch
def run(name, make, steps, opt_kind="adam"):
    p = [torch.nn.Parameter(torch.zeros(1))]
    opt = torch.optim.Adam(p, lr=1e-2) if opt_kind == "adam" else torch.optim.SGD(p, lr=1e-2, momentum=0.9)
    s = make(opt)
    lrs, moms = [], []
    for _ in range(steps):
        g = opt.param_groups[0]
        lrs.append(g["lr"]); moms.append(g["betas"][0] if opt_kind == "adam" else g["momentum"])
        opt.step(); s.step()
    g = opt.param_groups[0]
    lrs.append(g["lr"]); moms.append(g["betas"][0] if opt_kind == "adam" else g["momentum"])
    print(name + "_lr", " ".join(repr(v) for v in lrs))
    print(name + "_mom", " ".join(repr(v) for v in moms))
S = torch.optim.lr_scheduler
run("onecycle", lambda o: S.OneCycleLR(o, max_lr=1e-2, total_steps=3200, pct_start=0.3, div_factor=10,
                                       base_momentum=0.85, max_momentum=0.95), 3200)
run("onecycle_sgd", lambda o: S.OneCycleLR(o, max_lr=0.05, total_steps=37, pct_start=0.25, div_factor=10), 37, "sgd")
run("cosine", lambda o: S.CosineAnnealingLR(o, T_max=37, eta_min=1e-4), 37)
run("exp", lambda o: S.ExponentialLR(o, gamma=0.97), 20)
run("step", lambda o: S.MultiStepLR(o, milestones=[3, 6, 9], gamma=0.1), 12)
)");
    if (!ref) return;
    auto compare = [&](const std::string& name, scheduler s, int steps, bool momentum) {
        const auto& want_lr = ref->at(name + "_lr");
        const auto& want_m = ref->at(name + "_mom");
        REQUIRE(want_lr.size() == static_cast<std::size_t>(steps + 1));
        for (int i = 0; i <= steps; ++i) {
            CAPTURE(name);
            CAPTURE(i);
            std::visit(
                [&](const auto& sch) {
                    CHECK(sch.lr() == doctest::Approx(want_lr[i]).epsilon(1e-13));
                    if (momentum) CHECK(*sch.momentum() == doctest::Approx(want_m[i]).epsilon(1e-13));
                },
                s);
            if (i < steps) advance(s);
        }
    };
    compare("onecycle", one_cycle({.max_lr = 1e-2, .total_steps = 3200}), 3200, true);
    compare("onecycle_sgd", one_cycle({.max_lr = 0.05, .total_steps = 37, .pct_start = 0.25}), 37, true);
    compare("cosine", cosine_annealing(1e-2, 37, 1e-4), 37, false);
    compare("exp", exponential(1e-2, 0.97), 20, false);
    compare("step", multi_step(1e-2, {3, 6, 9}, 0.1), 12, false);
}

// The tape: leaves, gradient routing and accumulation, skipped work, no_grad, errors, and zero allocations in
// steady state.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "ncp/autograd/ops.hpp"

using ncp::axis;
using ncp::index_t;
using namespace ncp::autograd;
using K = ncp::detail::kernels<ncp::backend::eigen_cpu>;

namespace {

template <class T = float>
ncp::Tensor<T> uniform(index_t rows, index_t cols, std::uint64_t seed, double lo = -1, double hi = 1) {
    std::mt19937_64 gen(seed);
    std::uniform_real_distribution<double> u(lo, hi);
    ncp::Tensor<T> t(rows, cols);
    for (index_t i = 0; i < t.size(); ++i) t[i] = static_cast<T>(u(gen));
    return t;
}

/// A small predictor shaped like NCP's: trunk BN -> Linear -> BN -> swish -> dropout, two heads, concat.
struct model {
    parameter<float> bn0_g{ncp::Tensor<float>::filled(1, 6, 1)}, bn0_b{ncp::Tensor<float>::filled(1, 6, 0)};
    ncp::Tensor<float> bn0_m = ncp::Tensor<float>::filled(1, 6, 0), bn0_v = ncp::Tensor<float>::filled(1, 6, 1);
    parameter<float> w1{uniform(16, 6, 1, -0.4, 0.4)}, b1{uniform(1, 16, 2, -0.1, 0.1)};
    parameter<float> bn1_g{ncp::Tensor<float>::filled(1, 16, 1)}, bn1_b{ncp::Tensor<float>::filled(1, 16, 0)};
    ncp::Tensor<float> bn1_m = ncp::Tensor<float>::filled(1, 16, 0), bn1_v = ncp::Tensor<float>::filled(1, 16, 1);
    parameter<float> wa{uniform(1, 16, 3, -0.3, 0.3)}, ba{uniform(1, 1, 4)};
    parameter<float> wb{uniform(2, 16, 5, -0.3, 0.3)}, bb{uniform(1, 2, 6)};
    random_stream stream{7, 0};

    var<float> forward(tape<float>& t, const var<float>& x, bool training) {
        var<float> h = batch_norm(x, t.leaf(bn0_g), t.leaf(bn0_b), bn0_m, bn0_v, training);
        h = linear(h, t.leaf(w1), t.leaf(b1));
        h = swish(batch_norm(h, t.leaf(bn1_g), t.leaf(bn1_b), bn1_m, bn1_v, training));
        h = dropout(h, 0.5f, stream, training);
        return concat_cols({linear(h, t.leaf(wa), t.leaf(ba)), linear(h, t.leaf(wb), t.leaf(bb))});
    }
    std::vector<parameter<float>*> parameters() { return {&bn0_g, &bn0_b, &w1, &b1, &bn1_g, &bn1_b, &wa, &ba, &wb, &bb}; }
};

}  // namespace

TEST_CASE("leaves: inputs with and without gradient, parameters, frozen parameters") {
    tape<double> t;
    const auto x = ncp::Tensor<double>::from_host(std::vector<double>{1, 2, 3}, 1, 3);
    parameter<double> w(ncp::Tensor<double>::from_host(std::vector<double>{4, 5, 6}, 1, 3));
    parameter<double> frozen(ncp::Tensor<double>::filled(1, 3, 2), false);
    const var<double> c = t.input(x);
    const var<double> xi = t.input(x, true);
    const var<double> wl = t.leaf(w);
    const var<double> fl = t.leaf(frozen);
    CHECK_FALSE(c.requires_grad());
    CHECK(xi.requires_grad());
    CHECK(wl.requires_grad());
    CHECK_FALSE(fl.requires_grad());
    CHECK(c.value().data() == x.data());  // no copy
    t.backward(sum(c * xi * wl * fl));
    CHECK(xi.grad().to_host() == std::vector<double>{1 * 4 * 2, 2 * 5 * 2, 3 * 6 * 2});
    CHECK(w.grad.to_host() == std::vector<double>{1 * 1 * 2, 2 * 2 * 2, 3 * 3 * 2});
    CHECK(frozen.grad.empty());
    CHECK_THROWS_AS((void)c.grad(), ncp::error);
    CHECK_THROWS_AS((void)fl.grad(), ncp::error);
}

TEST_CASE("a parameter recorded twice accumulates; a second backward does not add to the first") {
    tape<double> t;
    parameter<double> p(uniform<double>(2, 2, 8));
    const var<double> loss = sum(t.leaf(p) * t.leaf(p));
    t.backward(loss);
    std::vector<double> twice = p.value.to_host();
    for (double& v : twice) v *= 2;
    CHECK(p.grad.to_host() == twice);
    t.backward(loss);
    CHECK(p.grad.to_host() == twice);
}

TEST_CASE("backward skips what cannot matter: frozen branches, unreached heads; unreached leaves get zeros") {
    tape<float> t;
    parameter<float> x(uniform(3, 4, 9));
    parameter<float> wa(uniform(2, 4, 10)), wb(uniform(3, 4, 11)), wc(uniform(1, 4, 12));
    parameter<float> frozen(uniform(2, 4, 13), false);
    const var<float> in = t.leaf(x);
    const var<float> a = swish(linear(in, t.leaf(wa)));
    const var<float> b = swish(linear(in, t.leaf(wb)));
    const var<float> c = linear(in, t.leaf(wc));
    const var<float> f = relu(linear(t.input(x.value), t.leaf(frozen)));  // nothing upstream requires a gradient
    CHECK_FALSE(f.requires_grad());
    const var<float> out = concat_cols({a, b, c});
    // The loss reads columns 0..1 (head a) and 5 (head c): head b's nodes are never visited.
    t.backward(sum(slice_cols(out, 0, 2)) + sum(slice_cols(out, 5, 1)) + sum(f));
    CHECK_NOTHROW((void)a.grad());
    CHECK_THROWS_AS((void)b.grad(), ncp::error);
    CHECK_THROWS_AS((void)f.grad(), ncp::error);
    CHECK(wb.grad.to_host() == std::vector<float>(12, 0.0f));
    CHECK(frozen.grad.empty());
    // The reached heads got their gradient: d sum(c) / d wc = column sums of x.
    for (index_t j = 0; j < 4; ++j) {
        CHECK(wc.grad[j] == doctest::Approx(x.value(0, j) + x.value(1, j) + x.value(2, j)));
    }
}

TEST_CASE("gradient w.r.t. a batch of inputs equals the per-row gradients (eval mode)") {
    model m;
    tape<float> t;
    parameter<float> batch(uniform(5, 6, 14, -2, 2));
    for (parameter<float>* p : m.parameters()) p->requires_grad = false;
    t.backward(sum(slice_cols(m.forward(t, t.leaf(batch), false), 0, 1)));
    for (index_t row = 0; row < 5; ++row) {
        parameter<float> one(ncp::Tensor<float>(1, 6));
        for (index_t j = 0; j < 6; ++j) one.value(0, j) = batch.value(row, j);
        t.clear();
        t.backward(sum(slice_cols(m.forward(t, t.leaf(one), false), 0, 1)));
        for (index_t j = 0; j < 6; ++j) CHECK(batch.grad(row, j) == doctest::Approx(one.grad(0, j)).epsilon(1e-5));
    }
    for (parameter<float>* p : m.parameters()) CHECK(p->grad.empty());
}

TEST_CASE("no_grad: values only, nothing to differentiate; scopes nest") {
    tape<float> t;
    parameter<float> w(uniform(3, 4, 15));
    const auto x = uniform(2, 4, 16);
    {
        const no_grad outer;
        {
            const no_grad inner;
        }
        CHECK_FALSE(grad_enabled());
        const var<float> y = swish(linear(t.input(x, true), t.leaf(w)));
        CHECK_FALSE(y.requires_grad());
        CHECK(y.rows() == 2);
        CHECK_THROWS_WITH_AS(t.backward(sum(y)), "autograd::tape::backward: the loss depends on nothing that requires a gradient",
                             ncp::error);
    }
    CHECK(grad_enabled());
    t.clear();
    t.backward(sum(swish(linear(t.input(x), t.leaf(w)))));
    CHECK(w.grad.rows() == 3);
}

TEST_CASE("misuse is an error naming the problem") {
    tape<float> t, other;
    const auto x = uniform(2, 3, 17);
    const var<float> a = t.input(x, true);
    CHECK_THROWS_WITH_AS(t.backward(a), "autograd::tape::backward: the loss must hold one value, it is 2 x 3",
                         ncp::error);
    CHECK_THROWS_AS(a + other.input(x), ncp::error);
    CHECK_THROWS_AS(other.backward(sum(a)), ncp::error);
    t.clear();
    CHECK_THROWS_AS(sum(a), ncp::error);  // recorded before the clear
}

TEST_CASE("steady state: the same recording again allocates nothing") {
    model m;
    const auto x = uniform(32, 6, 18, -2, 2);
    const auto y = uniform(32, 3, 19);
    parameter<float> code(uniform(1, 6, 20));
    tape<float> t;
    std::size_t after_first = 0;
    for (int iteration = 1; iteration <= 5; ++iteration) {
        // Training step: forward, loss, backward, SGD through a kernel.
        t.clear();
        const var<float> loss = smooth_l1_loss(m.forward(t, t.input(x), true), t.input(y));
        t.backward(loss);
        for (parameter<float>* p : m.parameters()) {
            K::map<ncp::detail::fn::identity>(1, p->value.size(), -0.01f, 1.0f, p->value.data(), p->value.size(),
                                             ncp::detail::view<float>::matrix(p->grad.data(), p->grad.size()));
        }
        // Search step: gradient w.r.t. the input through the frozen model in eval mode.
        t.clear();
        for (parameter<float>* p : m.parameters()) p->requires_grad = false;
        const var<float> out = m.forward(t, t.leaf(code), false);
        t.backward(l1_toward(slice_cols(out, 0, 1), 0.1f) + 0.5f * l1_toward(slice_cols(out, 1, 1), -0.1f));
        for (parameter<float>* p : m.parameters()) p->requires_grad = true;
        // Inference.
        t.clear();
        {
            const no_grad scope;
            (void)m.forward(t, t.input(x), false);
        }
        if (iteration == 1) after_first = K::allocations();
        CHECK(K::allocations() == after_first);
    }
}

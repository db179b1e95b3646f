// The tape on the backend under test (tests/backends.hpp): leaves, gradient routing and accumulation, skipped
// work, no_grad, errors, and zero allocations in steady state.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "ncp/autograd/ops.hpp"

#include "backends.hpp"

using ncp::index_t;
using ncp::test::host;
using ncp::test::on;
using namespace ncp::autograd;

namespace {

/// A small predictor shaped like NCP's: trunk BN -> Linear -> BN -> swish -> dropout, two heads, concat.
template <class B>
struct model {
    using tensor = ncp::Tensor<float, B>;
    static tensor uniform(index_t rows, index_t cols, std::uint64_t seed, double lo = -1, double hi = 1) {
        return ncp::test::uniform<float, B>(rows, cols, seed, lo, hi);
    }
    parameter<float, B> bn0_g{tensor::filled(1, 6, 1)}, bn0_b{tensor::filled(1, 6, 0)};
    tensor bn0_m = tensor::filled(1, 6, 0), bn0_v = tensor::filled(1, 6, 1);
    parameter<float, B> w1{uniform(16, 6, 1, -0.4, 0.4)}, b1{uniform(1, 16, 2, -0.1, 0.1)};
    parameter<float, B> bn1_g{tensor::filled(1, 16, 1)}, bn1_b{tensor::filled(1, 16, 0)};
    tensor bn1_m = tensor::filled(1, 16, 0), bn1_v = tensor::filled(1, 16, 1);
    parameter<float, B> wa{uniform(1, 16, 3, -0.3, 0.3)}, ba{uniform(1, 1, 4)};
    parameter<float, B> wb{uniform(2, 16, 5, -0.3, 0.3)}, bb{uniform(1, 2, 6)};
    random_stream stream{7, 0};

    var<float, B> forward(tape<float, B>& t, const var<float, B>& x, bool training) {
        var<float, B> h = batch_norm(x, t.leaf(bn0_g), t.leaf(bn0_b), bn0_m, bn0_v, training);
        h = linear(h, t.leaf(w1), t.leaf(b1));
        h = swish(batch_norm(h, t.leaf(bn1_g), t.leaf(bn1_b), bn1_m, bn1_v, training));
        h = dropout(h, 0.5f, stream, training);
        return concat_cols({linear(h, t.leaf(wa), t.leaf(ba)), linear(h, t.leaf(wb), t.leaf(bb))});
    }
    std::vector<parameter<float, B>*> parameters() {
        return {&bn0_g, &bn0_b, &w1, &b1, &bn1_g, &bn1_b, &wa, &ba, &wb, &bb};
    }
};

}  // namespace

TEST_CASE_TEMPLATE("leaves: inputs with and without gradient, parameters, frozen parameters", P, on<double>) {
    using B = typename P::backend;
    using tensor = ncp::Tensor<double, B>;
    tape<double, B> t;
    const auto x = tensor::from_host(std::vector<double>{1, 2, 3}, 1, 3);
    parameter<double, B> w(tensor::from_host(std::vector<double>{4, 5, 6}, 1, 3));
    parameter<double, B> frozen(tensor::filled(1, 3, 2), false);
    const var<double, B> c = t.input(x);
    const var<double, B> xi = t.input(x, true);
    const var<double, B> wl = t.leaf(w);
    const var<double, B> fl = t.leaf(frozen);
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

TEST_CASE_TEMPLATE("a parameter recorded twice accumulates; a second backward does not add to the first", P,
                   on<double>) {
    using B = typename P::backend;
    tape<double, B> t;
    parameter<double, B> p(ncp::test::uniform<double, B>(2, 2, 8));
    const var<double, B> loss = sum(t.leaf(p) * t.leaf(p));
    t.backward(loss);
    std::vector<double> twice = p.value.to_host();
    for (double& v : twice) v *= 2;
    CHECK(p.grad.to_host() == twice);
    t.backward(loss);
    CHECK(p.grad.to_host() == twice);
}

TEST_CASE_TEMPLATE("backward skips what cannot matter: frozen branches, unreached heads; unreached leaves get zeros",
                   P, on<float>) {
    using B = typename P::backend;
    const auto uniform = [](index_t rows, index_t cols, std::uint64_t seed) {
        return ncp::test::uniform<float, B>(rows, cols, seed);
    };
    tape<float, B> t;
    parameter<float, B> x(uniform(3, 4, 9));
    parameter<float, B> wa(uniform(2, 4, 10)), wb(uniform(3, 4, 11)), wc(uniform(1, 4, 12));
    parameter<float, B> frozen(uniform(2, 4, 13), false);
    const var<float, B> in = t.leaf(x);
    const var<float, B> a = swish(linear(in, t.leaf(wa)));
    const var<float, B> b = swish(linear(in, t.leaf(wb)));
    const var<float, B> c = linear(in, t.leaf(wc));
    const var<float, B> f = relu(linear(t.input(x.value), t.leaf(frozen)));  // nothing upstream requires a gradient
    CHECK_FALSE(f.requires_grad());
    const var<float, B> out = concat_cols({a, b, c});
    // The loss reads columns 0..1 (head a) and 5 (head c): head b's nodes are never visited.
    t.backward(sum(slice_cols(out, 0, 2)) + sum(slice_cols(out, 5, 1)) + sum(f));
    CHECK_NOTHROW((void)a.grad());
    CHECK_THROWS_AS((void)b.grad(), ncp::error);
    CHECK_THROWS_AS((void)f.grad(), ncp::error);
    CHECK(wb.grad.to_host() == std::vector<float>(12, 0.0f));
    CHECK(frozen.grad.empty());
    // The reached heads got their gradient: d sum(c) / d wc = column sums of x.
    const auto xs = host(x.value);
    const auto g = host(wc.grad);
    for (index_t j = 0; j < 4; ++j) CHECK(g[j] == doctest::Approx(xs(0, j) + xs(1, j) + xs(2, j)));
}

TEST_CASE_TEMPLATE("gradient w.r.t. a batch of inputs equals the per-row gradients (eval mode)", P, on<float>) {
    using B = typename P::backend;
    model<B> m;
    tape<float, B> t;
    parameter<float, B> batch(ncp::test::uniform<float, B>(5, 6, 14, -2, 2));
    for (parameter<float, B>* p : m.parameters()) p->requires_grad = false;
    t.backward(sum(slice_cols(m.forward(t, t.leaf(batch), false), 0, 1)));
    const auto rows = host(batch.value);
    const auto batch_grad = host(batch.grad);
    for (index_t row = 0; row < 5; ++row) {
        const auto begin = rows.values.begin() + row * 6;
        parameter<float, B> one(ncp::Tensor<float, B>::from_host(std::vector<float>(begin, begin + 6), 1, 6));
        t.clear();
        t.backward(sum(slice_cols(m.forward(t, t.leaf(one), false), 0, 1)));
        const auto one_grad = host(one.grad);
        for (index_t j = 0; j < 6; ++j) CHECK(batch_grad(row, j) == doctest::Approx(one_grad(0, j)).epsilon(1e-5));
    }
    for (parameter<float, B>* p : m.parameters()) CHECK(p->grad.empty());
}

TEST_CASE_TEMPLATE("no_grad: values only, nothing to differentiate; scopes nest", P, on<float>) {
    using B = typename P::backend;
    tape<float, B> t;
    parameter<float, B> w(ncp::test::uniform<float, B>(3, 4, 15));
    const auto x = ncp::test::uniform<float, B>(2, 4, 16);
    {
        const no_grad outer;
        {
            const no_grad inner;
        }
        CHECK_FALSE(grad_enabled());
        const var<float, B> y = swish(linear(t.input(x, true), t.leaf(w)));
        CHECK_FALSE(y.requires_grad());
        CHECK(y.rows() == 2);
        CHECK_THROWS_WITH_AS(t.backward(sum(y)),
                             "autograd::tape::backward: the loss depends on nothing that requires a gradient",
                             ncp::error);
    }
    CHECK(grad_enabled());
    t.clear();
    t.backward(sum(swish(linear(t.input(x), t.leaf(w)))));
    CHECK(w.grad.rows() == 3);
}

TEST_CASE_TEMPLATE("misuse is an error naming the problem", P, on<float>) {
    using B = typename P::backend;
    tape<float, B> t, other;
    const auto x = ncp::test::uniform<float, B>(2, 3, 17);
    const var<float, B> a = t.input(x, true);
    CHECK_THROWS_WITH_AS(t.backward(a), "autograd::tape::backward: the loss must hold one value, it is 2 x 3",
                         ncp::error);
    CHECK_THROWS_AS(a + other.input(x), ncp::error);
    CHECK_THROWS_AS(other.backward(sum(a)), ncp::error);
    t.clear();
    CHECK_THROWS_AS(sum(a), ncp::error);  // recorded before the clear
}

TEST_CASE_TEMPLATE("steady state: the same recording again allocates nothing", P, on<float>) {
    using B = typename P::backend;
    using K = ncp::detail::kernels<B>;
    model<B> m;
    const auto x = ncp::test::uniform<float, B>(32, 6, 18, -2, 2);
    const auto y = ncp::test::uniform<float, B>(32, 3, 19);
    parameter<float, B> code(ncp::test::uniform<float, B>(1, 6, 20));
    tape<float, B> t;
    std::size_t after_first = 0;
    for (int iteration = 1; iteration <= 5; ++iteration) {
        // Training step: forward, loss, backward, SGD through a kernel.
        t.clear();
        const var<float, B> loss = smooth_l1_loss(m.forward(t, t.input(x), true), t.input(y));
        t.backward(loss);
        for (parameter<float, B>* p : m.parameters()) {
            K::template map<ncp::detail::fn::identity>(
                1, p->value.size(), -0.01f, 1.0f, p->value.data(), p->value.size(),
                ncp::detail::view<float>::matrix(p->grad.data(), p->grad.size()));
        }
        // Search step: gradient w.r.t. the input through the frozen model in eval mode.
        t.clear();
        for (parameter<float, B>* p : m.parameters()) p->requires_grad = false;
        const var<float, B> out = m.forward(t, t.leaf(code), false);
        t.backward(sum(slice_cols(out, 1, 1)) * 0.5f - sum(slice_cols(out, 0, 1)));
        for (parameter<float, B>* p : m.parameters()) p->requires_grad = true;
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

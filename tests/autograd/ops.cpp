// Every op on the backend under test (tests/backends.hpp): its value against a naive loop (float and double), and
// its gradient against central finite differences (double, relative error below 1e-6).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "ncp/autograd/ops.hpp"

#include "backends.hpp"

using ncp::axis;
using ncp::index_t;
using ncp::test::host;
using ncp::test::host_matrix;
using ncp::test::on;
using namespace ncp::autograd;

namespace {

/// The tensor type of a test instance.
template <class P>
using tensor = ncp::Tensor<typename P::value_type, typename P::backend>;

/// Uniform values in [lo, hi].
template <class P>
tensor<P> uniform(index_t rows, index_t cols, std::uint64_t seed, double lo = -1, double hi = 1) {
    return ncp::test::uniform<typename P::value_type, typename P::backend>(rows, cols, seed, lo, hi);
}
/// Values of magnitude in [lo, hi] with random signs: away from kinks at 0.
template <class P>
tensor<P> away_from_zero(index_t rows, index_t cols, std::uint64_t seed, double lo = 0.2, double hi = 2) {
    using T = typename P::value_type;
    std::vector<T> v = ncp::test::uniform_values<T>(static_cast<std::size_t>(rows * cols), seed, lo, hi);
    std::mt19937_64 gen(seed + 1000);
    for (T& x : v) {
        if ((gen() & 1) != 0) x = -x;
    }
    return tensor<P>::from_host(v, rows, cols);
}

template <class T>
double value_tolerance() {
    return std::is_same_v<T, float> ? 2e-5 : 1e-12;
}

/// A naive reference result: rows x cols doubles.
struct reference {
    index_t rows, cols;
    std::vector<double> v;
    reference(index_t r, index_t c) : rows(r), cols(c), v(static_cast<std::size_t>(r * c), 0.0) {}
    double& operator()(index_t i, index_t j) { return v[static_cast<std::size_t>(i * cols + j)]; }
};

/// Element (i, j) of t with broadcasting.
template <class T>
double at(const host_matrix<T>& t, index_t i, index_t j) {
    return t(t.rows == 1 ? 0 : i, t.cols == 1 ? 0 : j);
}

template <class T, class B>
void check_value(const var<T, B>& got, reference expected) {
    REQUIRE(got.rows() == expected.rows);
    REQUIRE(got.cols() == expected.cols);
    const host_matrix<T> values = host(got.value());
    for (index_t i = 0; i < expected.rows; ++i) {
        for (index_t j = 0; j < expected.cols; ++j) {
            CAPTURE(i); CAPTURE(j);
            CHECK(values(i, j) == doctest::Approx(expected(i, j)).epsilon(value_tolerance<T>()).scale(1));
        }
    }
}

/// The leaves handed to a gradient check's builder.
template <class B>
using leaves = const std::vector<var<double, B>>&;

/// Checks d L / d p for every parameter by central differences, with L = sum(w * out) for fixed weights w in
/// [0.5, 1.5] and out = build(tape, leaves). Relative error below 1e-6 (derivatives under 1e-3 in magnitude are
/// compared against 1e-3).
template <class B>
void check_gradients(const std::vector<parameter<double, B>*>& params,
                     const std::function<var<double, B>(tape<double, B>&, leaves<B>)>& build) {
    tape<double, B> t;
    ncp::Tensor<double, B> weights;
    const auto evaluate = [&](bool differentiate) {
        t.clear();
        std::vector<var<double, B>> vars;
        for (parameter<double, B>* p : params) vars.push_back(t.leaf(*p));
        const var<double, B> out = build(t, vars);
        if (weights.empty()) weights = ncp::test::uniform<double, B>(out.rows(), out.cols(), 777, 0.5, 1.5);
        const var<double, B> loss = sum(out * t.input(weights));
        if (differentiate) t.backward(loss);
        return loss.value().to_host()[0];
    };
    evaluate(true);
    const double h = 1e-5;
    double worst = 0;
    for (std::size_t k = 0; k < params.size(); ++k) {
        parameter<double, B>& p = *params[k];
        const std::vector<double> analytic = p.grad.to_host();
        std::vector<double> values = p.value.to_host();
        REQUIRE(analytic.size() == values.size());
        for (std::size_t i = 0; i < values.size(); ++i) {
            const double v = values[i];
            const auto evaluate_at = [&](double x) {
                values[i] = x;
                p.value.copy_from_host(values);
                return evaluate(false);
            };
            const double numeric = (evaluate_at(v + h) - evaluate_at(v - h)) / (2 * h);
            evaluate_at(v);
            const double a = analytic[i];
            const double error = std::abs(a - numeric) / std::max({std::abs(a), std::abs(numeric), 1e-3});
            CAPTURE(k); CAPTURE(i); CAPTURE(a); CAPTURE(numeric);
            CHECK(error < 1e-6);
            worst = std::max(worst, error);
        }
    }
    MESSAGE("worst relative gradient error " << worst);
}

template <class B>
parameter<double, B> param(ncp::Tensor<double, B> t) {
    return parameter<double, B>(std::move(t));
}

struct shape {
    index_t rows, cols;
};

}  // namespace

// ---------------------------------------------------------------- arithmetic

TEST_CASE_TEMPLATE("add, sub, mul, div broadcast like NumPy", P, on<float>, on<double>) {
    using T = typename P::value_type;
    using B = typename P::backend;
    const std::vector<std::pair<shape, shape>> cases = {
        {{4, 5}, {4, 5}}, {{4, 5}, {1, 5}}, {{4, 5}, {4, 1}}, {{4, 5}, {1, 1}},
        {{1, 5}, {4, 5}}, {{1, 5}, {4, 1}}, {{4, 1}, {1, 5}}, {{1, 1}, {4, 5}}};
    for (const auto& [sa, sb] : cases) {
        CAPTURE(sa.rows); CAPTURE(sa.cols); CAPTURE(sb.rows); CAPTURE(sb.cols);
        tape<T, B> t;
        const tensor<P> a = uniform<P>(sa.rows, sa.cols, 1);
        const tensor<P> b = away_from_zero<P>(sb.rows, sb.cols, 2);
        const host_matrix<T> ah = host(a), bh = host(b);
        const var<T, B> va = t.input(a);
        const var<T, B> vb = t.input(b);
        const index_t rows = std::max(sa.rows, sb.rows);
        const index_t cols = std::max(sa.cols, sb.cols);
        const auto expect = [&](auto f) {
            reference r(rows, cols);
            for (index_t i = 0; i < rows; ++i) {
                for (index_t j = 0; j < cols; ++j) r(i, j) = f(at(ah, i, j), at(bh, i, j));
            }
            return r;
        };
        check_value(va + vb, expect([](double x, double y) { return x + y; }));
        check_value(va - vb, expect([](double x, double y) { return x - y; }));
        check_value(va * vb, expect([](double x, double y) { return x * y; }));
        check_value(va / vb, expect([](double x, double y) { return x / y; }));
    }
}

TEST_CASE_TEMPLATE("a 1-D operand is a row", P, on<float>, on<double>) {
    using T = typename P::value_type;
    using B = typename P::backend;
    tape<T, B> t;
    const tensor<P> x = uniform<P>(3, 4, 3);
    const tensor<P> b = tensor<P>::from_host(std::vector<T>{0, 1, 2, 3});
    const host_matrix<T> xh = host(x);
    reference r(3, 4);
    for (index_t i = 0; i < 3; ++i) {
        for (index_t j = 0; j < 4; ++j) r(i, j) = double(xh(i, j)) + j;
    }
    check_value(bias_add(t.input(x), t.input(b)), r);
    check_value(t.input(x) + t.input(b), r);
    CHECK_THROWS_AS(bias_add(t.input(x), t.input(tensor<P>(3))), ncp::error);
    CHECK_THROWS_WITH_AS(t.input(x) + t.input(tensor<P>(2, 4)), "add: shapes 3 x 4 and 2 x 4 do not broadcast",
                         ncp::error);
}

TEST_CASE_TEMPLATE("operations with a host constant", P, on<float>, on<double>) {
    using T = typename P::value_type;
    using B = typename P::backend;
    tape<T, B> t;
    const tensor<P> x = away_from_zero<P>(3, 2, 4);
    const host_matrix<T> xh = host(x);
    const var<T, B> v = t.input(x);
    const auto expect = [&](auto f) {
        reference r(3, 2);
        for (index_t i = 0; i < 3; ++i) {
            for (index_t j = 0; j < 2; ++j) r(i, j) = f(double(xh(i, j)));
        }
        return r;
    };
    const double c = T(0.75);
    check_value(v + T(0.75), expect([&](double y) { return y + c; }));
    check_value(T(0.75) + v, expect([&](double y) { return c + y; }));
    check_value(v - T(0.75), expect([&](double y) { return y - c; }));
    check_value(T(0.75) - v, expect([&](double y) { return c - y; }));
    check_value(v * T(0.75), expect([&](double y) { return y * c; }));
    check_value(T(0.75) * v, expect([&](double y) { return c * y; }));
    check_value(v / T(0.75), expect([&](double y) { return y / c; }));
    check_value(T(0.75) / v, expect([&](double y) { return c / y; }));
    check_value(-v, expect([&](double y) { return -y; }));
}

TEST_CASE_TEMPLATE("gradients: add, sub, mul, div with every broadcast", P, on<double>) {
    using B = typename P::backend;
    const std::vector<std::pair<shape, shape>> cases = {
        {{4, 5}, {4, 5}}, {{4, 5}, {1, 5}}, {{4, 5}, {4, 1}}, {{4, 5}, {1, 1}}, {{1, 5}, {4, 1}}, {{1, 1}, {4, 5}}};
    for (const auto& [sa, sb] : cases) {
        CAPTURE(sa.rows); CAPTURE(sa.cols); CAPTURE(sb.rows); CAPTURE(sb.cols);
        auto a = param(uniform<P>(sa.rows, sa.cols, 5));
        auto b = param(away_from_zero<P>(sb.rows, sb.cols, 6, 0.5, 2));
        check_gradients<B>({&a, &b}, [](auto&, leaves<B> l) { return l[0] + l[1]; });
        check_gradients<B>({&a, &b}, [](auto&, leaves<B> l) { return l[0] - l[1]; });
        check_gradients<B>({&a, &b}, [](auto&, leaves<B> l) { return l[0] * l[1]; });
        check_gradients<B>({&a, &b}, [](auto&, leaves<B> l) { return l[0] / l[1]; });
    }
}

TEST_CASE_TEMPLATE("gradients: bias_add, constants, negation, a variable used twice", P, on<double>) {
    using B = typename P::backend;
    auto x = param(away_from_zero<P>(3, 4, 7, 0.5, 2));
    auto b = param(uniform<P>(1, 4, 8));
    auto b1 = param(uniform<P>(1, 4, 9));
    b1.value.resize(4);  // 1-D bias
    check_gradients<B>({&x, &b}, [](auto&, leaves<B> l) { return bias_add(l[0], l[1]); });
    check_gradients<B>({&x, &b1}, [](auto&, leaves<B> l) { return bias_add(l[0], l[1]); });
    check_gradients<B>({&x}, [](auto&, leaves<B> l) {
        return ((l[0] + 0.5) * 2.0 - 1.0) / 3.0 + (0.5 - l[0]) + 2.0 * l[0] + 1.5 / l[0] + (-l[0]) + (1.0 + l[0]);
    });
    check_gradients<B>({&x}, [](auto&, leaves<B> l) { return l[0] * l[0] + l[0]; });
}

// ---------------------------------------------------------------- products

TEST_CASE_TEMPLATE("matmul with every transpose", P, on<float>, on<double>) {
    using T = typename P::value_type;
    using B = typename P::backend;
    const index_t m = 3, n = 4, k = 5;
    for (int trans = 0; trans < 4; ++trans) {
        const bool ta = (trans & 1) != 0, tb = (trans & 2) != 0;
        CAPTURE(ta); CAPTURE(tb);
        tape<T, B> t;
        const tensor<P> a = uniform<P>(ta ? k : m, ta ? m : k, 10);
        const tensor<P> b = uniform<P>(tb ? n : k, tb ? k : n, 11);
        const host_matrix<T> ah = host(a), bh = host(b);
        reference r(m, n);
        for (index_t i = 0; i < m; ++i) {
            for (index_t j = 0; j < n; ++j) {
                for (index_t l = 0; l < k; ++l) {
                    r(i, j) += double(ta ? ah(l, i) : ah(i, l)) * (tb ? bh(j, l) : bh(l, j));
                }
            }
        }
        check_value(matmul(t.input(a), t.input(b), ta, tb), r);
    }
    tape<T, B> t;
    CHECK_THROWS_WITH_AS(matmul(t.input(tensor<P>(2, 3)), t.input(tensor<P>(2, 3))),
                         "matmul: inner dimensions differ: 2 x 3 times 2 x 3", ncp::error);
}

TEST_CASE_TEMPLATE("gradients: matmul with every transpose", P, on<double>) {
    using B = typename P::backend;
    const index_t m = 3, n = 4, k = 5;
    for (int trans = 0; trans < 4; ++trans) {
        const bool ta = (trans & 1) != 0, tb = (trans & 2) != 0;
        CAPTURE(ta); CAPTURE(tb);
        auto a = param(uniform<P>(ta ? k : m, ta ? m : k, 12));
        auto b = param(uniform<P>(tb ? n : k, tb ? k : n, 13));
        check_gradients<B>({&a, &b}, [&](auto&, leaves<B> l) { return matmul(l[0], l[1], ta, tb); });
    }
}

TEST_CASE_TEMPLATE("linear: x W^T + b with W [out, in]", P, on<float>, on<double>) {
    using T = typename P::value_type;
    using B = typename P::backend;
    tape<T, B> t;
    const tensor<P> x = uniform<P>(6, 5, 14);
    const tensor<P> w = uniform<P>(3, 5, 15);
    tensor<P> b = uniform<P>(1, 3, 16);
    b.resize(3);
    const host_matrix<T> xh = host(x), wh = host(w), bh = host(b);
    reference with_bias(6, 3), without(6, 3);
    for (index_t i = 0; i < 6; ++i) {
        for (index_t o = 0; o < 3; ++o) {
            for (index_t l = 0; l < 5; ++l) without(i, o) += double(xh(i, l)) * wh(o, l);
            with_bias(i, o) = without(i, o) + bh[o];
        }
    }
    check_value(linear(t.input(x), t.input(w), t.input(b)), with_bias);
    check_value(linear(t.input(x), t.input(w)), without);
    CHECK_THROWS_AS(linear(t.input(x), t.input(tensor<P>(5, 3)), t.input(b)), ncp::error);
}

TEST_CASE_TEMPLATE("gradients: linear with and without bias, batch of one", P, on<double>) {
    using B = typename P::backend;
    for (const index_t batch : {index_t{6}, index_t{1}}) {
        auto x = param(uniform<P>(batch, 5, 17));
        auto w = param(uniform<P>(3, 5, 18));
        auto b = param(uniform<P>(1, 3, 19));
        check_gradients<B>({&x, &w, &b}, [](auto&, leaves<B> l) { return linear(l[0], l[1], l[2]); });
        check_gradients<B>({&x, &w}, [](auto&, leaves<B> l) { return linear(l[0], l[1]); });
    }
}

// ---------------------------------------------------------------- reductions and columns

TEST_CASE_TEMPLATE("sum and mean over every axis", P, on<float>, on<double>) {
    using T = typename P::value_type;
    using B = typename P::backend;
    tape<T, B> t;
    const tensor<P> x = uniform<P>(4, 6, 20);
    const host_matrix<T> xh = host(x);
    for (const bool is_mean : {false, true}) {
        reference all(1, 1), rows(1, 6), cols(4, 1);
        for (index_t i = 0; i < 4; ++i) {
            for (index_t j = 0; j < 6; ++j) {
                all(0, 0) += double(xh(i, j)) / (is_mean ? 24 : 1);
                rows(0, j) += double(xh(i, j)) / (is_mean ? 4 : 1);
                cols(i, 0) += double(xh(i, j)) / (is_mean ? 6 : 1);
            }
        }
        const var<T, B> v = t.input(x);
        check_value(is_mean ? mean(v) : sum(v), all);
        check_value(is_mean ? mean(v, axis::rows) : sum(v, axis::rows), rows);
        check_value(is_mean ? mean(v, axis::cols) : sum(v, axis::cols), cols);
    }
    CHECK_THROWS_AS(mean(t.input(tensor<P>(0, 3))), ncp::error);
}

TEST_CASE_TEMPLATE("gradients: sum and mean over every axis", P, on<double>) {
    using B = typename P::backend;
    auto x = param(uniform<P>(4, 6, 21));
    for (const axis over : {axis::all, axis::rows, axis::cols}) {
        CAPTURE(static_cast<int>(over));
        check_gradients<B>({&x}, [&](auto&, leaves<B> l) { return sum(l[0], over); });
        check_gradients<B>({&x}, [&](auto&, leaves<B> l) { return mean(l[0], over); });
    }
}

TEST_CASE_TEMPLATE("slice_cols and concat_cols", P, on<float>, on<double>) {
    using T = typename P::value_type;
    using B = typename P::backend;
    tape<T, B> t;
    const tensor<P> a = uniform<P>(3, 2, 22), b = uniform<P>(3, 1, 23), c = uniform<P>(3, 4, 24);
    const host_matrix<T> ah = host(a), bh = host(b), ch = host(c);
    const var<T, B> cat = concat_cols({t.input(a), t.input(b), t.input(c)});
    reference r(3, 7);
    for (index_t i = 0; i < 3; ++i) {
        for (index_t j = 0; j < 7; ++j) r(i, j) = j < 2 ? ah(i, j) : (j < 3 ? bh(i, 0) : ch(i, j - 3));
    }
    check_value(cat, r);
    reference s(3, 3);
    for (index_t i = 0; i < 3; ++i) {
        for (index_t j = 0; j < 3; ++j) s(i, j) = r(i, j + 2);
    }
    check_value(slice_cols(cat, 2, 3), s);
    CHECK_THROWS_AS(slice_cols(cat, 5, 3), ncp::error);
    CHECK_THROWS_AS(concat_cols({t.input(a), t.input(tensor<P>(2, 2))}), ncp::error);
}

TEST_CASE_TEMPLATE("gradients: slice_cols, overlapping slices, concat_cols", P, on<double>) {
    using B = typename P::backend;
    auto a = param(uniform<P>(3, 2, 25));
    auto b = param(uniform<P>(3, 1, 26));
    auto c = param(uniform<P>(3, 4, 27));
    check_gradients<B>({&a, &b, &c}, [](auto&, leaves<B> l) { return concat_cols({l[0], l[1], l[2]}); });
    check_gradients<B>({&c}, [](auto&, leaves<B> l) { return slice_cols(l[0], 1, 2); });
    check_gradients<B>({&c}, [](auto&, leaves<B> l) { return slice_cols(l[0], 0, 3) * slice_cols(l[0], 1, 3); });
    check_gradients<B>({&a, &b, &c}, [](auto&, leaves<B> l) {
        const var<double, B> cat = concat_cols({l[0], l[1], l[2]});
        return concat_cols({slice_cols(cat, 1, 2), slice_cols(cat, 4, 2)});
    });
}

// ---------------------------------------------------------------- batch norm

TEST_CASE_TEMPLATE("batch_norm: batch statistics and running update in training, running statistics in eval", P,
                   on<float>, on<double>) {
    using T = typename P::value_type;
    using B = typename P::backend;
    const index_t rows = 6, cols = 4;
    const tensor<P> x = uniform<P>(rows, cols, 28, -2, 3);
    const tensor<P> gamma = uniform<P>(1, cols, 29, 0.5, 1.5);
    const tensor<P> beta = uniform<P>(1, cols, 30);
    tensor<P> running_mean = uniform<P>(1, cols, 31);
    tensor<P> running_var = uniform<P>(1, cols, 32, 0.5, 2);
    running_mean.resize(cols);  // 1-D, as a layer keeps them
    running_var.resize(cols);
    const host_matrix<T> xh = host(x), gh = host(gamma), bh = host(beta);
    const host_matrix<T> mean0 = host(running_mean), var0 = host(running_var);

    tape<T, B> t;
    const var<T, B> y = batch_norm(t.input(x), t.input(gamma), t.input(beta), running_mean, running_var, true);
    const host_matrix<T> mean1 = host(running_mean), var1 = host(running_var);
    reference expected(rows, cols);
    for (index_t j = 0; j < cols; ++j) {
        double m = 0, v = 0;
        for (index_t i = 0; i < rows; ++i) m += xh(i, j);
        m /= rows;
        for (index_t i = 0; i < rows; ++i) v += (xh(i, j) - m) * (xh(i, j) - m);
        for (index_t i = 0; i < rows; ++i) {
            expected(i, j) = (xh(i, j) - m) / std::sqrt(v / rows + 1e-5) * gh(0, j) + bh(0, j);
        }
        CHECK(mean1[j] == doctest::Approx(0.9 * mean0[j] + 0.1 * m).epsilon(value_tolerance<T>()));
        CHECK(var1[j] == doctest::Approx(0.9 * var0[j] + 0.1 * v / (rows - 1)).epsilon(value_tolerance<T>()));
    }
    check_value(y, expected);

    const var<T, B> z = batch_norm(t.input(x), t.input(gamma), t.input(beta), running_mean, running_var, false);
    for (index_t i = 0; i < rows; ++i) {
        for (index_t j = 0; j < cols; ++j) {
            expected(i, j) = (xh(i, j) - mean1[j]) / std::sqrt(var1[j] + 1e-5) * gh(0, j) + bh(0, j);
        }
    }
    check_value(z, expected);

    const var<T, B> one = batch_norm(t.input(tensor<P>::filled(1, cols, 1)), t.input(gamma), t.input(beta),
                                     running_mean, running_var, false);
    CHECK(one.rows() == 1);
    CHECK_THROWS_AS(batch_norm(t.input(tensor<P>::filled(1, cols, 1)), t.input(gamma), t.input(beta), running_mean,
                               running_var, true),
                    ncp::error);
    CHECK_THROWS_AS(batch_norm(t.input(x), t.input(tensor<P>(3)), t.input(beta), running_mean, running_var, true),
                    ncp::error);
}

TEST_CASE_TEMPLATE("gradients: batch_norm in training and in eval", P, on<double>) {
    using B = typename P::backend;
    auto x = param(uniform<P>(6, 4, 33, -2, 3));
    auto gamma = param(uniform<P>(1, 4, 34, 0.5, 1.5));
    auto beta = param(uniform<P>(1, 4, 35));
    tensor<P> running_mean = uniform<P>(1, 4, 36);
    tensor<P> running_var = uniform<P>(1, 4, 37, 0.5, 2);
    for (const bool training : {true, false}) {
        CAPTURE(training);
        check_gradients<B>({&x, &gamma, &beta}, [&](auto&, leaves<B> l) {
            return batch_norm(l[0], l[1], l[2], running_mean, running_var, training);
        });
    }
}

// ---------------------------------------------------------------- activations and dropout

TEST_CASE_TEMPLATE("activations", P, on<float>, on<double>) {
    using T = typename P::value_type;
    using B = typename P::backend;
    tape<T, B> t;
    const tensor<P> x = uniform<P>(5, 7, 38, -8, 8);
    const host_matrix<T> xh = host(x);
    const var<T, B> v = t.input(x);
    const auto expect = [&](auto f) {
        reference r(5, 7);
        for (index_t i = 0; i < 5; ++i) {
            for (index_t j = 0; j < 7; ++j) r(i, j) = f(double(xh(i, j)));
        }
        return r;
    };
    check_value(relu(v), expect([](double y) { return std::max(y, 0.0); }));
    check_value(relu6(v), expect([](double y) { return std::clamp(y, 0.0, 6.0); }));
    check_value(swish(v), expect([](double y) { return y / (1 + std::exp(-y)); }));
    check_value(tanh(v), expect([](double y) { return std::tanh(y); }));
    check_value(sigmoid(v), expect([](double y) { return 1 / (1 + std::exp(-y)); }));
}

TEST_CASE_TEMPLATE("swish: the one pass without a gradient gives the bits of the two passes with one", P, on<float>,
                   on<double>) {
    using T = typename P::value_type;
    using B = typename P::backend;
    std::vector<T> v = ncp::test::uniform_values<T>(13 * 29, 41, -12, 12);
    // Saturation, the exp clamps, zeros, a denormal and NaN as well.
    const T extremes[] = {T(0), T(-0.0), T(1e-30), T(-1e-30), T(30), T(-30), T(95), T(-95), T(800), T(-800),
                          std::numeric_limits<T>::denorm_min(), std::numeric_limits<T>::quiet_NaN()};
    std::copy(std::begin(extremes), std::end(extremes), v.begin());
    const tensor<P> x = tensor<P>::from_host(v, 13, 29);
    tape<T, B> t;
    const var<T, B> one_pass = swish(t.input(x));          // no gradient: one pass
    const var<T, B> two_passes = swish(t.input(x, true));  // sigmoid(x) kept for the backward
    REQUIRE_FALSE(one_pass.requires_grad());
    REQUIRE(two_passes.requires_grad());
    const host_matrix<T> a = host(one_pass.value()), b = host(two_passes.value());
    for (std::size_t k = 0; k < v.size(); ++k) {
        CAPTURE(k); CAPTURE(v[k]); CAPTURE(a[k]); CAPTURE(b[k]);
        if (std::isnan(b[k])) {
            CHECK(std::isnan(a[k]));  // NaN's sign and payload carry nothing
        } else {
            CHECK(std::memcmp(&a.values[k], &b.values[k], sizeof(T)) == 0);
        }
    }
}

TEST_CASE_TEMPLATE("gradients: activations (inputs away from the kinks)", P, on<double>) {
    using B = typename P::backend;
    auto x = param(away_from_zero<P>(5, 7, 39, 0.2, 4));
    auto big = param(uniform<P>(3, 3, 40, 6.2, 8));  // relu6's upper kink
    check_gradients<B>({&x}, [](auto&, leaves<B> l) { return relu(l[0]); });
    check_gradients<B>({&x}, [](auto&, leaves<B> l) { return relu6(l[0]); });
    check_gradients<B>({&big}, [](auto&, leaves<B> l) { return relu6(l[0]) + l[0]; });
    check_gradients<B>({&x}, [](auto&, leaves<B> l) { return swish(l[0]); });
    check_gradients<B>({&x}, [](auto&, leaves<B> l) { return tanh(l[0]); });
    check_gradients<B>({&x}, [](auto&, leaves<B> l) { return sigmoid(l[0]); });
}

TEST_CASE_TEMPLATE("dropout: seeded inverted masks, identity in eval and at p = 0", P, on<float>, on<double>) {
    using T = typename P::value_type;
    using B = typename P::backend;
    tape<T, B> t;
    const tensor<P> x = uniform<P>(8, 9, 41);
    const host_matrix<T> xh = host(x);
    const var<T, B> v = t.input(x);
    random_stream stream{1234, 50};
    const var<T, B> y = dropout(v, T(0.25), stream, true);
    CHECK(stream.offset == 50 + 72);
    reference r(8, 9);
    for (index_t i = 0; i < 72; ++i) {
        const bool keep = ncp::detail::random_bits(1234, 50 + static_cast<std::uint64_t>(i)) >= 0.25 * 4294967296.0;
        r.v[static_cast<std::size_t>(i)] = keep ? double(xh[i]) * double(T(1) / T(0.75)) : 0.0;
    }
    check_value(y, r);
    random_stream again{1234, 50};
    CHECK(dropout(v, T(0.25), again, true).value().to_host() == y.value().to_host());
    CHECK(dropout(v, T(0.25), stream, false).id() == v.id());
    CHECK(dropout(v, T(0), stream, true).id() == v.id());
    CHECK(stream.offset == 50 + 72);
    CHECK_THROWS_AS(dropout(v, T(1.5), stream, true), ncp::error);
}

TEST_CASE_TEMPLATE("gradients: dropout", P, on<double>) {
    using B = typename P::backend;
    auto x = param(uniform<P>(8, 9, 42));
    check_gradients<B>({&x}, [](auto&, leaves<B> l) {
        random_stream stream{99, 7};  // the same mask at every evaluation
        return dropout(l[0], 0.5, stream, true);
    });
}

// ---------------------------------------------------------------- losses

TEST_CASE_TEMPLATE("losses: mse, l1, smooth l1; mean and sum", P, on<float>, on<double>) {
    using T = typename P::value_type;
    using B = typename P::backend;
    tape<T, B> t;
    const tensor<P> p = uniform<P>(5, 3, 43, -3, 3);
    const tensor<P> q = uniform<P>(5, 3, 44, -3, 3);
    const host_matrix<T> ph = host(p), qh = host(q);
    for (const reduction r : {reduction::mean, reduction::sum}) {
        reference mse(1, 1), l1(1, 1), huber(1, 1);
        for (index_t i = 0; i < p.size(); ++i) {
            const double d = double(ph[i]) - double(qh[i]);
            const double scale = r == reduction::mean ? 1.0 / p.size() : 1.0;
            mse(0, 0) += d * d * scale;
            l1(0, 0) += std::abs(d) * scale;
            huber(0, 0) += (std::abs(d) < 1 ? 0.5 * d * d : std::abs(d) - 0.5) * scale;
        }
        check_value(mse_loss(t.input(p), t.input(q), r), mse);
        check_value(l1_loss(t.input(p), t.input(q), r), l1);
        check_value(smooth_l1_loss(t.input(p), t.input(q), r), huber);
    }
    CHECK_THROWS_AS(mse_loss(t.input(p), t.input(tensor<P>(3, 5))), ncp::error);
}

TEST_CASE_TEMPLATE("gradients: losses w.r.t. prediction and target (differences away from the kinks)", P,
                   on<double>) {
    using B = typename P::backend;
    auto p = param(uniform<P>(5, 3, 45));
    std::vector<double> q = p.value.to_host();
    const host_matrix<double> d = host(away_from_zero<P>(5, 3, 46, 0.1, 0.8));
    const host_matrix<double> far = host(away_from_zero<P>(5, 3, 47, 1.2, 3));
    // |p - q| below 1 and above 1, alternately.
    for (index_t i = 0; i < 15; ++i) q[static_cast<std::size_t>(i)] -= (i % 2 == 0 ? d[i] : far[i]);
    auto target = param(tensor<P>::from_host(q, 5, 3));
    for (const reduction r : {reduction::mean, reduction::sum}) {
        check_gradients<B>({&p, &target}, [&](auto&, leaves<B> l) { return mse_loss(l[0], l[1], r); });
        check_gradients<B>({&p, &target}, [&](auto&, leaves<B> l) { return l1_loss(l[0], l[1], r); });
        check_gradients<B>({&p, &target}, [&](auto&, leaves<B> l) { return smooth_l1_loss(l[0], l[1], r); });
    }
}

TEST_CASE_TEMPLATE("detach: the value passes, the gradient does not", P, on<double>) {
    using B = typename P::backend;
    tape<double, B> t;
    parameter<double, B> p(uniform<P>(2, 3, 49));
    const var<double, B> x = t.leaf(p);
    const var<double, B> d = detach(x);
    CHECK(d.value().data() == x.value().data());
    CHECK_FALSE(d.requires_grad());
    t.backward(sum(x * d));  // = sum(x^2) with one factor held constant: gradient x, not 2x
    CHECK(p.grad.to_host() == p.value.to_host());
}

// Every op: its value against a naive loop (float and double), and its gradient against central finite
// differences (double, relative error below 1e-6).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "ncp/autograd/ops.hpp"

using ncp::axis;
using ncp::index_t;
using namespace ncp::autograd;

namespace {

template <class T>
using tensor = ncp::Tensor<T>;

/// Uniform values in [lo, hi].
template <class T>
tensor<T> uniform(index_t rows, index_t cols, std::uint64_t seed, double lo = -1, double hi = 1) {
    std::mt19937_64 gen(seed);
    std::uniform_real_distribution<double> u(lo, hi);
    tensor<T> t(rows, cols);
    for (index_t i = 0; i < t.size(); ++i) t[i] = static_cast<T>(u(gen));
    return t;
}
/// Values of magnitude in [lo, hi] with random signs: away from kinks at 0.
template <class T>
tensor<T> away_from_zero(index_t rows, index_t cols, std::uint64_t seed, double lo = 0.2, double hi = 2) {
    tensor<T> t = uniform<T>(rows, cols, seed, lo, hi);
    std::mt19937_64 gen(seed + 1000);
    for (index_t i = 0; i < t.size(); ++i) {
        if ((gen() & 1) != 0) t[i] = -t[i];
    }
    return t;
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
double at(const tensor<T>& t, index_t i, index_t j) {
    return t(t.rows() == 1 ? 0 : i, t.cols() == 1 ? 0 : j);
}

template <class T>
void check_value(const var<T>& got, reference expected) {
    REQUIRE(got.rows() == expected.rows);
    REQUIRE(got.cols() == expected.cols);
    for (index_t i = 0; i < expected.rows; ++i) {
        for (index_t j = 0; j < expected.cols; ++j) {
            CAPTURE(i); CAPTURE(j);
            CHECK(got.value()(i, j) == doctest::Approx(expected(i, j)).epsilon(value_tolerance<T>()).scale(1));
        }
    }
}

/// Checks d L / d p for every parameter by central differences, with L = sum(w * out) for fixed weights w in
/// [0.5, 1.5] and out = build(tape, leaves). Relative error below 1e-6 (derivatives under 1e-3 in magnitude are
/// compared against 1e-3).
void check_gradients(const std::vector<parameter<double>*>& params,
                     const std::function<var<double>(tape<double>&, const std::vector<var<double>>&)>& build) {
    tape<double> t;
    tensor<double> weights;
    const auto evaluate = [&](bool differentiate) {
        t.clear();
        std::vector<var<double>> leaves;
        for (parameter<double>* p : params) leaves.push_back(t.leaf(*p));
        const var<double> out = build(t, leaves);
        if (weights.empty()) weights = uniform<double>(out.rows(), out.cols(), 777, 0.5, 1.5);
        const var<double> loss = sum(out * t.input(weights));
        if (differentiate) t.backward(loss);
        return loss.value()[0];
    };
    evaluate(true);
    const double h = 1e-5;
    double worst = 0;
    for (std::size_t k = 0; k < params.size(); ++k) {
        parameter<double>& p = *params[k];
        const std::vector<double> analytic = p.grad.to_host();
        REQUIRE(analytic.size() == static_cast<std::size_t>(p.value.size()));
        for (index_t i = 0; i < p.value.size(); ++i) {
            const double v = p.value[i];
            p.value[i] = v + h;
            const double up = evaluate(false);
            p.value[i] = v - h;
            const double down = evaluate(false);
            p.value[i] = v;
            const double numeric = (up - down) / (2 * h);
            const double a = analytic[static_cast<std::size_t>(i)];
            const double error = std::abs(a - numeric) / std::max({std::abs(a), std::abs(numeric), 1e-3});
            CAPTURE(k); CAPTURE(i); CAPTURE(a); CAPTURE(numeric);
            CHECK(error < 1e-6);
            worst = std::max(worst, error);
        }
    }
    MESSAGE("worst relative gradient error " << worst);
}

parameter<double> param(tensor<double> t) { return parameter<double>(std::move(t)); }

struct shape {
    index_t rows, cols;
};

}  // namespace

// ---------------------------------------------------------------- arithmetic

TEST_CASE_TEMPLATE("add, sub, mul, div broadcast like NumPy", T, float, double) {
    const std::vector<std::pair<shape, shape>> cases = {
        {{4, 5}, {4, 5}}, {{4, 5}, {1, 5}}, {{4, 5}, {4, 1}}, {{4, 5}, {1, 1}},
        {{1, 5}, {4, 5}}, {{1, 5}, {4, 1}}, {{4, 1}, {1, 5}}, {{1, 1}, {4, 5}}};
    for (const auto& [sa, sb] : cases) {
        CAPTURE(sa.rows); CAPTURE(sa.cols); CAPTURE(sb.rows); CAPTURE(sb.cols);
        tape<T> t;
        const tensor<T> a = uniform<T>(sa.rows, sa.cols, 1);
        const tensor<T> b = away_from_zero<T>(sb.rows, sb.cols, 2);
        const var<T> va = t.input(a);
        const var<T> vb = t.input(b);
        const index_t rows = std::max(sa.rows, sb.rows);
        const index_t cols = std::max(sa.cols, sb.cols);
        const auto expect = [&](auto f) {
            reference r(rows, cols);
            for (index_t i = 0; i < rows; ++i) {
                for (index_t j = 0; j < cols; ++j) r(i, j) = f(at(a, i, j), at(b, i, j));
            }
            return r;
        };
        check_value(va + vb, expect([](double x, double y) { return x + y; }));
        check_value(va - vb, expect([](double x, double y) { return x - y; }));
        check_value(va * vb, expect([](double x, double y) { return x * y; }));
        check_value(va / vb, expect([](double x, double y) { return x / y; }));
    }
}

TEST_CASE_TEMPLATE("a 1-D operand is a row", T, float, double) {
    tape<T> t;
    const tensor<T> x = uniform<T>(3, 4, 3);
    tensor<T> b(4);
    for (index_t j = 0; j < 4; ++j) b[j] = T(j);
    reference r(3, 4);
    for (index_t i = 0; i < 3; ++i) {
        for (index_t j = 0; j < 4; ++j) r(i, j) = double(x(i, j)) + j;
    }
    check_value(bias_add(t.input(x), t.input(b)), r);
    check_value(t.input(x) + t.input(b), r);
    CHECK_THROWS_AS(bias_add(t.input(x), t.input(tensor<T>(3))), ncp::error);
    CHECK_THROWS_WITH_AS(t.input(x) + t.input(tensor<T>(2, 4)), "add: shapes 3 x 4 and 2 x 4 do not broadcast",
                         ncp::error);
}

TEST_CASE_TEMPLATE("operations with a host constant", T, float, double) {
    tape<T> t;
    const tensor<T> x = away_from_zero<T>(3, 2, 4);
    const var<T> v = t.input(x);
    const auto expect = [&](auto f) {
        reference r(3, 2);
        for (index_t i = 0; i < 3; ++i) {
            for (index_t j = 0; j < 2; ++j) r(i, j) = f(double(x(i, j)));
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

TEST_CASE("gradients: add, sub, mul, div with every broadcast") {
    const std::vector<std::pair<shape, shape>> cases = {
        {{4, 5}, {4, 5}}, {{4, 5}, {1, 5}}, {{4, 5}, {4, 1}}, {{4, 5}, {1, 1}}, {{1, 5}, {4, 1}}, {{1, 1}, {4, 5}}};
    for (const auto& [sa, sb] : cases) {
        CAPTURE(sa.rows); CAPTURE(sa.cols); CAPTURE(sb.rows); CAPTURE(sb.cols);
        auto a = param(uniform<double>(sa.rows, sa.cols, 5));
        auto b = param(away_from_zero<double>(sb.rows, sb.cols, 6, 0.5, 2));
        using leaves = const std::vector<var<double>>&;
        check_gradients({&a, &b}, [](tape<double>&, leaves l) { return l[0] + l[1]; });
        check_gradients({&a, &b}, [](tape<double>&, leaves l) { return l[0] - l[1]; });
        check_gradients({&a, &b}, [](tape<double>&, leaves l) { return l[0] * l[1]; });
        check_gradients({&a, &b}, [](tape<double>&, leaves l) { return l[0] / l[1]; });
    }
}

TEST_CASE("gradients: bias_add, constants, negation, a variable used twice") {
    auto x = param(away_from_zero<double>(3, 4, 7, 0.5, 2));
    auto b = param(uniform<double>(1, 4, 8));
    auto b1 = param(uniform<double>(1, 4, 9));
    b1.value.resize(4);  // 1-D bias
    using leaves = const std::vector<var<double>>&;
    check_gradients({&x, &b}, [](tape<double>&, leaves l) { return bias_add(l[0], l[1]); });
    check_gradients({&x, &b1}, [](tape<double>&, leaves l) { return bias_add(l[0], l[1]); });
    check_gradients({&x}, [](tape<double>&, leaves l) {
        return ((l[0] + 0.5) * 2.0 - 1.0) / 3.0 + (0.5 - l[0]) + 2.0 * l[0] + 1.5 / l[0] + (-l[0]) + (1.0 + l[0]);
    });
    check_gradients({&x}, [](tape<double>&, leaves l) { return l[0] * l[0] + l[0]; });
}

// ---------------------------------------------------------------- products

TEST_CASE_TEMPLATE("matmul with every transpose", T, float, double) {
    const index_t m = 3, n = 4, k = 5;
    for (int trans = 0; trans < 4; ++trans) {
        const bool ta = (trans & 1) != 0, tb = (trans & 2) != 0;
        CAPTURE(ta); CAPTURE(tb);
        tape<T> t;
        const tensor<T> a = uniform<T>(ta ? k : m, ta ? m : k, 10);
        const tensor<T> b = uniform<T>(tb ? n : k, tb ? k : n, 11);
        reference r(m, n);
        for (index_t i = 0; i < m; ++i) {
            for (index_t j = 0; j < n; ++j) {
                for (index_t l = 0; l < k; ++l) r(i, j) += double(ta ? a(l, i) : a(i, l)) * (tb ? b(j, l) : b(l, j));
            }
        }
        check_value(matmul(t.input(a), t.input(b), ta, tb), r);
    }
    tape<T> t;
    CHECK_THROWS_WITH_AS(matmul(t.input(tensor<T>(2, 3)), t.input(tensor<T>(2, 3))),
                         "matmul: inner dimensions differ: 2 x 3 times 2 x 3", ncp::error);
}

TEST_CASE("gradients: matmul with every transpose") {
    const index_t m = 3, n = 4, k = 5;
    for (int trans = 0; trans < 4; ++trans) {
        const bool ta = (trans & 1) != 0, tb = (trans & 2) != 0;
        CAPTURE(ta); CAPTURE(tb);
        auto a = param(uniform<double>(ta ? k : m, ta ? m : k, 12));
        auto b = param(uniform<double>(tb ? n : k, tb ? k : n, 13));
        check_gradients({&a, &b}, [&](tape<double>&, const std::vector<var<double>>& l) {
            return matmul(l[0], l[1], ta, tb);
        });
    }
}

TEST_CASE_TEMPLATE("linear: x W^T + b with W [out, in]", T, float, double) {
    tape<T> t;
    const tensor<T> x = uniform<T>(6, 5, 14);
    const tensor<T> w = uniform<T>(3, 5, 15);
    tensor<T> b = uniform<T>(1, 3, 16);
    b.resize(3);
    reference with_bias(6, 3), without(6, 3);
    for (index_t i = 0; i < 6; ++i) {
        for (index_t o = 0; o < 3; ++o) {
            for (index_t l = 0; l < 5; ++l) without(i, o) += double(x(i, l)) * w(o, l);
            with_bias(i, o) = without(i, o) + b[o];
        }
    }
    check_value(linear(t.input(x), t.input(w), t.input(b)), with_bias);
    check_value(linear(t.input(x), t.input(w)), without);
    CHECK_THROWS_AS(linear(t.input(x), t.input(tensor<T>(5, 3)), t.input(b)), ncp::error);
}

TEST_CASE("gradients: linear with and without bias, batch of one") {
    for (const index_t batch : {index_t{6}, index_t{1}}) {
        auto x = param(uniform<double>(batch, 5, 17));
        auto w = param(uniform<double>(3, 5, 18));
        auto b = param(uniform<double>(1, 3, 19));
        using leaves = const std::vector<var<double>>&;
        check_gradients({&x, &w, &b}, [](tape<double>&, leaves l) { return linear(l[0], l[1], l[2]); });
        check_gradients({&x, &w}, [](tape<double>&, leaves l) { return linear(l[0], l[1]); });
    }
}

// ---------------------------------------------------------------- reductions and columns

TEST_CASE_TEMPLATE("sum and mean over every axis", T, float, double) {
    tape<T> t;
    const tensor<T> x = uniform<T>(4, 6, 20);
    for (const bool is_mean : {false, true}) {
        reference all(1, 1), rows(1, 6), cols(4, 1);
        for (index_t i = 0; i < 4; ++i) {
            for (index_t j = 0; j < 6; ++j) {
                all(0, 0) += double(x(i, j)) / (is_mean ? 24 : 1);
                rows(0, j) += double(x(i, j)) / (is_mean ? 4 : 1);
                cols(i, 0) += double(x(i, j)) / (is_mean ? 6 : 1);
            }
        }
        const var<T> v = t.input(x);
        check_value(is_mean ? mean(v) : sum(v), all);
        check_value(is_mean ? mean(v, axis::rows) : sum(v, axis::rows), rows);
        check_value(is_mean ? mean(v, axis::cols) : sum(v, axis::cols), cols);
    }
    CHECK_THROWS_AS(mean(t.input(tensor<T>(0, 3))), ncp::error);
}

TEST_CASE("gradients: sum and mean over every axis") {
    auto x = param(uniform<double>(4, 6, 21));
    for (const axis over : {axis::all, axis::rows, axis::cols}) {
        CAPTURE(static_cast<int>(over));
        check_gradients({&x}, [&](tape<double>&, const std::vector<var<double>>& l) { return sum(l[0], over); });
        check_gradients({&x}, [&](tape<double>&, const std::vector<var<double>>& l) { return mean(l[0], over); });
    }
}

TEST_CASE_TEMPLATE("slice_cols and concat_cols", T, float, double) {
    tape<T> t;
    const tensor<T> a = uniform<T>(3, 2, 22), b = uniform<T>(3, 1, 23), c = uniform<T>(3, 4, 24);
    const var<T> cat = concat_cols({t.input(a), t.input(b), t.input(c)});
    reference r(3, 7);
    for (index_t i = 0; i < 3; ++i) {
        for (index_t j = 0; j < 7; ++j) r(i, j) = j < 2 ? a(i, j) : (j < 3 ? b(i, 0) : c(i, j - 3));
    }
    check_value(cat, r);
    reference s(3, 3);
    for (index_t i = 0; i < 3; ++i) {
        for (index_t j = 0; j < 3; ++j) s(i, j) = r(i, j + 2);
    }
    check_value(slice_cols(cat, 2, 3), s);
    CHECK_THROWS_AS(slice_cols(cat, 5, 3), ncp::error);
    CHECK_THROWS_AS(concat_cols({t.input(a), t.input(tensor<T>(2, 2))}), ncp::error);
}

TEST_CASE("gradients: slice_cols, overlapping slices, concat_cols") {
    auto a = param(uniform<double>(3, 2, 25));
    auto b = param(uniform<double>(3, 1, 26));
    auto c = param(uniform<double>(3, 4, 27));
    using leaves = const std::vector<var<double>>&;
    check_gradients({&a, &b, &c}, [](tape<double>&, leaves l) { return concat_cols({l[0], l[1], l[2]}); });
    check_gradients({&c}, [](tape<double>&, leaves l) { return slice_cols(l[0], 1, 2); });
    check_gradients({&c}, [](tape<double>&, leaves l) { return slice_cols(l[0], 0, 3) * slice_cols(l[0], 1, 3); });
    check_gradients({&a, &b, &c}, [](tape<double>&, leaves l) {
        const var<double> cat = concat_cols({l[0], l[1], l[2]});
        return concat_cols({slice_cols(cat, 1, 2), slice_cols(cat, 4, 2)});
    });
}

// ---------------------------------------------------------------- batch norm

TEST_CASE_TEMPLATE("batch_norm: batch statistics and running update in training, running statistics in eval", T,
                   float, double) {
    const index_t rows = 6, cols = 4;
    const tensor<T> x = uniform<T>(rows, cols, 28, -2, 3);
    const tensor<T> gamma = uniform<T>(1, cols, 29, 0.5, 1.5);
    const tensor<T> beta = uniform<T>(1, cols, 30);
    tensor<T> running_mean = uniform<T>(1, cols, 31);
    tensor<T> running_var = uniform<T>(1, cols, 32, 0.5, 2);
    running_mean.resize(cols);  // 1-D, as a layer keeps them
    running_var.resize(cols);
    const std::vector<T> mean0 = running_mean.to_host(), var0 = running_var.to_host();

    tape<T> t;
    const var<T> y = batch_norm(t.input(x), t.input(gamma), t.input(beta), running_mean, running_var, true);
    reference expected(rows, cols);
    for (index_t j = 0; j < cols; ++j) {
        double m = 0, v = 0;
        for (index_t i = 0; i < rows; ++i) m += x(i, j);
        m /= rows;
        for (index_t i = 0; i < rows; ++i) v += (x(i, j) - m) * (x(i, j) - m);
        for (index_t i = 0; i < rows; ++i) {
            expected(i, j) = (x(i, j) - m) / std::sqrt(v / rows + 1e-5) * gamma(0, j) + beta(0, j);
        }
        CHECK(running_mean[j] == doctest::Approx(0.9 * mean0[j] + 0.1 * m).epsilon(value_tolerance<T>()));
        CHECK(running_var[j] == doctest::Approx(0.9 * var0[j] + 0.1 * v / (rows - 1)).epsilon(value_tolerance<T>()));
    }
    check_value(y, expected);

    const var<T> z = batch_norm(t.input(x), t.input(gamma), t.input(beta), running_mean, running_var, false);
    for (index_t i = 0; i < rows; ++i) {
        for (index_t j = 0; j < cols; ++j) {
            expected(i, j) = (x(i, j) - running_mean[j]) / std::sqrt(running_var[j] + 1e-5) * gamma(0, j) + beta(0, j);
        }
    }
    check_value(z, expected);

    const var<T> one = batch_norm(t.input(tensor<T>::filled(1, cols, 1)), t.input(gamma), t.input(beta),
                                  running_mean, running_var, false);
    CHECK(one.rows() == 1);
    CHECK_THROWS_AS(batch_norm(t.input(tensor<T>::filled(1, cols, 1)), t.input(gamma), t.input(beta), running_mean,
                               running_var, true),
                    ncp::error);
    CHECK_THROWS_AS(batch_norm(t.input(x), t.input(tensor<T>(3)), t.input(beta), running_mean, running_var, true),
                    ncp::error);
}

TEST_CASE("gradients: batch_norm in training and in eval") {
    auto x = param(uniform<double>(6, 4, 33, -2, 3));
    auto gamma = param(uniform<double>(1, 4, 34, 0.5, 1.5));
    auto beta = param(uniform<double>(1, 4, 35));
    tensor<double> running_mean = uniform<double>(1, 4, 36);
    tensor<double> running_var = uniform<double>(1, 4, 37, 0.5, 2);
    for (const bool training : {true, false}) {
        CAPTURE(training);
        check_gradients({&x, &gamma, &beta}, [&](tape<double>&, const std::vector<var<double>>& l) {
            return batch_norm(l[0], l[1], l[2], running_mean, running_var, training);
        });
    }
}

// ---------------------------------------------------------------- activations and dropout

TEST_CASE_TEMPLATE("activations", T, float, double) {
    tape<T> t;
    const tensor<T> x = uniform<T>(5, 7, 38, -8, 8);
    const var<T> v = t.input(x);
    const auto expect = [&](auto f) {
        reference r(5, 7);
        for (index_t i = 0; i < 5; ++i) {
            for (index_t j = 0; j < 7; ++j) r(i, j) = f(double(x(i, j)));
        }
        return r;
    };
    check_value(relu(v), expect([](double y) { return std::max(y, 0.0); }));
    check_value(relu6(v), expect([](double y) { return std::clamp(y, 0.0, 6.0); }));
    check_value(swish(v), expect([](double y) { return y / (1 + std::exp(-y)); }));
    check_value(tanh(v), expect([](double y) { return std::tanh(y); }));
    check_value(sigmoid(v), expect([](double y) { return 1 / (1 + std::exp(-y)); }));
}

TEST_CASE("gradients: activations (inputs away from the kinks)") {
    auto x = param(away_from_zero<double>(5, 7, 39, 0.2, 4));
    auto big = param(uniform<double>(3, 3, 40, 6.2, 8));  // relu6's upper kink
    using leaves = const std::vector<var<double>>&;
    check_gradients({&x}, [](tape<double>&, leaves l) { return relu(l[0]); });
    check_gradients({&x}, [](tape<double>&, leaves l) { return relu6(l[0]); });
    check_gradients({&big}, [](tape<double>&, leaves l) { return relu6(l[0]) + l[0]; });
    check_gradients({&x}, [](tape<double>&, leaves l) { return swish(l[0]); });
    check_gradients({&x}, [](tape<double>&, leaves l) { return tanh(l[0]); });
    check_gradients({&x}, [](tape<double>&, leaves l) { return sigmoid(l[0]); });
}

TEST_CASE_TEMPLATE("dropout: seeded inverted masks, identity in eval and at p = 0", T, float, double) {
    tape<T> t;
    const tensor<T> x = uniform<T>(8, 9, 41);
    const var<T> v = t.input(x);
    random_stream stream{1234, 50};
    const var<T> y = dropout(v, T(0.25), stream, true);
    CHECK(stream.offset == 50 + 72);
    reference r(8, 9);
    for (index_t i = 0; i < 72; ++i) {
        const bool keep = ncp::detail::random_bits(1234, 50 + static_cast<std::uint64_t>(i)) >= 0.25 * 4294967296.0;
        r.v[static_cast<std::size_t>(i)] = keep ? double(x[i]) * double(T(1) / T(0.75)) : 0.0;
    }
    check_value(y, r);
    random_stream again{1234, 50};
    CHECK(dropout(v, T(0.25), again, true).value().to_host() == y.value().to_host());
    CHECK(dropout(v, T(0.25), stream, false).id() == v.id());
    CHECK(dropout(v, T(0), stream, true).id() == v.id());
    CHECK(stream.offset == 50 + 72);
    CHECK_THROWS_AS(dropout(v, T(1.5), stream, true), ncp::error);
}

TEST_CASE("gradients: dropout") {
    auto x = param(uniform<double>(8, 9, 42));
    check_gradients({&x}, [](tape<double>&, const std::vector<var<double>>& l) {
        random_stream stream{99, 7};  // the same mask at every evaluation
        return dropout(l[0], 0.5, stream, true);
    });
}

// ---------------------------------------------------------------- losses

TEST_CASE_TEMPLATE("losses: mse, l1, smooth l1; mean and sum", T, float, double) {
    tape<T> t;
    const tensor<T> p = uniform<T>(5, 3, 43, -3, 3);
    const tensor<T> q = uniform<T>(5, 3, 44, -3, 3);
    for (const reduction r : {reduction::mean, reduction::sum}) {
        reference mse(1, 1), l1(1, 1), huber(1, 1);
        for (index_t i = 0; i < p.size(); ++i) {
            const double d = double(p[i]) - double(q[i]);
            const double scale = r == reduction::mean ? 1.0 / p.size() : 1.0;
            mse(0, 0) += d * d * scale;
            l1(0, 0) += std::abs(d) * scale;
            huber(0, 0) += (std::abs(d) < 1 ? 0.5 * d * d : std::abs(d) - 0.5) * scale;
        }
        check_value(mse_loss(t.input(p), t.input(q), r), mse);
        check_value(l1_loss(t.input(p), t.input(q), r), l1);
        check_value(smooth_l1_loss(t.input(p), t.input(q), r), huber);
    }
    CHECK_THROWS_AS(mse_loss(t.input(p), t.input(tensor<T>(3, 5))), ncp::error);
}

TEST_CASE("gradients: losses w.r.t. prediction and target (differences away from the kinks)") {
    auto p = param(uniform<double>(5, 3, 45));
    tensor<double> q = p.value.clone();
    const tensor<double> d = away_from_zero<double>(5, 3, 46, 0.1, 0.8);
    const tensor<double> far = away_from_zero<double>(5, 3, 47, 1.2, 3);
    for (index_t i = 0; i < q.size(); ++i) q[i] -= (i % 2 == 0 ? d[i] : far[i]);  // |p - q| < 1 and > 1
    auto target = param(std::move(q));
    using leaves = const std::vector<var<double>>&;
    for (const reduction r : {reduction::mean, reduction::sum}) {
        check_gradients({&p, &target}, [&](tape<double>&, leaves l) { return mse_loss(l[0], l[1], r); });
        check_gradients({&p, &target}, [&](tape<double>&, leaves l) { return l1_loss(l[0], l[1], r); });
        check_gradients({&p, &target}, [&](tape<double>&, leaves l) { return smooth_l1_loss(l[0], l[1], r); });
    }
}

TEST_CASE_TEMPLATE("l1_toward: NCP's loss against a detached shifted target", T, float, double) {
    tape<T> t;
    parameter<T> p(uniform<T>(4, 1, 48));
    for (const T shift : {T(0.1), T(-0.1)}) {
        t.clear();
        const var<T> loss = l1_toward(t.leaf(p), shift);
        CHECK(loss.value()[0] == doctest::Approx(std::abs(double(shift))).epsilon(1e-6));
        t.backward(loss);
        // The target moves with the prediction but is detached: d loss / d pred = sign(pred - target) / n.
        for (index_t i = 0; i < 4; ++i) CHECK(p.grad[i] == T(shift > 0 ? -0.25 : 0.25));
        t.clear();
        t.backward(l1_toward(t.leaf(p), shift, reduction::sum));
        CHECK(p.grad.to_host() == std::vector<T>(4, T(shift > 0 ? -1 : 1)));
    }
}

TEST_CASE_TEMPLATE("l1_toward equals the composite l1_loss(pred, detach(pred) + shift)", T, float, double) {
    parameter<T> p(uniform<T>(3, 2, 50, -100, 100));
    p.value[0] = T(1e9);  // pred + shift rounds back to pred: zero error and zero gradient, in both forms
    tape<T> t;
    const var<T> one = l1_toward(t.leaf(p), T(0.1));
    t.backward(one);
    const T value_one = one.value()[0];
    const std::vector<T> grad_one = p.grad.to_host();
    t.clear();
    const var<T> x = t.leaf(p);
    const var<T> composite = l1_loss(x, detach(x) + T(0.1));
    t.backward(composite);
    CHECK(value_one == composite.value()[0]);
    CHECK(grad_one == p.grad.to_host());
    CHECK(grad_one[0] == (std::is_same_v<T, float> ? T(0) : T(-1.0 / 6)));
}

TEST_CASE("detach: the value passes, the gradient does not") {
    tape<double> t;
    parameter<double> p(uniform<double>(2, 3, 49));
    const var<double> x = t.leaf(p);
    const var<double> d = detach(x);
    CHECK(d.value().data() == x.value().data());
    CHECK_FALSE(d.requires_grad());
    t.backward(sum(x * d));  // = sum(x^2) with one factor held constant: gradient x, not 2x
    CHECK(p.grad.to_host() == p.value.to_host());
}

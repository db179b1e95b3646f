/// The layers against naive loops, their PyTorch conventions (init range, running statistics, names), and a
/// finite-difference gradient check of a composed stack in double.

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "ncp/nn/layers.hpp"

using namespace ncp;
using namespace ncp::nn;
using dtensor = Tensor<double>;

namespace {

dtensor matrix(index_t rows, index_t cols, double scale, double phase) {
    std::vector<double> v(static_cast<std::size_t>(rows * cols));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = scale * std::sin(0.37 * static_cast<double>(i) + phase);
    return dtensor::from_host(v, rows, cols);
}

}  // namespace

TEST_CASE("linear: PyTorch's init range, seeded, and x W^T + b") {
    linear<double> a(27, 256, 5), b(27, 256, 5), c(27, 256, 6);
    const auto wa = a.weight().value.to_host();
    CHECK(wa == b.weight().value.to_host());
    CHECK(wa != c.weight().value.to_host());
    const double bound = 1 / std::sqrt(27.0);
    double lo = 1, hi = -1;
    for (double w : wa) lo = std::min(lo, w), hi = std::max(hi, w);
    for (double w : a.bias().value.to_host()) lo = std::min(lo, w), hi = std::max(hi, w);
    CHECK(lo >= -bound);
    CHECK(hi < bound);
    CHECK(lo < -0.9 * bound);  // the whole range is used
    CHECK(hi > 0.9 * bound);

    linear<double> l(3, 2, 1);
    autograd::tape<double> t;
    const dtensor x = matrix(4, 3, 1, 0);
    const auto& y = l.forward(t.input(x)).value();
    const auto& w = l.weight().value;
    const auto& bias = l.bias().value;
    for (index_t i = 0; i < 4; ++i)
        for (index_t o = 0; o < 2; ++o) {
            double s = bias[o];
            for (index_t k = 0; k < 3; ++k) s += x(i, k) * w(o, k);
            CHECK(y(i, o) == doctest::Approx(s));
        }
}

TEST_CASE("batch_norm1d: batch statistics in training, running statistics (unbiased) after, eval with them") {
    batch_norm1d<double> bn(3);
    bn.gamma().value.copy_from_host(std::vector<double>{1, 2, 0.5});
    bn.beta().value.copy_from_host(std::vector<double>{0, 1, -1});
    autograd::tape<double> t;
    const dtensor x = matrix(5, 3, 2, 0.3);
    const auto& y = bn.forward(t.input(x)).value();
    for (index_t f = 0; f < 3; ++f) {
        double mean = 0, var = 0;
        for (index_t i = 0; i < 5; ++i) mean += x(i, f) / 5;
        for (index_t i = 0; i < 5; ++i) var += (x(i, f) - mean) * (x(i, f) - mean) / 5;
        for (index_t i = 0; i < 5; ++i)
            CHECK(y(i, f) == doctest::Approx((x(i, f) - mean) / std::sqrt(var + 1e-5) * bn.gamma().value[f] + bn.beta().value[f]));
        CHECK(bn.running_mean()[f] == doctest::Approx(0.1 * mean));
        CHECK(bn.running_var()[f] == doctest::Approx(0.9 + 0.1 * var * 5 / 4));
    }
    bn.train(false);
    t.clear();
    const auto& e = bn.forward(t.input(x)).value();
    for (index_t f = 0; f < 3; ++f)
        CHECK(e(0, f) == doctest::Approx((x(0, f) - bn.running_mean()[f]) / std::sqrt(bn.running_var()[f] + 1e-5) *
                                             bn.gamma().value[f] + bn.beta().value[f]));
}

TEST_CASE("activations and dropout") {
    const dtensor x = matrix(4, 5, 4, 0.1);
    autograd::tape<double> t;
    for (auto kind : {activation_kind::relu, activation_kind::relu6, activation_kind::tanh, activation_kind::swish}) {
        activation<double> a(kind);
        const auto& y = a.forward(t.input(x)).value();
        for (index_t i = 0; i < x.size(); ++i) {
            const double v = x[i];
            const double want = kind == activation_kind::relu    ? std::max(v, 0.0)
                                : kind == activation_kind::relu6 ? std::min(std::max(v, 0.0), 6.0)
                                : kind == activation_kind::tanh  ? std::tanh(v)
                                                                 : v / (1 + std::exp(-v));
            CHECK(y[i] == doctest::Approx(want).epsilon(1e-12));
        }
        CHECK(parse_activation(activation_name(kind)) == kind);
    }
    CHECK_THROWS_WITH_AS(parse_activation("gelu"), "unknown activation 'gelu' (expected relu, relu6, tanh or swish)", error);

    dropout<double> d(0.5, 9);
    const dtensor ones = dtensor::filled(64, 64, 1.0);
    const auto& y = d.forward(t.input(ones)).value();
    CHECK(d.stream().offset == 64 * 64);
    int kept = 0;
    for (index_t i = 0; i < y.size(); ++i) {
        CHECK((y[i] == 0.0 || y[i] == 2.0));
        kept += y[i] != 0;
    }
    CHECK(kept > 1900);
    CHECK(kept < 2200);
    d.train(false);
    const auto& same = d.forward(t.input(ones)).value();
    CHECK(same.to_host() == ones.to_host());
    CHECK_THROWS_AS(dropout<double>(1.0, 0), error);
}

TEST_CASE("sequential: names, modes, and gradients by finite differences") {
    sequential<linear<double>, batch_norm1d<double>, activation<double>, linear<double>> net(
        linear<double>(3, 4, 1), batch_norm1d<double>(4), activation<double>(activation_kind::swish), linear<double>(4, 2, 2));
    std::vector<std::string> names;
    net.for_each_parameter([&](const std::string& n, auto&) { names.push_back(n); });
    CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"});
    std::vector<std::string> buffers;
    net.for_each_buffer([&](const std::string& n, auto&) { buffers.push_back(n); });
    CHECK(buffers == std::vector<std::string>{"1.running_mean", "1.running_var"});
    net.train(false);
    CHECK_FALSE(net.get<1>().training());
    net.train(true);

    const dtensor x = matrix(6, 3, 1.5, 0.2);
    const dtensor target = matrix(6, 2, 1, 1.1);
    autograd::tape<double> t;
    auto loss_of = [&] {
        t.clear();
        return autograd::smooth_l1_loss(net.forward(t.input(x)), t.input(target));
    };
    t.backward(loss_of());
    net.for_each_parameter([&](const std::string& name, autograd::parameter<double>& p) {
        const auto analytic = p.grad.to_host();
        for (index_t i = 0; i < p.value.size(); ++i) {
            const double keep = p.value[i];
            p.value[i] = keep + 1e-6;
            const double up = loss_of().value()[0];
            p.value[i] = keep - 1e-6;
            const double down = loss_of().value()[0];
            p.value[i] = keep;
            CAPTURE(name);
            CAPTURE(i);
            CHECK(analytic[static_cast<std::size_t>(i)] == doctest::Approx((up - down) / 2e-6).epsilon(1e-6).scale(1));
        }
    });
}

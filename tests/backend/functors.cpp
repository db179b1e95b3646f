// The element-wise functors and their maths against the standard library, and the counter-based random bits.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <set>

#include "ncp/backend/functors.hpp"

namespace fn = ncp::detail::fn;
namespace math = ncp::detail::math;

TEST_CASE_TEMPLATE("math::exp matches std::exp to a few ulp", T, float, double) {
    const double limit = std::is_same_v<T, float> ? 87.0 : 708.0;
    const double tolerance = 4 * std::numeric_limits<T>::epsilon();
    double worst = 0;
    for (double x = -limit; x <= limit; x += limit / 20011) {
        const auto xt = static_cast<T>(x);
        const double expected = std::exp(static_cast<double>(xt));
        worst = std::max(worst, std::abs(static_cast<double>(math::exp(xt)) - expected) / expected);
    }
    CHECK(worst < tolerance);
    CHECK(math::exp(T(0)) == T(1));
    CHECK(std::isfinite(math::exp(T(1e6))));
    CHECK(math::exp(T(-1e6)) >= T(0));
    CHECK(std::isnan(math::exp(std::numeric_limits<T>::quiet_NaN())));
}

TEST_CASE_TEMPLATE("activations and their gradients against the textbook formulas", T, float, double) {
    const double tolerance = std::is_same_v<T, float> ? 2e-6 : 1e-14;
    for (double x = -9; x <= 9; x += 0.037) {
        const auto xt = static_cast<T>(x);
        const double xd = xt;
        const double s = 1 / (1 + std::exp(-xd));
        const double dy = 0.75;
        CHECK(fn::sigmoid::apply(xt) == doctest::Approx(s).epsilon(tolerance));
        CHECK(fn::tanh::apply(xt) == doctest::Approx(std::tanh(xd)).epsilon(tolerance).scale(1));
        CHECK(fn::relu::apply(xt) == T(std::max(xd, 0.0)));
        CHECK(fn::relu6::apply(xt) == T(std::min(std::max(xd, 0.0), 6.0)));
        CHECK(fn::swish_grad::apply(xt, fn::sigmoid::apply(xt), T(dy)) ==
              doctest::Approx(dy * (s + xd * s * (1 - s))).epsilon(tolerance));
        CHECK(fn::sigmoid_grad::apply(T(s), T(dy)) == doctest::Approx(dy * s * (1 - s)).epsilon(tolerance));
        const double th = std::tanh(xd);
        CHECK(fn::tanh_grad::apply(T(th), T(dy)) == doctest::Approx(dy * (1 - th * th)).epsilon(tolerance));
        CHECK(fn::relu_grad::apply(xt, T(dy)) == T(xd > 0 ? dy : 0));
        CHECK(fn::relu6_grad::apply(xt, T(dy)) == T(xd > 0 && xd < 6 ? dy : 0));
    }
}

TEST_CASE_TEMPLATE("loss terms and their gradients", T, float, double) {
    for (double d : {-3.0, -1.5, -0.5, -0.25, 0.0, 0.25, 0.5, 1.5, 3.0}) {
        const T p = T(1 + d);
        const T t = T(1);
        const double dd = static_cast<double>(p) - 1;
        CHECK(fn::squared_error::apply(p, t) == doctest::Approx(dd * dd));
        CHECK(fn::squared_error_grad::apply(p, t, T(2)) == doctest::Approx(4 * dd));
        CHECK(fn::absolute_error::apply(p, t) == doctest::Approx(std::abs(dd)));
        CHECK(fn::absolute_error_grad::apply(p, t, T(2)) == T(d > 0 ? 2 : (d < 0 ? -2 : 0)));
        const double huber = std::abs(dd) < 1 ? 0.5 * dd * dd : std::abs(dd) - 0.5;
        CHECK(fn::smooth_l1_error::apply(p, t) == doctest::Approx(huber));
        CHECK(fn::smooth_l1_error_grad::apply(p, t, T(2)) == doctest::Approx(2 * std::clamp(dd, -1.0, 1.0)));
    }
}

TEST_CASE("random_bits: deterministic, uniform, and unrelated across keys") {
    CHECK(ncp::detail::random_bits(7, 12345) == ncp::detail::random_bits(7, 12345));
    std::set<std::uint32_t> seen;
    double mean = 0;
    const int n = 1 << 16;
    int agree = 0;
    for (int i = 0; i < n; ++i) {
        const std::uint32_t a = ncp::detail::random_bits(1, static_cast<std::uint64_t>(i));
        const std::uint32_t b = ncp::detail::random_bits(2, static_cast<std::uint64_t>(i));
        seen.insert(a);
        mean += a / 4294967296.0;
        agree += (a >> 31) == (b >> 31);
    }
    mean /= n;
    CHECK(seen.size() == static_cast<std::size_t>(n));  // a bijection of the counter for a fixed key
    CHECK(mean == doctest::Approx(0.5).epsilon(0.01));
    CHECK(agree == doctest::Approx(n / 2).epsilon(0.02));  // keys 1 and 2: independent top bits
    // The high counter word matters too.
    CHECK(ncp::detail::random_bits(1, 5) != ncp::detail::random_bits(1, 5 + (std::uint64_t{1} << 32)));
}

TEST_CASE_TEMPLATE("math::rsqrt matches 1 / std::sqrt", T, float, double) {
    const double tolerance = 4 * std::numeric_limits<T>::epsilon();
    double worst = 0;
    for (double x = 1e-6; x < 1e6; x *= 1.0137) {
        const auto xt = static_cast<T>(x);
        const double expected = 1 / std::sqrt(static_cast<double>(xt));
        worst = std::max(worst, std::abs(static_cast<double>(math::rsqrt(xt)) - expected) / expected);
    }
    CHECK(worst < tolerance);
    CHECK(std::isnan(math::rsqrt(T(-1))));
    CHECK(std::isnan(math::rsqrt(std::numeric_limits<T>::quiet_NaN())));
}

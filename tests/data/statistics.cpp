/// Rank statistics against hand-computed examples (with ties) and naive O(n^2) definitions.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "ncp/data/statistics.hpp"

namespace {

int sign(double v) { return (v > 0) - (v < 0); }

/// Kendall tau-b straight from its definition, over all pairs.
double naive_tau_b(const std::vector<double>& x, const std::vector<double>& y) {
    double s = 0, untied_x = 0, untied_y = 0;
    for (std::size_t i = 0; i < x.size(); ++i)
        for (std::size_t j = i + 1; j < x.size(); ++j) {
            const int dx = sign(x[i] - x[j]), dy = sign(y[i] - y[j]);
            s += dx * dy;
            untied_x += dx != 0;
            untied_y += dy != 0;
        }
    return s / std::sqrt(untied_x * untied_y);
}

/// Rank of each value: 1 + the number of smaller values + half the number of other equal values, minus 1.
std::vector<double> naive_ranks(const std::vector<double>& x) {
    std::vector<double> r(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
        double smaller = 0, equal = 0;
        for (std::size_t j = 0; j < x.size(); ++j) {
            smaller += x[j] < x[i];
            equal += j != i && x[j] == x[i];
        }
        r[i] = smaller + equal / 2;
    }
    return r;
}

double naive_rho(const std::vector<double>& x, const std::vector<double>& y) {
    const auto rx = naive_ranks(x), ry = naive_ranks(y);
    double mx = 0, my = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        mx += rx[i] / x.size();
        my += ry[i] / x.size();
    }
    double sxy = 0, sxx = 0, syy = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        sxy += (rx[i] - mx) * (ry[i] - my);
        sxx += (rx[i] - mx) * (rx[i] - mx);
        syy += (ry[i] - my) * (ry[i] - my);
    }
    return sxy / std::sqrt(sxx * syy);
}

}  // namespace

TEST_CASE("hand examples, with ties") {
    using namespace ncp::data;
    const std::vector<double> up = {1, 2, 3, 4, 5}, down = {5, 4, 3, 2, 1};
    CHECK(kendall_tau_b(up, up) == doctest::Approx(1.0));
    CHECK(kendall_tau_b(up, down) == doctest::Approx(-1.0));
    CHECK(spearman_rho(up, down) == doctest::Approx(-1.0));
    // Pairs: 3 concordant, 1 discordant, one tied in x only, one tied in y only: (3 - 1) / sqrt(5 x 5).
    const std::vector<double> x = {1, 2, 2, 3}, y = {1, 3, 2, 2};
    CHECK(kendall_tau_b(x, y) == doctest::Approx(0.4));
    // Average ranks (0, 1.5, 1.5, 3) and (0, 3, 1.5, 1.5): centred products 2.25 over sqrt(4.5 x 4.5).
    CHECK(spearman_rho(x, y) == doctest::Approx(0.5));
    CHECK(average_ranks(y) == std::vector<double>{0, 3, 1.5, 1.5});
    // A pair tied in both samples counts in neither numerator nor denominator terms of its own.
    const std::vector<double> xj = {1, 1, 2}, yj = {5, 5, 6};
    CHECK(kendall_tau_b(xj, yj) == doctest::Approx(1.0));
}

TEST_CASE("matches the O(n^2) definitions on samples with many ties") {
    std::mt19937_64 gen(7);
    for (int trial = 0; trial < 20; ++trial) {
        const std::size_t n = 2 + gen() % 300;
        const unsigned levels = 2 + gen() % 40;  // few levels: many ties
        std::vector<double> x(n), y(n);
        for (std::size_t i = 0; i < n; ++i) {
            x[i] = static_cast<double>(gen() % levels);
            y[i] = trial % 2 ? x[i] + static_cast<double>(gen() % 3) : static_cast<double>(gen() % levels);
        }
        auto constant = [](const std::vector<double>& v) { return std::adjacent_find(v.begin(), v.end(), std::not_equal_to<>()) == v.end(); };
        if (constant(x) || constant(y)) continue;  // undefined: the NaN case below
        CAPTURE(trial);
        CHECK(ncp::data::kendall_tau_b(x, y) == doctest::Approx(naive_tau_b(x, y)).epsilon(1e-12));
        CHECK(ncp::data::spearman_rho(x, y) == doctest::Approx(naive_rho(x, y)).epsilon(1e-12));
        CHECK(ncp::data::average_ranks(x) == naive_ranks(x));
    }
}

TEST_CASE("undefined and bad input") {
    const std::vector<double> c = {2, 2, 2}, v = {1, 2, 3};
    CHECK(std::isnan(ncp::data::kendall_tau_b(c, v)));
    CHECK(std::isnan(ncp::data::spearman_rho(v, c)));
    CHECK(std::isnan(ncp::data::kendall_tau_b(std::vector<double>{1}, std::vector<double>{1})));
    CHECK_THROWS_WITH_AS(ncp::data::kendall_tau_b(v, std::vector<double>{1, 2}),
                         "Kendall tau: samples of different lengths (3 and 2)", ncp::error);
    CHECK_THROWS_WITH_AS(ncp::data::spearman_rho(v, std::vector<double>{1, NAN, 2}),
                         "Spearman rho: non-finite value at position 1", ncp::error);
}

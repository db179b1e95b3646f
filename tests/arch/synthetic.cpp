/// The synthetic benchmark: the landscape against a naive reference of its documented formula, the proof that its
/// best code is the unique maximum, and the generated records (determinism, validity, exact costs, noise).

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "ncp/arch/synthetic.hpp"
#include "ncp/io/benchmark_writer.hpp"

namespace arch = ncp::arch;

namespace {

constexpr std::uint64_t seeds[] = {233, 0, 1, 7, 20220425};

arch::code record_code(const ncp::data::benchmark& b, std::size_t r) {
    return arch::exact_code(std::span<const double>(&b.codes(r, 0), b.code_dim()));
}

/// The documented penalty written out from the README's formula, with no code shared with the library but the
/// landscape's parameters and the FLOPs counter.
double naive_penalty(const arch::synthetic_landscape& l, const arch::code& c) {
    const auto position = [](std::size_t i, int v) {
        return arch::kind_of(i) == arch::dimension_kind::channels ? (v - 8) / 120.0 : (v - 1) / 3.0;
    };
    std::vector<double> d(27);
    for (std::size_t i = 0; i < 27; ++i) d[i] = position(i, c[i]) - position(i, l.best()[i]);
    double p = 0;
    for (std::size_t i = 0; i < 27; ++i) p += l.dimension_weights()[i] * d[i] * d[i];
    const std::size_t balance[7][2] = {{0, 1}, {8, 9}, {14, 15}, {15, 16}, {22, 23}, {23, 24}, {24, 25}};
    for (std::size_t k = 0; k < 7; ++k)
        p += l.balance_weights()[k] * std::pow(d[balance[k][0]] - d[balance[k][1]], 2);
    const std::size_t width_depth[10][2] = {{3, 4},   {6, 8},   {7, 9},   {11, 14}, {12, 15},
                                            {13, 16}, {18, 22}, {19, 23}, {20, 24}, {21, 25}};
    for (std::size_t k = 0; k < 10; ++k)
        p += l.width_depth_weights()[k] * std::pow(d[width_depth[k][0]] + d[width_depth[k][1]], 2);
    const double t = std::log(static_cast<double>(arch::count(c).flops) / 1e9);
    const double t_best = std::log(static_cast<double>(arch::count(l.best()).flops) / 1e9);
    p += t < t_best ? 3 * (t_best - t) * (t_best - t) : 0.25 * (t - t_best) * (t - t_best);
    return p;
}

}  // namespace

TEST_CASE("landscape parameters lie in their documented ranges, and the best code scores exactly 80") {
    for (const std::uint64_t seed : seeds) {
        INFO("seed " << seed);
        const arch::synthetic_landscape l(seed);
        CHECK_NOTHROW(arch::validate(l.best()));
        for (std::size_t i = 0; i < arch::code_size; ++i) {
            if (arch::kind_of(i) == arch::dimension_kind::channels)
                CHECK((l.best()[i] >= 56 && l.best()[i] <= 128 && l.best()[i] % 8 == 0));
            else
                CHECK((l.best()[i] >= 2 && l.best()[i] <= 4));
            CHECK((l.dimension_weights()[i] >= 0.125 && l.dimension_weights()[i] <= 1.0));
        }
        for (double b : l.balance_weights()) CHECK((b >= 0.125 && b <= 0.375));
        for (double w : l.width_depth_weights()) CHECK((w >= 0.125 && w <= 0.375));
        CHECK(l.best_log_flops() == std::log(arch::count(l.best()).flops_g()));
        CHECK(l.score(l.best()) == arch::synthetic_max_score);
        CHECK(arch::synthetic_best_score({.seed = seed}) == 80.0);
        CHECK(arch::synthetic_best_code({.seed = seed}) == l.best());
    }
    // Different seeds give different landscapes.
    CHECK(arch::synthetic_best_code({.seed = 1}) != arch::synthetic_best_code({.seed = 2}));
}

TEST_CASE("the penalty and score equal a naive reference of the documented formula") {
    std::mt19937_64 rng(11);
    for (const std::uint64_t seed : seeds) {
        const arch::synthetic_landscape l(seed);
        for (int n = 0; n < 200; ++n) {
            const arch::code c = arch::detail::uniform_code(rng);
            const double reference = naive_penalty(l, c);
            const arch::synthetic_penalty p = l.penalty(c);
            CHECK(p.total() == doctest::Approx(reference).epsilon(1e-12));
            CHECK(l.score(c) == doctest::Approx(80.0 * std::exp(-reference / 80.0)).epsilon(1e-12));
            CHECK(arch::synthetic_score(c, {.seed = seed}) == l.score(c));
        }
    }
    // The capacity part: 3 t^2 below the best code's log-FLOPs, 0.25 t^2 above (t the difference).
    const arch::synthetic_landscape l(233);
    arch::code smaller{};
    arch::code larger{};
    for (std::size_t i = 0; i < arch::code_size; ++i) {
        smaller[i] = arch::lower_bound(i);
        larger[i] = arch::upper_bound(i);
    }
    const double below = std::log(arch::count(smaller).flops_g()) - l.best_log_flops();
    const double above = std::log(arch::count(larger).flops_g()) - l.best_log_flops();
    REQUIRE(below < 0);
    REQUIRE(above > 0);
    CHECK(l.penalty(smaller).capacity == doctest::Approx(3 * below * below));
    CHECK(l.penalty(larger).capacity == doctest::Approx(0.25 * above * above));
}

TEST_CASE("proof of the maximum: every part is >= 0 and 0 at the best code; a changed dimension costs a_i d_i^2 > 0") {
    for (const std::uint64_t seed : seeds) {
        INFO("seed " << seed);
        const arch::synthetic_landscape l(seed);
        const arch::synthetic_penalty at_best = l.penalty(l.best());
        CHECK(at_best.dimensions == 0);
        CHECK(at_best.balance == 0);
        CHECK(at_best.width_depth == 0);
        CHECK(at_best.capacity == 0);
        // Every single-dimension neighbour, over the whole grid of that dimension.
        for (std::size_t i = 0; i < arch::code_size; ++i) {
            const int step = arch::lower_bound(i);
            for (int v = arch::lower_bound(i); v <= arch::upper_bound(i); v += step) {
                if (v == l.best()[i]) continue;
                arch::code c = l.best();
                c[i] = v;
                const double d = arch::bound_position(i, v) - arch::bound_position(i, l.best()[i]);
                const arch::synthetic_penalty p = l.penalty(c);
                CHECK(p.dimensions == doctest::Approx(l.dimension_weights()[i] * d * d).epsilon(1e-12));
                CHECK(p.dimensions > 0);
                CHECK(p.balance >= 0);
                CHECK(p.width_depth >= 0);
                CHECK(p.capacity >= 0);
                CHECK(l.score(c) < arch::synthetic_max_score);
            }
        }
    }
    // A large random sample: the parts stay non-negative and no code reaches the best score.
    const arch::synthetic_landscape l(233);
    std::mt19937_64 rng(5);
    double top = 0;
    for (int n = 0; n < 20000; ++n) {
        const arch::code c = arch::detail::uniform_code(rng);
        const arch::synthetic_penalty p = l.penalty(c);
        REQUIRE(p.dimensions > 0);
        REQUIRE(p.balance >= 0);
        REQUIRE(p.width_depth >= 0);
        REQUIRE(p.capacity >= 0);
        top = std::max(top, l.score(c));
    }
    CHECK(top < arch::synthetic_max_score);
    CHECK(top > 70);  // the landscape is not a needle: random codes come within reach
}

TEST_CASE("make_synthetic is deterministic for a seed, and a smaller benchmark is a prefix of a larger one") {
    const auto a = ncp::io::encode_benchmark(arch::make_synthetic({.records = 300, .seed = 9}));
    const auto b = ncp::io::encode_benchmark(arch::make_synthetic({.records = 300, .seed = 9}));
    CHECK(a == b);
    CHECK(a != ncp::io::encode_benchmark(arch::make_synthetic({.records = 300, .seed = 10})));
    const auto small = arch::make_synthetic({.records = 40, .seed = 9});
    const auto large = arch::make_synthetic({.records = 300, .seed = 9});
    for (std::size_t r = 0; r < small.size(); ++r) {
        for (std::size_t i = 0; i < small.code_dim(); ++i) CHECK(small.codes(r, i) == large.codes(r, i));
        for (std::size_t m = 0; m < 5; ++m) CHECK(small.metrics(r, m) == large.metrics(r, m));
    }
}

TEST_CASE("default benchmark: valid distinct codes without the best one, exact costs, plausible metrics") {
    const auto b = arch::make_synthetic();
    const arch::synthetic_landscape l(233);
    CHECK(b.setting == "synthetic");
    CHECK(b.metric_names == std::vector<std::string>{"mIoU", "mAcc", "aAcc", "flops", "params"});
    REQUIRE(b.size() == 2507);
    REQUIRE(b.code_dim() == 27);
    std::set<arch::code> seen;
    std::vector<double> observed;
    std::vector<double> truth;
    double residual_sum = 0;
    double residual_sq = 0;
    for (std::size_t r = 0; r < b.size(); ++r) {
        const arch::code c = record_code(b, r);  // throws unless valid
        CHECK(seen.insert(c).second);
        const arch::cost k = arch::count(c);
        CHECK(b.metrics(r, 3) == k.flops_g());
        CHECK(b.metrics(r, 4) == k.params_m());
        const double s = l.score(c);
        CHECK(s < arch::synthetic_max_score);
        truth.push_back(s);
        observed.push_back(b.metrics(r, 0));
        residual_sum += b.metrics(r, 0) - s;
        residual_sq += (b.metrics(r, 0) - s) * (b.metrics(r, 0) - s);
        CHECK(std::abs(b.metrics(r, 1) - (13.6 + 0.93 * s)) < 6 * 0.5);
        CHECK(std::abs(b.metrics(r, 2) - (85.3 + 0.14 * s)) < 6 * 0.125);
    }
    CHECK(!seen.contains(l.best()));
    // Noise: mean 0 and standard deviation 0.5, within sampling error.
    const double n = static_cast<double>(b.size());
    CHECK(std::abs(residual_sum / n) < 4 * 0.5 / std::sqrt(n));
    CHECK(std::sqrt(residual_sq / n) == doctest::Approx(0.5).epsilon(0.06));
    // NAS-Bench-MR seg's spread: most mIoU values in the 60s and 70s, a tail below, nothing above the best.
    std::sort(observed.begin(), observed.end());
    const auto quantile = [&](double q) { return observed[static_cast<std::size_t>(q * (n - 1))]; };
    CHECK(quantile(0.05) > 60);
    CHECK(quantile(0.5) > 70);
    CHECK(quantile(0.5) < 78);
    CHECK(quantile(0.95) < 79);
    CHECK(observed.front() > 40);
    CHECK(*std::max_element(truth.begin(), truth.end()) < 80);
}

TEST_CASE("without noise the records hold the true scores") {
    const auto b = arch::make_synthetic({.records = 50, .seed = 3, .noise = 0});
    const arch::synthetic_landscape l(3);
    for (std::size_t r = 0; r < b.size(); ++r) {
        const double s = l.score(record_code(b, r));
        CHECK(b.metrics(r, 0) == s);
        CHECK(b.metrics(r, 1) == 13.6 + 0.93 * s);
        CHECK(b.metrics(r, 2) == 85.3 + 0.14 * s);
    }
}

TEST_CASE("bad options and invalid codes throw ncp::error naming them") {
    CHECK_THROWS_WITH_AS(arch::make_synthetic({.records = 0}), doctest::Contains("records = 0"), ncp::error);
    CHECK_THROWS_WITH_AS(arch::make_synthetic({.records = 1'000'001}), doctest::Contains("records = 1000001"),
                         ncp::error);
    CHECK_THROWS_WITH_AS(arch::make_synthetic({.noise = -0.1}), doctest::Contains("noise"), ncp::error);
    CHECK_THROWS_AS(arch::make_synthetic({.noise = std::nan("")}), ncp::error);
    CHECK_THROWS_AS(arch::make_synthetic({.noise = INFINITY}), ncp::error);
    CHECK_THROWS_WITH_AS(arch::make_synthetic({.records = 3, .noise = 1e308}),
                         doctest::Contains("expected a number from 0 to 1000"), ncp::error);
    CHECK(arch::make_synthetic({.records = 3, .noise = arch::synthetic_max_noise}).size() == 3);
    arch::code c = arch::synthetic_best_code();
    c[4] = 12;
    CHECK_THROWS_WITH_AS(arch::synthetic_score(c), doctest::Contains("code[4] = 12"), ncp::error);
}

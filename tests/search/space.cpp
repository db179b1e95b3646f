/// Search spaces (bounds, rounding, projection, random and default codes, costs) and the selection arithmetic
/// (objective, spread, paired advantage, budgets, Pareto set), each against a naive reference.

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "ncp/search/space.hpp"
#include "test_support.hpp"

using ncp::test::error_of;
using ncp::test::contains;

namespace arch = ncp::arch;
namespace search = ncp::search;

namespace {

constexpr const char* all64 = "64_64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64";

}  // namespace

TEST_CASE("NAS-Bench-MR bounds are min / 2 and max / 2 x alpha (docs/algorithm.md section 6)") {
    const search::mr_space s;
    for (std::size_t i = 0; i < 27; ++i) {
        const bool channels = arch::kind_of(i) == arch::dimension_kind::channels;
        CHECK(s.lower(i) == (channels ? 16.0 : 2.0) / 2);
        CHECK(s.upper(i) == (channels ? 64.0 : 2.0) / 2 * 4);
    }
    const search::mr_space half(2);
    CHECK(half.upper(0) == 64);
    CHECK(half.upper(2) == 2);
    CHECK(contains(error_of([] { search::mr_space(4.5); }), "max_value_alpha"));
    CHECK(contains(error_of([] { search::mr_space(0.5); }), "max_value_alpha"));
}

TEST_CASE("rounding follows docs/algorithm.md section 6 step 5 (_make_divisible with the lower bound as divisor)") {
    const search::mr_space s;
    std::mt19937_64 gen(7);
    std::uniform_real_distribution<double> u(-5, 140);
    for (int trial = 0; trial < 2000; ++trial) {
        std::vector<double> v(27);
        for (double& x : v) x = u(gen);
        const auto c = s.round(v);
        for (std::size_t i = 0; i < 27; ++i) {
            const double lo = s.lower(i), hi = s.upper(i);
            const double clamped = std::min(std::max(v[i], lo), hi);  // the search's clamp
            const double expected = std::max(lo, std::floor((clamped + lo / 2) / lo) * lo);
            CHECK(c[i] == static_cast<int>(expected));
        }
        CHECK_NOTHROW(arch::validate(c));
    }
}

TEST_CASE("NAS-Bench-MR codes: default, random, minimal, parsing, neighbours, costs") {
    const search::mr_space s;
    CHECK(s.to_string(s.default_start()) == all64);
    CHECK(s.parse(all64) == s.default_start());
    std::mt19937_64 gen(3);
    for (int i = 0; i < 500; ++i) {
        const auto c = s.random_code(gen);
        CHECK_NOTHROW(arch::validate(c));
    }
    const search::mr_space narrow(2);  // channels up to 64, counts up to 2
    for (int i = 0; i < 500; ++i) {
        const auto c = narrow.random_code(gen);
        for (std::size_t d = 0; d < 27; ++d) CHECK(c[d] <= narrow.upper(d));
    }
    CHECK(contains(
        error_of([&] { narrow.parse("128_64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64"); }),
        "code[0] = 128 is outside the search bounds [8, 64]"));
    CHECK(contains(error_of([&] { s.parse("64_64-2_1_2_64"); }), "invalid code string"));

    const auto smallest = s.minimal();
    for (std::size_t d = 0; d < 27; ++d) CHECK(smallest[d] == arch::lower_bound(d));
    CHECK(s.smaller_neighbours(smallest).empty());
    const auto start = s.default_start();
    const auto next = s.smaller_neighbours(start);
    CHECK(next.size() == 27);
    const arch::cost base = *s.cost(start);
    CHECK(base == arch::count(start));
    for (const auto& n : next) {
        const arch::cost c = *s.cost(n);
        CHECK(c.flops < base.flops);
        CHECK(c.params < base.params);
    }
    const search::mr_space seg(4, search::parse_convention("segmentation"));
    CHECK(seg.cost(start)->flops == 1977543680);  // docs/algorithm.md section 3
    CHECK(seg.cost(start)->params == 4126739);
    CHECK(contains(seg.cost_source(), "head seg, classes 19"));
    CHECK(contains(error_of([] { search::parse_convention("thop"); }), "benchmark or segmentation"));
}

TEST_CASE("NAS-Bench-201 cells: bounds [0, 1], arg-max projection, parsing, costs from the benchmark") {
    search::nb201_space s;
    CHECK(s.lower(3) == 0);
    CHECK(s.upper(3) == 1);
    std::vector<double> v(30, 0.1);
    v[4] = 0.6;   // edge 0: nor_conv_3x3
    v[5] = 0.3;   // edge 1: ties at 0.3 -> the first
    v[6] = 0.3;
    const auto cell = s.round(v);
    CHECK(cell[0] == 4);
    CHECK(cell[1] == 0);
    CHECK(s.values(cell)[4] == 1);
    CHECK(s.parse(s.to_string(cell)) == cell);
    CHECK(s.exact(s.values(cell)) == cell);
    CHECK_FALSE(s.cost(cell).has_value());
    std::mt19937_64 gen(1);
    for (int i = 0; i < 100; ++i) CHECK_NOTHROW(arch::validate(s.random_code(gen)));

    ncp::data::benchmark table{"nas-bench-201", {"Acc", "Flops", "Params"}, xt::zeros<double>({2, 30}),
                               xt::zeros<double>({2, 3})};
    for (std::size_t i = 0; i < 30; ++i) table.codes(0, i) = s.values(cell)[i];
    for (std::size_t i = 0; i < 30; ++i) table.codes(1, i) = s.values(s.default_start())[i];
    table.metrics(0, 1) = 15.65;
    table.metrics(0, 2) = 0.129;
    const search::nb201_space costed(table);
    REQUIRE(costed.cost(cell).has_value());
    CHECK(costed.cost(cell)->flops == 15650000);
    CHECK(costed.cost(cell)->params_m() == doctest::Approx(0.129));
}

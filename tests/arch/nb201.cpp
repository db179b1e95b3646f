/// NAS-Bench-201 cells: one-hot codes, projection, the string form.

#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <map>
#include <set>
#include <random>
#include <string>
#include <vector>

#include "ncp/arch/nb201.hpp"
#include "ncp/data/format.hpp"
#include "test_support.hpp"

using ncp::test::error_of;
using ncp::test::contains;

namespace arch = ncp::arch;

namespace {

// Record 0 of nas-bench-201/trainval.pkl (Flops 15.65 M: two 1x1 convs on top of the 7.79 M skeleton).
constexpr std::array<double, 30> record0 = {1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0,
                                            0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0};
constexpr const char* record0_string =
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|";

}  // namespace

TEST_CASE("record 0 of the data is NAS-Bench-201's arch 0") {
    const arch::nb201_cell cell = arch::nb201_from_one_hot(record0);
    CHECK(cell == arch::nb201_cell{0, 3, 2, 3, 2, 2});
    CHECK(arch::to_string(cell) == record0_string);
    CHECK(arch::parse_nb201(record0_string) == cell);
    CHECK(arch::nb201_one_hot(cell) == record0);
}

TEST_CASE("every cell survives cell -> one-hot -> cell and cell -> string -> cell") {
    int cells = 0;
    for (int index = 0; index < 15625; ++index) {
        arch::nb201_cell cell{};
        for (int e = 0, rest = index; e < 6; ++e, rest /= 5) cell[e] = rest % 5;
        const auto one_hot = arch::nb201_one_hot(cell);
        CHECK(arch::nb201_from_one_hot(one_hot) == cell);
        CHECK(arch::nb201_project(one_hot) == cell);
        CHECK(arch::parse_nb201(arch::to_string(cell)) == cell);
        ++cells;
    }
    CHECK(cells == 15625);
}

TEST_CASE("projection takes the arg-max of each edge, the first on ties") {
    std::mt19937 rng(201);
    std::normal_distribution<double> noise(0.0, 1.0);
    for (int n = 0; n < 500; ++n) {
        std::array<double, 30> v{};
        for (double& x : v) x = noise(rng);
        const arch::nb201_cell cell = arch::nb201_project(v);
        // Naive reference: scan each edge for its largest value.
        for (std::size_t e = 0; e < 6; ++e) {
            std::size_t best = 0;
            for (std::size_t k = 1; k < 5; ++k)
                if (v[e * 5 + k] > v[e * 5 + best]) best = k;
            CHECK(cell[e] == static_cast<int>(best));
        }
    }
    std::array<double, 30> ties{};
    ties[3] = ties[4] = 0.5;
    CHECK(arch::nb201_project(ties) == arch::nb201_cell{3, 0, 0, 0, 0, 0});
    ties[7] = std::nan("");
    CHECK(contains(error_of([&] { arch::nb201_project(ties); }), "value 7 is NaN"));
    CHECK(contains(error_of([] { arch::nb201_project(std::vector<double>(29)); }), "not 29"));
}

TEST_CASE("invalid one-hot codes, cells and strings are named") {
    std::array<double, 30> v = record0;
    v[6] = 1;
    CHECK(contains(error_of([&] { arch::nb201_from_one_hot(v); }), "edge 1 (values 5..9) has 2 ones"));
    v = record0;
    v[0] = 0;
    CHECK(contains(error_of([&] { arch::nb201_from_one_hot(v); }), "edge 0 (values 0..4) has 0 ones"));
    v = record0;
    v[29] = 0.5;
    CHECK(contains(error_of([&] { arch::nb201_from_one_hot(v); }), "value 29 = 0.500000 is neither 0 nor 1"));
    CHECK(contains(error_of([] { arch::nb201_from_one_hot(std::vector<double>(27)); }), "not 27"));
    CHECK(contains(error_of([] { arch::nb201_one_hot({0, 0, 5, 0, 0, 0}); }), "edge 2 has op 5"));

    const auto msg = [](const std::string& s) { return error_of([&] { arch::parse_nb201(s); }); };
    CHECK(contains(msg("|avg_pool_3x3~0|+|conv~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"),
                   "edge 1 has unknown op \"conv\""));
    CHECK(contains(msg("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~0|+|nor_conv_1x1~0|skip_connect~1|"
                       "skip_connect~2|"),
                   "edge 2 comes from node \"0\" (expected 1)"));
    CHECK(contains(msg("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|"),
                   "edge 5 is not closed"));
    CHECK(contains(msg("|avg_pool_3x3~0||nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|"
                       "skip_connect~2|"),
                   "expected '+' before edge 1"));
    CHECK(contains(msg(std::string(record0_string) + "x"), "unexpected text after the last edge"));
    CHECK(contains(msg("|avg_pool_3x3|"), "edge 0 (\"avg_pool_3x3\") is not op~node"));
}

TEST_CASE("the op and edge order, read off nas-bench-201/trainval.pkl") {
    const auto bin = ncp::test::converted("nas-bench-201");
    if (!bin) return;
    const ncp::data::benchmark b = ncp::data::load_benchmark(*bin);
    REQUIRE(b.size() == 15625);
    REQUIRE(b.code_dim() == arch::nb201_code_size);
    const std::size_t acc = b.metric_index("Acc");
    const std::size_t flops = b.metric_index("Flops");
    std::set<arch::nb201_cell> cells;
    std::map<std::pair<int, int>, std::map<long, int>> flops_by_convs;  // (1x1, 3x3 count) -> Flops (10 kFLOPs) -> n
    int dead = 0;
    for (std::size_t r = 0; r < b.size(); ++r) {
        const arch::nb201_cell cell = arch::nb201_from_one_hot(std::span<const double>(&b.codes(r, 0), 30));
        cells.insert(cell);
        int conv1 = 0;
        int conv3 = 0;
        for (int op : cell) {
            conv1 += arch::nb201_ops[op] == "nor_conv_1x1";
            conv3 += arch::nb201_ops[op] == "nor_conv_3x3";
        }
        ++flops_by_convs[{conv1, conv3}][std::lround(b.metrics(r, flops) * 100)];
        // `none` on every edge into node 3 (edges 3, 4, 5) cuts the cell: chance accuracy on ImageNet16-120.
        if (arch::nb201_ops[cell[3]] == "none" && arch::nb201_ops[cell[4]] == "none" &&
            arch::nb201_ops[cell[5]] == "none") {
            ++dead;
            CHECK(b.metrics(r, acc) < 1.0);
        }
    }
    CHECK(cells.size() == 15625);
    CHECK(dead == 125);
    CHECK(arch::to_string(arch::nb201_from_one_hot(std::span<const double>(&b.codes(0, 0), 30))) == record0_string);
    // Without convs every cell costs the skeleton's 7.79 M; each 1x1 conv adds 3.93 M, each 3x3 35.39 M (the
    // most common value: a few records carry another cell's cost).
    const auto mode = [](const std::map<long, int>& counts) {
        return std::max_element(counts.begin(), counts.end(), [](auto& a, auto& b) { return a.second < b.second; })
            ->first;
    };
    CHECK(flops_by_convs[{0, 0}].size() == 1);
    CHECK(mode(flops_by_convs[{0, 0}]) == 779);
    CHECK(mode(flops_by_convs[{1, 0}]) == 779 + 393);
    CHECK(mode(flops_by_convs[{0, 1}]) == 779 + 3539);
    CHECK(mode(flops_by_convs[{2, 2}]) == 779 + 2 * 393 + 2 * 3539);
}

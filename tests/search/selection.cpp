/// The selection's Pareto set against a quadratic scan. The selection rules themselves (score, guard,
/// known_results, repair) run on real searches in tests/search/editor.cpp.

#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "ncp/search/selection.hpp"

namespace search = ncp::search;

TEST_CASE("the Pareto set matches a quadratic scan") {
    std::mt19937_64 gen(11);
    for (int trial = 0; trial < 50; ++trial) {
        std::vector<double> cost(60), quality(60);
        for (auto& x : cost) x = static_cast<double>(gen() % 20);
        for (auto& y : quality) y = static_cast<double>(gen() % 20);
        const auto front = search::pareto_front(cost, quality);
        std::vector<bool> on(60, false);
        for (std::size_t i : front) on[i] = true;
        for (std::size_t i = 0; i < 60; ++i) {
            bool dominated = false, first_of_equals = true;
            for (std::size_t j = 0; j < 60; ++j) {
                if (j == i) continue;
                if (cost[j] <= cost[i] && quality[j] >= quality[i] && (cost[j] < cost[i] || quality[j] > quality[i]))
                    dominated = true;
                if (cost[j] == cost[i] && quality[j] == quality[i] && j < i) first_of_equals = false;
            }
            CHECK(on[i] == (!dominated && first_of_equals));
        }
        for (std::size_t k = 1; k < front.size(); ++k) CHECK(cost[front[k - 1]] < cost[front[k]]);
    }
}

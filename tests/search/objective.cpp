/// The search objective, the spread and the paired advantage against their definitions, and the step's loss on the
/// tape against a naive loop (value) and finite differences (gradient).

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "ncp/search/objective.hpp"

namespace search = ncp::search;
namespace autograd = ncp::autograd;

TEST_CASE("objective, spread and paired advantage against their definitions") {
    const search::objective_layout l{{2, 1}, {1.5, 0.5}, 0.25, true};
    const std::vector<double> main = {1.0, 3.0, -2.0}, flops = {0.5, 1.5, -1.0};
    const double s = 1.5 * (1.0 + 3.0) / 2 + 0.5 * -2.0 - 0.25 * (0.5 + 1.5 - 1.0) / 3;
    CHECK(search::objective<double>(l, main, flops) == doctest::Approx(s));
    // Population variance of task 0's two models: 1; task 1 has one model.
    CHECK(search::spread(l, main) == doctest::Approx(std::sqrt(1.5 * 1.5 * 1.0)));
    const std::vector<double> main_b = {0.0, 1.0, -2.0}, flops_b = {0.0, 0.0, 0.0};
    const auto [a, u] = search::advantage(l, main, flops, main_b, flops_b);
    CHECK(a == doctest::Approx(s - search::objective<double>(l, main_b, flops_b)));
    CHECK(u == doctest::Approx(1.5 * 0.5));  // differences 1 and 2: variance 0.25
    const search::objective_layout no_flops{{1}, {1}, 0.5, false};
    CHECK(search::objective<double>(no_flops, std::vector<double>{2.0}, std::vector<double>{9.0}) == 2.0);
}

TEST_CASE("the step's loss: minus the summed objective plus the budget hinges, against a naive loop and finite "
          "differences") {
    // Two tasks (2 models + 1), 4 outputs per model (main, x, flops, params), 3 codes.
    const search::objective_layout l{{2, 1}, {1.5, 0.5}, 0.25, true};
    const std::size_t models = 3, rows = 3, outputs = 4;
    std::vector<search::output_terms> terms(models);
    for (auto& t : terms) {
        t.outputs = outputs;
        t.flops = 2;
        t.max_flops = std::pair<std::size_t, double>{2, 0.1};
        t.max_params = std::pair<std::size_t, double>{3, -0.2};
    }
    terms[1].max_params.reset();  // a model without a params output
    const double budget_weight = 0.7;
    std::mt19937_64 gen(3);
    std::normal_distribution<double> normal;
    std::vector<std::vector<double>> values(models, std::vector<double>(rows * outputs));
    for (auto& v : values)
        for (double& x : v) x = normal(gen);

    auto naive = [&](const std::vector<std::vector<double>>& o) {
        double loss = 0;
        for (std::size_t b = 0; b < rows; ++b) {
            std::vector<double> main(models), flops(models);
            for (std::size_t m = 0; m < models; ++m) {
                main[m] = o[m][b * outputs];
                flops[m] = o[m][b * outputs + 2];
            }
            const double w[] = {1.5 / 2, 1.5 / 2, 0.5};
            for (std::size_t m = 0; m < models; ++m) loss -= w[m] * main[m] - 0.25 / 3 * flops[m];
            for (std::size_t m = 0; m < models; ++m) {
                loss += budget_weight / 3 * std::max(0.0, o[m][b * outputs + 2] - 0.1);
                if (terms[m].max_params) loss += budget_weight / 3 * std::max(0.0, o[m][b * outputs + 3] + 0.2);
            }
        }
        return loss;
    };

    std::vector<autograd::parameter<double>> params;
    for (const auto& v : values)
        params.emplace_back(ncp::Tensor<double>::from_host(v, static_cast<ncp::index_t>(rows),
                                                           static_cast<ncp::index_t>(outputs)));
    autograd::tape<double> t;
    std::vector<autograd::var<double>> outs;
    for (auto& p : params) outs.push_back(t.leaf(p));
    const auto loss = search::step_loss<double, ncp::default_backend>(l, outs, terms, budget_weight);
    CHECK(loss.value().to_host()[0] == doctest::Approx(naive(values)).epsilon(1e-12));
    t.backward(loss);
    const double h = 1e-6;
    for (std::size_t m = 0; m < models; ++m) {
        const auto grad = params[m].grad.to_host();
        for (std::size_t i = 0; i < values[m].size(); ++i) {
            auto plus = values, minus = values;
            plus[m][i] += h;
            minus[m][i] -= h;
            CAPTURE(m);
            CAPTURE(i);
            CHECK(grad[i] == doctest::Approx((naive(plus) - naive(minus)) / (2 * h)).epsilon(1e-6).scale(1e-6));
        }
    }
}

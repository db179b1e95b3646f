#pragma once
/// The selection objective, the ensemble spread, the guard's paired advantage, budgets and the Pareto set: the
/// arithmetic that picks the final architecture among the codes a search visited (README, "ncp search").
///
/// For a rounded code c, task k (weight w_k) with models m = 1..M_k, and every model's z-scored predictions
/// (z = (prediction - the model's output mean) / its output std):
/// - objective  S(c) = sum_k w_k mean_m main_km(c) - alpha [use_flops] mean over all models flops_m(c), the quantity
///   the search ascends (spec 6 step 2: its gradient is minus the loss's), evaluated on the rounded code;
/// - spread     U(c) = sqrt(sum_k w_k^2 var_m main_km(c)), the ensembles' disagreement (0 for single models);
/// - score      S(c) - kappa U(c): the selection takes the highest score among the visited codes within budget.
/// - guard: against the best known code b (the best training record), the paired advantage
///   A(c) = S(c) - S(b) with spread U_A(c) = sqrt(sum_k w_k^2 var_m (main_km(c) - main_km(b))); a code qualifies only
///   when A - kappa U_A > 0, the best qualifier is selected, and b itself when none qualifies.
/// - known_results: a visited code that is a known record scores its S with the stored main metrics in place of the
///   predictions (b's rule), with no spread; under the guard it never qualifies (its stored S is at most b's).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <span>
#include <utility>
#include <vector>

#include "ncp/arch/count.hpp"
#include "ncp/config.hpp"

namespace ncp::search {

/// How the models lie over the tasks, and the terms of the objective.
struct objective_layout {
    std::vector<std::size_t> models_per_task;  ///< M_k; models are numbered task by task
    std::vector<double> weights;               ///< w_k
    double alpha = 0.5;                        ///< weight of the FLOPs term
    bool use_flops = true;                     ///< whether the FLOPs term counts

    /// Total number of models.
    std::size_t models() const {
        return std::accumulate(models_per_task.begin(), models_per_task.end(), std::size_t{0});
    }
};

/// S(c) from the z-scored main metric and FLOPs prediction of every model.
inline double objective(const objective_layout& l, std::span<const double> main_z, std::span<const double> flops_z) {
    double s = 0;
    std::size_t m = 0;
    for (std::size_t k = 0; k < l.models_per_task.size(); ++k) {
        double sum = 0;
        for (std::size_t j = 0; j < l.models_per_task[k]; ++j) sum += main_z[m++];
        s += l.weights[k] * sum / static_cast<double>(l.models_per_task[k]);
    }
    if (l.use_flops) s -= l.alpha * std::accumulate(flops_z.begin(), flops_z.end(), 0.0) / static_cast<double>(m);
    return s;
}

/// U(c): sqrt(sum_k w_k^2 var_m x_km) with the population variance over each task's models (0 for one model).
inline double spread(const objective_layout& l, std::span<const double> x) {
    double u = 0;
    std::size_t m = 0;
    for (std::size_t k = 0; k < l.models_per_task.size(); ++k) {
        const std::size_t n = l.models_per_task[k];
        double mean = 0;
        for (std::size_t j = 0; j < n; ++j) mean += x[m + j];
        mean /= static_cast<double>(n);
        double var = 0;
        for (std::size_t j = 0; j < n; ++j) var += (x[m + j] - mean) * (x[m + j] - mean);
        u += l.weights[k] * l.weights[k] * var / static_cast<double>(n);
        m += n;
    }
    return std::sqrt(u);
}

/// The guard's paired advantage of c over b: {A = S(c) - S(b), U_A = the spread of the per-model differences}.
inline std::pair<double, double> advantage(const objective_layout& l, std::span<const double> main_c,
                                           std::span<const double> flops_c, std::span<const double> main_b,
                                           std::span<const double> flops_b) {
    std::vector<double> d(main_c.size());
    for (std::size_t i = 0; i < d.size(); ++i) d[i] = main_c[i] - main_b[i];
    return {objective(l, main_c, flops_c) - objective(l, main_b, flops_b), spread(l, d)};
}

/// How far a cost exceeds the budgets: max(0, flops / max_flops - 1, params / max_params - 1) over the budgets
/// that are set (> 0); 0 means within budget.
inline double budget_violation(const arch::cost& c, double max_flops_g, double max_params_m) {
    double v = 0;
    if (max_flops_g > 0) v = std::max(v, c.flops_g() / max_flops_g - 1);
    if (max_params_m > 0) v = std::max(v, c.params_m() / max_params_m - 1);
    return v;
}

/// Whether a cost meets the budgets (exactly: integer counts against the budget in G and M).
inline bool within_budget(const arch::cost& c, double max_flops_g, double max_params_m) {
    return (max_flops_g <= 0 || c.flops_g() <= max_flops_g) && (max_params_m <= 0 || c.params_m() <= max_params_m);
}

/// The Pareto set of points (cost, quality), lower cost and higher quality being better: the points no other point
/// matches in both while beating in one. Indices by ascending cost; of equal points the first is kept.
inline std::vector<std::size_t> pareto_front(std::span<const double> cost, std::span<const double> quality) {
    if (cost.size() != quality.size()) throw error("pareto_front: costs and qualities differ in number");
    std::vector<std::size_t> order(cost.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return cost[a] < cost[b] || (cost[a] == cost[b] && quality[a] > quality[b]);
    });
    std::vector<std::size_t> front;
    for (std::size_t i : order)
        if (front.empty() || quality[i] > quality[front.back()]) front.push_back(i);
    return front;
}

}  // namespace ncp::search

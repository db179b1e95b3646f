#pragma once
/// The search objective, defined once for the selection (on doubles) and for the gradient steps (on the tape).
///
/// For a code c, task k (weight w_k) with models m = 1..M_k (M models in all), and every model's z-scored
/// predictions (z = (prediction - the model's output mean) / its output std):
/// - objective S(c) = sum_k w_k mean_m main_km(c) - alpha [use_flops] mean over all models flops_m(c), with main the
///   first output and flops the second-to-last, as in the original;
/// - spread    U(c) = sqrt(sum_k w_k^2 var_m main_km(c)), the ensembles' disagreement (0 for single models);
/// - the guard's paired advantage of c over a known code b: A = S(c) - S(b), with the spread of the per-model
///   differences main_km(c) - main_km(b);
/// - the step's loss: -sum over the batch of S + budget_weight / M sum_m ([flops_m - max_flops]+ + [params_m -
///   max_params]+), the budgets z-scored per model. The original's loss, L1(main, main + per_step_increase) with the
///   target detached (and L1(flops, flops - per_flops_decrease)), has the gradient of -S: an L1 distance to a shifted
///   copy of itself has slope -1 (+1) whatever the shift's size, which is why the shifts must be positive.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "ncp/autograd/ops.hpp"
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
    /// w_k / M_k for model m of task k: the factor of its main metric in S.
    double main_weight(std::size_t m) const {
        for (std::size_t k = 0; k < models_per_task.size(); ++k) {
            if (m < models_per_task[k]) return weights[k] / static_cast<double>(models_per_task[k]);
            m -= models_per_task[k];
        }
        throw error("objective: no model " + std::to_string(m));
    }
    /// alpha / M with the FLOPs term, else 0: the factor of every model's FLOPs prediction in -S.
    double flops_weight() const { return use_flops ? alpha / static_cast<double>(models()) : 0.0; }
};

namespace detail {

/// `x` scaled by a factor given as a double, for doubles and tape variables alike.
template <class V>
V scaled(const V& x, double factor) {
    if constexpr (std::is_arithmetic_v<V>) {
        return x * factor;
    } else {
        return x * static_cast<typename V::value_type>(factor);
    }
}

}  // namespace detail

/// S from every model's main-metric and FLOPs predictions (z-units): doubles for one code, or tape variables holding
/// a column of codes each. `flops` is read only with the FLOPs term.
template <class V>
V objective(const objective_layout& l, std::span<const V> main, std::span<const V> flops) {
    V s = detail::scaled(main[0], l.main_weight(0));
    for (std::size_t m = 1; m < main.size(); ++m) s = s + detail::scaled(main[m], l.main_weight(m));
    if (l.use_flops)
        for (std::size_t m = 0; m < flops.size(); ++m) s = s - detail::scaled(flops[m], l.flops_weight());
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

/// Where a model's terms are among its outputs, and its budgets in its own z-units.
struct output_terms {
    std::size_t outputs = 0;                                 ///< number of outputs
    std::size_t flops = 0;                                   ///< the FLOPs term's output: the second-to-last
    std::optional<std::pair<std::size_t, double>> max_flops;   ///< (output named flops/Flops, budget z), if budgeted
    std::optional<std::pair<std::size_t, double>> max_params;  ///< (output named params/Params, budget z), if budgeted
};

/// The step's loss (header comment) on every model's outputs (rows x outputs each, one row per code).
template <class T, class B>
autograd::var<T, B> step_loss(const objective_layout& l, std::span<const autograd::var<T, B>> outs,
                              std::span<const output_terms> terms, double budget_weight) {
    using var = autograd::var<T, B>;
    std::vector<var> main, flops;
    for (std::size_t m = 0; m < outs.size(); ++m) {
        main.push_back(autograd::slice_cols(outs[m], 0, 1));
        if (l.use_flops) flops.push_back(autograd::slice_cols(outs[m], static_cast<index_t>(terms[m].flops), 1));
    }
    var loss = autograd::sum(objective<var>(l, main, flops)) * T(-1);
    if (budget_weight == 0) return loss;
    const double factor = budget_weight / static_cast<double>(outs.size());
    for (std::size_t m = 0; m < outs.size(); ++m)
        for (const auto& budget : {terms[m].max_flops, terms[m].max_params})
            if (budget) {
                const var over = autograd::slice_cols(outs[m], static_cast<index_t>(budget->first), 1) -
                                 static_cast<T>(budget->second);
                loss = loss + autograd::sum(autograd::relu(over)) * static_cast<T>(factor);
            }
    return loss;
}

}  // namespace ncp::search

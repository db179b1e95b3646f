#pragma once
/// How a search runs: the config's `editing:` keys as the editor takes them, and the threads it may use.

#include "ncp/io/config.hpp"
#include "ncp/parallel/thread_team.hpp"

namespace ncp::search {

/// How to search: the `editing:` keys (the original's defaults) and ncp's additions.
struct options {
    int iters = 70;                   ///< gradient steps per start
    double lr = 3;                    ///< SGD step on the z-scored code
    double per_step_increase = 0.1;   ///< target shift of the main metric (z-units; only its sign acts, > 0)
    bool use_flops = true;            ///< add the FLOPs term
    double per_flops_decrease = 0.1;  ///< target shift of the predicted FLOPs (z-units; only its sign acts, > 0)
    double alpha = 0.5;               ///< weight of the FLOPs term
    double max_flops_g = 0;           ///< FLOPs budget of the selection, G (0: none)
    double max_params_m = 0;          ///< params budget, M (0: none)
    double budget_weight = 1;         ///< weight of the budget hinges
    double kappa = 1;                 ///< selection penalty per unit of spread
    bool guard = false;               ///< compare with the best known record (selection.hpp)
    bool known_results = false;       ///< score visited known records by their stored results (selection.hpp)
    int threads = parallel::hardware_threads();  ///< host threads (>= 1)

    /// Whether a budget is set.
    bool budgeted() const { return max_flops_g > 0 || max_params_m > 0; }
};

/// The options of a config's `editing:` section (threads: the hardware's).
inline options make_options(const io::editing_config& e) {
    options o;
    o.iters = e.iters;
    o.lr = e.lr;
    o.per_step_increase = e.per_step_increase;
    o.use_flops = e.use_flops;
    o.per_flops_decrease = e.per_flops_decrease;
    o.alpha = e.alpha;
    o.max_flops_g = e.max_flops;
    o.max_params_m = e.max_params;
    o.budget_weight = e.budget_weight;
    o.kappa = e.kappa;
    o.guard = e.guard;
    o.known_results = e.known_results;
    return o;
}

}  // namespace ncp::search

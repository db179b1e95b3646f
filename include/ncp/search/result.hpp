#pragma once
/// What a search produces: the trajectories of its starts, every distinct code it met (a candidate, with exact
/// costs, predictions, objective and spread), the selection and the Pareto set.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "ncp/arch/count.hpp"
#include "ncp/data/format.hpp"
#include "ncp/search/objective.hpp"
#include "ncp/search/options.hpp"

namespace ncp::search {

/// How a candidate entered the search's records.
enum class origin {
    search,  ///< a rounded code on a trajectory
    repair,  ///< a step of the budget repair (selection.hpp)
    known,   ///< a known record evaluated for the guard
};

/// "search", "repair" or "known".
inline const char* origin_name(origin o) {
    return o == origin::search ? "search" : o == origin::repair ? "repair" : "known";
}

/// One distinct valid code the search met, with everything known about it.
template <class Code>
struct candidate {
    Code code{};                                    ///< the code
    std::optional<arch::cost> cost;                 ///< exact FLOPs/params (none where the space cannot tell)
    std::vector<double> predicted;                  ///< each task's metrics (models' mean, original units) in turn
    std::vector<double> main_z;                     ///< each model's predicted main metric, z-scored by the model
    std::vector<double> flops_z;                    ///< each model's predicted FLOPs (second-to-last output), z-scored
    double objective = 0;                           ///< S(c)
    double spread = 0;                              ///< U(c)
    std::vector<std::optional<std::size_t>> record;  ///< per task: the row of its benchmark file holding the code
    bool within_budget = true;                      ///< exact cost within the budgets (true without budgets)
    origin from = origin::search;                   ///< how it entered
    std::size_t start = 0;                          ///< first visit: start (search, repair)
    std::size_t iteration = 0;                      ///< first visit: iteration (search), repair step (repair)

    /// S - kappa U.
    double score(double kappa) const { return objective - kappa * spread; }
};

/// What a search produced: trajectories (flat, start-major), the visited codes, the selection and the Pareto set.
template <class Space>
struct result {
    using code_type = typename Space::code_type;

    std::vector<std::string> task_names;                ///< in objective order
    std::vector<double> weights;                        ///< per task
    std::vector<std::vector<std::string>> metric_names;  ///< per task, output order
    std::vector<std::size_t> models_per_task;           ///< ensemble sizes
    std::size_t starts = 0;                             ///< batch size
    std::size_t records = 0;                            ///< per start: iterations 0..iters
    std::vector<double> continuous;     ///< [start][record][dim]: the continuous code, original units
    std::vector<double> predicted;      ///< [start][record][outputs of all tasks]: its predicted metrics (model means)
    std::vector<std::size_t> rounded;   ///< [start][record]: the rounded code, an index into candidates
    std::vector<candidate<code_type>> candidates;       ///< every distinct code met, in order of first visit
    std::size_t selected = 0;                           ///< the selection (an index into candidates)
    std::optional<std::size_t> best_known;              ///< guard: the best known record's candidate
    bool repaired = false;                              ///< no visited code met the budgets: a repair ran
    std::vector<std::size_t> pareto;                    ///< Pareto set (visited codes with a cost), by cost
    std::string cost_source;                            ///< where costs come from
    options settings;                                   ///< what the search ran with

    /// Outputs over all tasks.
    std::size_t outputs() const {
        std::size_t n = 0;
        for (const auto& m : metric_names) n += m.size();
        return n;
    }
    /// Offset of task k's metrics in `predicted` rows and candidate::predicted.
    std::size_t output_offset(std::size_t k) const {
        std::size_t n = 0;
        for (std::size_t i = 0; i < k; ++i) n += metric_names[i].size();
        return n;
    }
    /// Index of (start, record) in the flat per-record arrays.
    std::size_t at(std::size_t start, std::size_t record) const { return start * records + record; }
    /// Quality of a candidate for the Pareto set: S without the FLOPs term.
    double quality(const candidate<code_type>& c) const {
        const objective_layout l{models_per_task, weights, 0, false};
        return objective<double>(l, c.main_z, c.flops_z);
    }
};

/// A task's benchmark file, for stored results of visited codes and (guard) the known results.
struct truth {
    const data::benchmark* table = nullptr;  ///< the task's records (null: none)
    std::vector<std::size_t> known;          ///< rows whose results the models were trained on
};

}  // namespace ncp::search

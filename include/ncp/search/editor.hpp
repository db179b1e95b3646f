#pragma once
/// The NCP editor: gradient steps on a batch of architecture codes through frozen predictors (stepper.hpp), in the
/// reference model's z-space (z_space.hpp), toward the objective of objective.hpp; every rounded code memoised with
/// its exact cost and predictions (memo.hpp); then the selection of one architecture and the Pareto set
/// (selection.hpp). This header puts them together over tasks (each one model or an ensemble) and a thread team.

#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ncp/nn/predictor.hpp"
#include "ncp/search/memo.hpp"
#include "ncp/search/options.hpp"
#include "ncp/search/result.hpp"
#include "ncp/search/selection.hpp"
#include "ncp/search/space.hpp"
#include "ncp/search/stepper.hpp"
#include "ncp/search/z_space.hpp"
#include "ncp/parallel/memory.hpp"
#include "ncp/parallel/thread_team.hpp"

namespace ncp::search {

/// One task of the objective: a trained model, or an ensemble of models of the same metrics, and its weight.
template <class T = float, class Backend = default_backend>
struct task {
    std::string name;                              ///< names the task in outputs, e.g. "seg"
    double weight = 1;                             ///< weight of its main metric (in z-units) in the objective
    std::vector<nn::predictor<T, Backend>> models;  ///< one model, or an ensemble (mean and spread)
};

/// The NCP editor over one space, any number of tasks (each one model or an ensemble) and a backend.
template <class Space, class T = float, class Backend = default_backend>
class editor {
public:
    using code_type = typename Space::code_type;
    static constexpr std::size_t dim = Space::dim;
    /// Rows per shard of the steps on a host backend (stepper.hpp).
    static constexpr std::size_t shard_rows = stepper<Space, T, Backend>::shard_rows;

    /// Freezes the models (evaluation mode, no parameter gradients). Throws ncp::error naming the task and model
    /// when a model does not fit the space or its task, a weight is not positive and finite, the FLOPs term or a
    /// budget needs an output a model lacks, a budget is below the cheapest code of the space, or an option is out
    /// of range.
    editor(Space space, std::vector<task<T, Backend>> tasks, options opt)
        : m_space(std::move(space)), m_tasks(std::move(tasks)), m_opt(opt), m_models((check(), frozen(m_tasks))),
          m_layout(make_layout()), m_terms(make_terms()), m_z(m_space, m_models),
          m_memo(m_space, m_models, m_layout, m_terms, m_opt),
          m_stepper(m_space, m_z, m_models, m_layout, m_terms, m_opt),
          m_selector(m_space, m_memo, m_models, m_layout, m_opt),
          m_team(ncp::detail::kernels<Backend>::host_accessible ? m_opt.threads : 1) {}
    editor(const editor&) = delete;
    editor& operator=(const editor&) = delete;

    /// Stored results for task k (reported beside predictions) and the rows its models were trained on (the known
    /// results the guard compares with). The table must outlive the editor.
    void set_truth(std::size_t k, truth t) { m_memo.set_truth(k, std::move(t)); }

    /// The space searched.
    const Space& space() const { return m_space; }
    /// The tasks (models frozen).
    const std::vector<task<T, Backend>>& tasks() const { return m_tasks; }
    /// The options.
    const options& settings() const { return m_opt; }
    /// The reference model's z-score of codes in original units (rows x dim, flat).
    std::vector<double> to_z(std::span<const double> values) const { return m_z.to_z(values); }

    /// Bytes a search from `starts` codes holds at most: its trajectories and one candidate per record.
    double memory_estimate(std::size_t starts) const {
        return memory_estimate(starts, m_opt.iters, output_count(), m_models.size(), m_tasks.size());
    }
    /// The same for a search of `iters` iterations over `tasks` tasks of `models` models with `outputs` outputs in
    /// all, before the editor is built (ncp ask checks its starts before training the ensemble).
    static double memory_estimate(std::size_t starts, int iters, std::size_t outputs, std::size_t models,
                                  std::size_t tasks) {
        const std::size_t per_record = dim * sizeof(double) + outputs * sizeof(double) + sizeof(std::size_t) +
                                       sizeof(code_type) + sizeof(candidate<code_type>) +
                                       (outputs + 2 * models + 2 * tasks) * sizeof(double) + sizeof(code_type) +
                                       4 * sizeof(void*);
        return static_cast<double>(starts) * (static_cast<double>(iters) + 1) * static_cast<double>(per_record);
    }

    /// Throws, naming the estimate, the memory available and `advice`, when a search from `starts` codes would not
    /// fit.
    void check_memory(std::size_t starts, const std::string& advice = "fewer editing.starts or editing.iters") const {
        check_memory(memory_estimate(starts), starts, m_opt.iters, advice);
    }
    /// Throws, naming `starts`, `iters`, the estimate `bytes`, the memory available and `advice`, when `bytes` do not
    /// fit.
    static void check_memory(double bytes, std::size_t starts, int iters, const std::string& advice) {
        parallel::require_memory(bytes,
                                 "the search's records (" + std::to_string(starts) + " starts x " +
                                     std::to_string(static_cast<std::int64_t>(iters) + 1) + " recorded iterations)",
                                 advice);
    }

    /// Searches from `starts` (one batch) and selects; see the header comments of stepper.hpp and selection.hpp.
    /// Throws for a start outside the bounds, and before allocating when the records would not fit in memory.
    /// `progress` hears of the steps' progress (stepper.hpp).
    result<Space> run(std::span<const code_type> starts, const step_progress& progress = {}) {
        if (starts.empty()) throw error("search: no start codes");
        check_memory(starts.size());
        for (const auto& s : starts) m_space.check_bounds(s, m_space.to_string(s));
        const std::size_t n = starts.size();
        result<Space> r = empty_result(n);
        m_memo.clear();
        std::vector<double> start_values(n * dim);
        for (std::size_t b = 0; b < n; ++b) {
            const auto v = m_space.values(starts[b]);
            std::copy(v.begin(), v.end(), start_values.begin() + static_cast<std::ptrdiff_t>(b * dim));
        }
        std::vector<code_type> rounded(n * r.records);
        m_stepper.run(start_values, r, rounded, m_team, progress);
        // Candidates in order of first visit: iteration by iteration, start by start.
        std::vector<code_type> visited(n);
        for (std::size_t it = 0; it < r.records; ++it) {
            for (std::size_t b = 0; b < n; ++b) visited[b] = rounded[r.at(b, it)];
            const auto ids = m_memo.visit(visited, r, origin::search, it, m_team);
            for (std::size_t b = 0; b < n; ++b) r.rounded[r.at(b, it)] = ids[b];
        }
        m_selector.select(r, m_team);
        return r;
    }

    /// Evaluates `codes` without stepping: a result whose candidates are the distinct codes in order (origin search,
    /// iteration 0) with exact costs, predictions, objective, spread and stored records; no trajectories, no
    /// selection. Codes outside the search bounds are allowed (nothing steps from them).
    result<Space> score(std::span<const code_type> codes) {
        result<Space> r = empty_result(0);
        m_memo.clear();
        m_memo.visit(codes, r, origin::search, 0, m_team);
        return r;
    }

    /// S of a candidate with the stored main metrics of its known records (selection.hpp), if it is one.
    std::optional<double> known_objective(const candidate<code_type>& c) const { return m_selector.known_objective(c); }

    /// d loss / dz of the step (objective.hpp; summed over the rows) at reference z-codes `z` (rows x dim).
    void loss_gradient(std::span<const T> z, index_t rows, std::span<T> grad) {
        m_stepper.loss_gradient(z, rows, grad);
    }

private:
    std::size_t output_count() const {
        std::size_t n = 0;
        for (const auto& t : m_tasks) n += static_cast<std::size_t>(t.models.front().spec().outputs());
        return n;
    }

    /// Every model, task by task, in evaluation mode without parameter gradients.
    static std::vector<nn::predictor<T, Backend>*> frozen(std::vector<task<T, Backend>>& tasks) {
        std::vector<nn::predictor<T, Backend>*> models;
        for (auto& t : tasks)
            for (auto& m : t.models) {
                m.train(false);
                m.for_each_parameter([](const std::string&, auto& p) { p.requires_grad = false; });
                models.push_back(&m);
            }
        return models;
    }

    objective_layout make_layout() const {
        objective_layout l;
        for (const auto& t : m_tasks) {
            l.models_per_task.push_back(t.models.size());
            l.weights.push_back(t.weight);
        }
        l.alpha = m_opt.alpha;
        l.use_flops = m_opt.use_flops;
        return l;
    }

    /// Each model's FLOPs output (the second-to-last) and budget outputs (named flops/params) in its z-units.
    std::vector<output_terms> make_terms() const {
        std::vector<output_terms> terms;
        for (const auto* m : m_models) {
            const auto names = m->spec().metric_names();
            const nn::normalisation& s = m->stats();
            output_terms t;
            t.outputs = names.size();
            t.flops = t.outputs >= 2 ? t.outputs - 2 : 0;
            auto budget = [&](std::string_view wanted, double limit) -> std::optional<std::pair<std::size_t, double>> {
                if (limit <= 0) return std::nullopt;
                for (std::size_t i = 0; i < names.size(); ++i) {
                    std::string lower = names[i];
                    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
                    if (lower == wanted) return std::pair{i, s.output_z(i, limit)};
                }
                return std::nullopt;
            };
            t.max_flops = budget("flops", m_opt.max_flops_g);
            t.max_params = budget("params", m_opt.max_params_m);
            terms.push_back(t);
        }
        return terms;
    }

    void check() const {
        if (m_tasks.empty()) throw error("search: no task (give at least one model)");
        if (m_opt.iters < 0) throw error("editing.iters must be at least 0 (got " + std::to_string(m_opt.iters) + ")");
        if (m_opt.threads < 1)
            throw error("search: threads must be at least 1 (got " + std::to_string(m_opt.threads) + ")");
        if (!(m_opt.per_step_increase > 0))
            throw error("editing.per_step_increase must be positive: the step follows the sign of the target shift, "
                        "and only a positive one moves toward better codes");
        if (m_opt.use_flops && !(m_opt.per_flops_decrease > 0))
            throw error("editing.per_flops_decrease must be positive: the step follows the sign of the target shift, "
                        "and only a positive one moves toward cheaper codes");
        for (std::size_t k = 0; k < m_tasks.size(); ++k) {
            const auto& t = m_tasks[k];
            if (t.models.empty()) throw error("search: task " + t.name + " has no model");
            if (!(t.weight > 0 && std::isfinite(t.weight)))
                throw error("search: the weight of task " + t.name + " must be positive and finite");
            for (std::size_t j = 0; j < k; ++j)
                if (m_tasks[j].name == t.name) throw error("search: task " + t.name + " is named twice");
            const auto names = t.models.front().spec().metric_names();
            for (std::size_t m = 0; m < t.models.size(); ++m) {
                const auto& spec = t.models[m].spec();
                const std::string which = "model " + std::to_string(m + 1) + " of task " + t.name;
                if (spec.input_dim != static_cast<index_t>(dim))
                    throw error(which + " takes " + std::to_string(spec.input_dim) + "-dimensional codes; " +
                                Space::name() + " codes have " + std::to_string(dim));
                if (spec.metric_names() != names)
                    throw error(which +
                                " predicts other metrics than model 1 of the task (an ensemble needs the same)");
                if (m_opt.use_flops && spec.outputs() < 2)
                    throw error(which + " has a single output: the FLOPs term (second-to-last output) needs two "
                                        "(set editing.use_flops false)");
            }
        }
        if (m_opt.budgeted()) {
            if constexpr (requires(const Space& s, const code_type& c) { s.smaller_neighbours(c); }) {
                const code_type smallest = m_space.minimal();
                const arch::cost c = *m_space.cost(smallest);
                if (!within_budget(c, m_opt.max_flops_g, m_opt.max_params_m))
                    throw error("search: no architecture meets the budget (editing.max_flops " +
                                budget_text(m_opt.max_flops_g, "G") + ", editing.max_params " +
                                budget_text(m_opt.max_params_m, "M") + "): the smallest code of the space, " +
                                m_space.to_string(smallest) + ", has " +
                                arch::fixed_string(c.flops, arch::flops_g_decimals) + " G FLOPs and " +
                                arch::fixed_string(c.params, arch::params_m_decimals) + " M params (" +
                                m_space.cost_source() + ")");
            } else {
                throw error(
                    "search: budgets (editing.max_flops, editing.max_params) apply to NAS-Bench-MR codes, not " +
                    Space::name());
            }
        }
    }

    static std::string budget_text(double v, const char* unit) {
        return v > 0 ? std::to_string(v) + " " + unit : std::string("none");
    }

    result<Space> empty_result(std::size_t n) const {
        result<Space> r;
        for (const auto& t : m_tasks) {
            r.task_names.push_back(t.name);
            r.weights.push_back(t.weight);
            r.metric_names.push_back(t.models.front().spec().metric_names());
            r.models_per_task.push_back(t.models.size());
        }
        r.starts = n;
        r.records = static_cast<std::size_t>(m_opt.iters) + 1;
        r.continuous.resize(n * r.records * dim);
        r.predicted.resize(n * r.records * r.outputs());
        r.rounded.resize(n * r.records);
        r.cost_source = m_space.cost_source();
        r.settings = m_opt;
        return r;
    }

    Space m_space;
    std::vector<task<T, Backend>> m_tasks;
    options m_opt;
    std::vector<nn::predictor<T, Backend>*> m_models;  ///< every model, task by task
    objective_layout m_layout;
    std::vector<output_terms> m_terms;                  ///< per model
    z_space<T, Backend> m_z;
    candidate_memo<Space, T, Backend> m_memo;
    stepper<Space, T, Backend> m_stepper;
    selector<Space, T, Backend> m_selector;
    parallel::thread_team m_team;
};

}  // namespace ncp::search

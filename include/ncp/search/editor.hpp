#pragma once
/// The NCP editor (spec section 6): gradient steps on a batch of architecture codes through frozen predictors,
/// clamped to the space's bounds, rounded to valid codes whose exact costs and predictions are memoised by code,
/// then the selection of one architecture (and the Pareto set) among the codes visited.
///
/// The code variable lives in the z-space of the first task's first model (the reference model), as the original
/// keeps `normalized_data`; every other model z-scores the code with its own statistics (z_m = a_m z + b_m, the
/// identity when the statistics agree), so codes travel in original units between models. One iteration on the
/// batch x (starts x dim):
/// 1. predict with every model; record the continuous code in original units, its rounded code (iteration 0: the
///    start itself), every predicted metric and, through the memo, the rounded code's predictions, cost and stored
///    results;
/// 2. loss = sum_k w_k / M_k sum_m L1(main_m, main_m + per_step_increase)
///         + [use_flops] alpha / M sum_m L1(flops_m, flops_m - per_flops_decrease)
///         + budget_weight / M sum_m (relu(flops_m - budget) + relu(params_m - budget)),
///    summed over the batch (each start's gradient is its own), targets detached, flops_m the second-to-last output,
///    budgets z-scored by each model; for one model this is the original's loss exactly;
/// 3. x -= lr d loss / dx (a fresh SGD without momentum each iteration, as the original);
/// 4. clamp x to the bounds mapped into z-space; the continuous code carries on unrounded.
/// Iterations 0..iters are recorded: the original's `iters` records, then the code after the last step.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ncp/autograd/ops.hpp"
#include "ncp/data/format.hpp"
#include "ncp/io/config.hpp"
#include "ncp/nn/predictor.hpp"
#include "ncp/parallel/thread_team.hpp"
#include "ncp/search/selection.hpp"
#include "ncp/search/space.hpp"

namespace ncp::search {

/// One task of the objective: a trained model, or an ensemble of models of the same metrics, and its weight.
template <class T = float, class Backend = default_backend>
struct task {
    std::string name;                              ///< names the task in outputs, e.g. "seg"
    double weight = 1;                             ///< weight of its main metric (in z-units) in the objective
    std::vector<nn::predictor<T, Backend>> models;  ///< one model, or an ensemble (mean and spread)
};

/// How to search: the `editing:` keys (spec 6 defaults) and ncp's additions.
struct options {
    int iters = 70;                   ///< gradient steps per start
    double lr = 3;                    ///< SGD step on the z-scored code
    double per_step_increase = 0.1;   ///< target shift of the main metric (z-units)
    bool use_flops = true;            ///< add the FLOPs term
    double per_flops_decrease = 0.1;  ///< target shift of the predicted FLOPs (z-units)
    double alpha = 0.5;               ///< weight of the FLOPs term
    double max_flops_g = 0;           ///< FLOPs budget of the selection, G (0: none)
    double max_params_m = 0;          ///< params budget, M (0: none)
    double budget_weight = 1;         ///< weight of the budget hinges
    double kappa = 1;                 ///< selection penalty per unit of spread
    bool guard = false;               ///< compare with the best known record (selection.hpp)
    bool known_results = false;       ///< score visited known records by their stored results (selection.hpp)
    int threads = 1;                  ///< threads stepping a large batch (1 or 2; a device backend uses 1)

    /// Whether a budget is set.
    bool budgeted() const { return max_flops_g > 0 || max_params_m > 0; }
};

/// The options of a config's `editing:` section.
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

/// How a candidate entered the search's records.
enum class origin {
    search,  ///< a rounded code on a trajectory
    repair,  ///< a step of the budget repair (see editor::run)
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
        objective_layout l{models_per_task, weights, 0, false};
        return objective(l, c.main_z, c.flops_z);
    }
};

/// A task's benchmark file, for stored results of visited codes and (guard) the known results.
struct truth {
    const data::benchmark* table = nullptr;  ///< the task's records (null: none)
    std::vector<std::size_t> known;          ///< rows whose results the models were trained on
};

/// The NCP editor over one space, any number of tasks (each one model or an ensemble) and a backend.
template <class Space, class T = float, class Backend = default_backend>
class editor {
public:
    using code_type = typename Space::code_type;
    using tensor = Tensor<T, Backend>;
    using var_type = autograd::var<T, Backend>;
    static constexpr std::size_t dim = Space::dim;

    /// Freezes the models (evaluation mode, no parameter gradients). Throws ncp::error naming the task and model
    /// when a model does not fit the space or its task, a weight is not positive and finite, the FLOPs term or a
    /// budget needs an output a model lacks, or a budget is below the cheapest code of the space.
    editor(Space space, std::vector<task<T, Backend>> tasks, options opt)
        : m_space(std::move(space)), m_tasks(std::move(tasks)), m_opt(opt) {
        check();
        for (auto& t : m_tasks)
            for (auto& m : t.models) {
                m.train(false);
                m.for_each_parameter([](const std::string&, auto& p) { p.requires_grad = false; });
                m_models.push_back(&m);
            }
        const nn::normalisation& ref = m_models.front()->stats();
        m_zero.resize(dim);
        m_scale.resize(dim);
        std::vector<T> lo(dim), hi(dim);
        for (std::size_t i = 0; i < dim; ++i) {
            m_zero[i] = ref.input_mean[i];
            m_scale[i] = ref.input_std[i];
            lo[i] = static_cast<T>((m_space.lower(i) - m_zero[i]) / m_scale[i]);
            hi[i] = static_cast<T>((m_space.upper(i) - m_zero[i]) / m_scale[i]);
        }
        m_lower = tensor::from_host(lo, 1, static_cast<index_t>(dim));
        m_upper = tensor::from_host(hi, 1, static_cast<index_t>(dim));
        for (const auto* m : m_models) {
            model_view v;
            const nn::normalisation& s = m->stats();
            std::vector<T> a(dim), b(dim);
            for (std::size_t i = 0; i < dim; ++i) {
                a[i] = static_cast<T>(m_scale[i] / s.input_std[i]);
                b[i] = static_cast<T>((m_zero[i] - s.input_mean[i]) / s.input_std[i]);
                v.identity = v.identity && s.input_std[i] == m_scale[i] && s.input_mean[i] == m_zero[i];
            }
            if (!v.identity) {
                v.scale = tensor::from_host(a, 1, static_cast<index_t>(dim));
                v.shift = tensor::from_host(b, 1, static_cast<index_t>(dim));
            }
            const auto names = m->spec().metric_names();
            v.outputs = names.size();
            v.flops = v.outputs - 2;
            v.flops_budget = find_metric(names, "flops");
            v.params_budget = find_metric(names, "params");
            m_views.push_back(std::move(v));
        }
        m_layout.weights.clear();
        for (const auto& t : m_tasks) {
            m_layout.models_per_task.push_back(t.models.size());
            m_layout.weights.push_back(t.weight);
        }
        m_layout.alpha = m_opt.alpha;
        m_layout.use_flops = m_opt.use_flops;
        m_truth.resize(m_tasks.size());
        m_rows.resize(m_tasks.size());
    }
    editor(const editor&) = delete;
    editor& operator=(const editor&) = delete;

    /// Stored results for task k (reported beside predictions) and the rows its models were trained on (the known
    /// results the guard compares with). The table must outlive the editor.
    void set_truth(std::size_t k, truth t) {
        if (k >= m_tasks.size()) throw error("set_truth: no task " + std::to_string(k));
        m_rows[k].clear();
        if (t.table != nullptr) {
            if (t.table->code_dim() != dim)
                throw error("benchmark of task " + m_tasks[k].name + " holds " + std::to_string(t.table->code_dim()) +
                            "-dim codes, the search " + std::to_string(dim));
            for (std::size_t r = 0; r < t.table->size(); ++r) {
                try {
                    m_rows[k].emplace(m_space.exact(std::span<const double>(&t.table->codes(r, 0), dim)), r);
                } catch (const error&) {
                    // a record outside the space: no visited code can match it
                }
            }
            for (std::size_t r : t.known)
                if (r >= t.table->size()) throw error("known record " + std::to_string(r) + " does not exist");
        }
        m_truth[k] = std::move(t);
    }

    /// The space searched.
    const Space& space() const { return m_space; }
    /// The tasks (models frozen).
    const std::vector<task<T, Backend>>& tasks() const { return m_tasks; }
    /// The options.
    const options& settings() const { return m_opt; }
    /// The reference model's z-score of a code in original units, per dimension: (v - mean) / std.
    std::vector<double> to_z(std::span<const double> values) const {
        std::vector<double> z(values.size());
        for (std::size_t i = 0; i < values.size(); ++i) z[i] = (values[i] - m_zero[i % dim]) / m_scale[i % dim];
        return z;
    }

    /// Searches from `starts` (one batch) and selects; see the header comment and selection.hpp. Throws for a start
    /// outside the bounds. Batches of shard_rows or more starts are split into two shards that options::threads
    /// threads step at once; the shards do not depend on the thread count, so neither do the results.
    result<Space> run(std::span<const code_type> starts) {
        if (starts.empty()) throw error("search: no start codes");
        for (const auto& s : starts) m_space.check_bounds(s, m_space.to_string(s));
        const std::size_t n = starts.size();
        result<Space> r = empty_result(n);
        m_memo.clear();

        std::vector<double> start_values(n * dim);
        for (std::size_t b = 0; b < n; ++b) {
            const auto v = m_space.values(starts[b]);
            std::copy(v.begin(), v.end(), start_values.begin() + static_cast<std::ptrdiff_t>(b * dim));
        }
        const std::vector<double> z0 = to_z(start_values);
        std::vector<std::unique_ptr<shard>> shards;
        const std::size_t count = n >= shard_rows ? 2 : 1;
        for (std::size_t k = 0; k < count; ++k) {
            auto sh = std::make_unique<shard>();
            sh->begin = n * k / count;
            sh->rows = n * (k + 1) / count - sh->begin;
            sh->x.value =
                to_tensor(std::vector<double>(z0.begin() + static_cast<std::ptrdiff_t>(sh->begin * dim),
                                              z0.begin() + static_cast<std::ptrdiff_t>((sh->begin + sh->rows) * dim)),
                          static_cast<index_t>(sh->rows));
            shards.push_back(std::move(sh));
        }
        // A device backend runs each shard's kernels on its one stream: host threads would only contend for it.
        const int threads = ncp::detail::kernels<Backend>::host_accessible ? std::max(1, m_opt.threads) : 1;
        parallel::thread_team team(static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(threads), count)));
        std::vector<double> cont = start_values;
        std::vector<code_type> rounded(starts.begin(), starts.end());
        const std::size_t outputs = r.outputs();
        for (std::size_t it = 0; it <= static_cast<std::size_t>(m_opt.iters); ++it) {
            const bool step = it < static_cast<std::size_t>(m_opt.iters);
            // 1. predict and record (the continuous code, its predictions; then the rounded code through the memo)
            on_shards(team, shards, [&](shard& sh) {
                std::optional<autograd::no_grad> values_only;
                if (!step) values_only.emplace();
                const std::size_t first = sh.begin * dim, size = sh.rows * dim;
                if (it > 0) {
                    sh.host.resize(size);
                    sh.x.value.copy_to_host(sh.host);
                    for (std::size_t j = 0; j < size; ++j)
                        cont[first + j] = m_zero[j % dim] + static_cast<double>(sh.host[j]) * m_scale[j % dim];
                    for (std::size_t b = sh.begin; b < sh.begin + sh.rows; ++b)
                        rounded[b] = m_space.round(std::span<const double>(cont.data() + b * dim, dim));
                }
                for (std::size_t b = sh.begin; b < sh.begin + sh.rows; ++b) {
                    std::copy_n(cont.begin() + static_cast<std::ptrdiff_t>(b * dim), dim,
                                r.continuous.begin() + static_cast<std::ptrdiff_t>(r.at(b, it) * dim));
                    std::fill_n(r.predicted.begin() + static_cast<std::ptrdiff_t>(r.at(b, it) * outputs), outputs, 0.0);
                }
                sh.tape.clear();
                sh.outs = forward_all(sh.tape.leaf(sh.x));
                record_predictions(sh, r, it);
            });
            const auto ids = visit(rounded, r, origin::search, it);
            for (std::size_t b = 0; b < n; ++b) r.rounded[r.at(b, it)] = ids[b];
            if (!step) break;

            // 2.-4. loss, SGD step, clamp
            on_shards(team, shards, [&](shard& sh) {
                sh.tape.backward(loss(sh.outs));
                using kernels = ncp::detail::kernels<Backend>;
                using view = ncp::detail::view<T>;
                const auto rows = static_cast<index_t>(sh.rows), d = static_cast<index_t>(dim);
                kernels::template map<ncp::detail::fn::identity>(
                    rows, d, static_cast<T>(-m_opt.lr), T(1), sh.x.value.data(), d, view::matrix(sh.x.grad.data(), d));
                kernels::template map<ncp::detail::fn::clamp>(rows, d, T(1), T(0), sh.x.value.data(), d,
                                                              view::matrix(sh.x.value.data(), d),
                                                              view::row(m_lower.data()), view::row(m_upper.data()));
            });
        }
        select(r);
        return r;
    }

    /// The search objective of z-scored codes `z` (rows x dim, reference z-units): per row, minus the loss of step 2
    /// with each L1 term replaced by the prediction it pushes (sum_k w_k / M_k sum_m main_m - alpha / M sum_m flops_m
    /// - budget_weight / M sum_m hinges). Its gradient is minus the loss's (loss_gradient).
    std::vector<double> objective_values(std::span<const T> z, index_t rows) {
        autograd::no_grad scope;
        m_tape.clear();
        const tensor input = tensor::from_host(z, rows, static_cast<index_t>(dim));
        const auto outs = forward_all(m_tape.input(input));
        std::vector<double> j(static_cast<std::size_t>(rows), 0.0);
        std::vector<T> h;
        for (std::size_t m = 0; m < m_models.size(); ++m) {
            h = outs[m].value().to_host();
            const model_view& v = m_views[m];
            for (std::size_t b = 0; b < j.size(); ++b) {
                const T* o = h.data() + b * v.outputs;
                j[b] += main_factor(m) * static_cast<double>(o[0]);
                if (m_opt.use_flops) j[b] -= m_opt.alpha / models() * static_cast<double>(o[v.flops]);
                if (v.flops_budget && m_opt.max_flops_g > 0)
                    j[b] -= m_opt.budget_weight / models() *
                            std::max(0.0, static_cast<double>(o[*v.flops_budget]) -
                                              budget_z(m, *v.flops_budget, m_opt.max_flops_g));
                if (v.params_budget && m_opt.max_params_m > 0)
                    j[b] -= m_opt.budget_weight / models() *
                            std::max(0.0, static_cast<double>(o[*v.params_budget]) -
                                              budget_z(m, *v.params_budget, m_opt.max_params_m));
            }
        }
        m_tape.clear();
        return j;
    }

    /// d loss / dz of step 2 (summed over the rows) at z-scored codes `z` (rows x dim), into `grad` (rows x dim).
    void loss_gradient(std::span<const T> z, index_t rows, std::span<T> grad) {
        autograd::parameter<T, Backend> x(tensor::from_host(z, rows, static_cast<index_t>(dim)));
        m_tape.clear();
        m_tape.backward(loss(forward_all(m_tape.leaf(x))));
        x.grad.copy_to_host(grad);
        m_tape.clear();
    }

    /// Batches of at least this many starts are stepped as two shards.
    static constexpr std::size_t shard_rows = 64;

private:
    /// Rows [begin, begin + rows) of the batch: their code variable, tape and outputs.
    struct shard {
        std::size_t begin = 0, rows = 0;
        autograd::parameter<T, Backend> x;  ///< the rows' z-scored codes
        autograd::tape<T, Backend> tape;
        std::vector<var_type> outs;         ///< every model's outputs this iteration
        std::vector<T> host;                ///< scratch
    };

    /// job(shard) on every shard, shared out over the team; the first exception is rethrown after all finished.
    template <class Job>
    static void on_shards(parallel::thread_team& team, std::vector<std::unique_ptr<shard>>& shards, Job&& job) {
        std::vector<std::exception_ptr> failed(shards.size());
        team.run([&](int rank) {
            for (std::size_t k = static_cast<std::size_t>(rank); k < shards.size();
                 k += static_cast<std::size_t>(team.size())) {
                try {
                    job(*shards[k]);
                } catch (...) {
                    failed[k] = std::current_exception();
                }
            }
        });
        for (const auto& e : failed)
            if (e) std::rethrow_exception(e);
    }

    /// How a model reads the reference code and where its outputs are.
    struct model_view {
        bool identity = true;                      ///< same input statistics as the reference model
        tensor scale, shift;                       ///< z_m = z scale + shift, otherwise
        std::size_t outputs = 0;                   ///< number of outputs
        std::size_t flops = 0;                     ///< the FLOPs term's output: the second-to-last
        std::optional<std::size_t> flops_budget;   ///< the output named flops/Flops, for the FLOPs budget
        std::optional<std::size_t> params_budget;  ///< the output named params/Params, for the params budget
    };

    static std::optional<std::size_t> find_metric(const std::vector<std::string>& names, std::string_view wanted) {
        for (std::size_t i = 0; i < names.size(); ++i) {
            std::string lower = names[i];
            for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            if (lower == wanted) return i;
        }
        return std::nullopt;
    }

    double models() const { return static_cast<double>(m_models.size()); }

    /// The task of model m and the factor w_k / M_k of its main metric.
    double main_factor(std::size_t m) const {
        std::size_t first = 0;
        for (const auto& t : m_tasks) {
            if (m < first + t.models.size()) return t.weight / static_cast<double>(t.models.size());
            first += t.models.size();
        }
        return 0;
    }

    /// A budget in model m's z-units of output k.
    double budget_z(std::size_t m, std::size_t k, double budget) const {
        const nn::normalisation& s = m_models[m]->stats();
        return (budget - s.output_mean[k]) / s.output_std[k];
    }

    void check() const {
        if (m_tasks.empty()) throw error("search: no task (give at least one model)");
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

    tensor to_tensor(const std::vector<double>& values, index_t rows) const {
        std::vector<T> t(values.begin(), values.end());
        return tensor::from_host(t, rows, static_cast<index_t>(dim));
    }

    /// Every model's outputs for the reference z-codes xv (rows x dim), on xv's tape.
    std::vector<var_type> forward_all(const var_type& xv) {
        std::vector<var_type> outs;
        outs.reserve(m_models.size());
        auto& t = xv.owner();
        for (std::size_t m = 0; m < m_models.size(); ++m) {
            const model_view& v = m_views[m];
            outs.push_back(m_models[m]->forward(v.identity ? xv : xv * t.input(v.scale) + t.input(v.shift)));
        }
        return outs;
    }

    /// The loss of step 2 on the models' outputs.
    var_type loss(const std::vector<var_type>& outs) {
        std::optional<var_type> total;
        auto add = [&](var_type term, double factor) {
            if (factor != 1) term = term * static_cast<T>(factor);
            total = total ? *total + term : term;
        };
        using autograd::reduction;
        for (std::size_t m = 0; m < outs.size(); ++m)
            add(autograd::l1_toward(autograd::slice_cols(outs[m], 0, 1), static_cast<T>(m_opt.per_step_increase),
                                    reduction::sum),
                main_factor(m));
        if (m_opt.use_flops)
            for (std::size_t m = 0; m < outs.size(); ++m)
                add(autograd::l1_toward(autograd::slice_cols(outs[m], static_cast<index_t>(m_views[m].flops), 1),
                                        static_cast<T>(-m_opt.per_flops_decrease), reduction::sum),
                    m_opt.alpha / models());
        auto hinge = [&](std::size_t m, std::optional<std::size_t> k, double budget) {
            if (!k || budget <= 0 || m_opt.budget_weight == 0) return;
            const var_type over = autograd::slice_cols(outs[m], static_cast<index_t>(*k), 1) -
                                  static_cast<T>(budget_z(m, *k, budget));
            add(autograd::sum(autograd::relu(over)), m_opt.budget_weight / models());
        };
        for (std::size_t m = 0; m < outs.size(); ++m) {
            hinge(m, m_views[m].flops_budget, m_opt.max_flops_g);
            hinge(m, m_views[m].params_budget, m_opt.max_params_m);
        }
        return *total;
    }

    /// Adds each task's mean predictions (original units) of the shard's continuous codes to r.predicted at `it`.
    void record_predictions(shard& sh, result<Space>& r, std::size_t it) const {
        const std::size_t outputs = r.outputs();
        std::size_t m = 0;
        for (std::size_t k = 0; k < m_tasks.size(); ++k) {
            const std::size_t offset = r.output_offset(k);
            const double share = 1.0 / static_cast<double>(m_tasks[k].models.size());
            for (std::size_t j = 0; j < m_tasks[k].models.size(); ++j, ++m) {
                sh.host.resize(static_cast<std::size_t>(sh.outs[m].value().size()));
                sh.outs[m].value().copy_to_host(sh.host);
                const nn::normalisation& s = m_models[m]->stats();
                const std::size_t o = m_views[m].outputs;
                for (std::size_t b = 0; b < sh.rows; ++b)
                    for (std::size_t q = 0; q < o; ++q)
                        r.predicted[r.at(sh.begin + b, it) * outputs + offset + q] +=
                            share * (static_cast<double>(sh.host[b * o + q]) * s.output_std[q] + s.output_mean[q]);
            }
        }
    }

    /// The candidate index of each code, creating entries (cost, predictions, stored results) for new codes in
    /// one batch per model. `step` is the iteration (search) or repair step recorded as the first visit.
    std::vector<std::size_t> visit(std::span<const code_type> codes, result<Space>& r, origin from, std::size_t step,
                                   std::size_t repair_start = 0) {
        std::vector<std::size_t> ids(codes.size());
        std::vector<std::size_t> fresh;
        for (std::size_t b = 0; b < codes.size(); ++b) {
            const auto [found, inserted] = m_memo.try_emplace(codes[b], r.candidates.size());
            ids[b] = found->second;
            if (!inserted) continue;
            candidate<code_type> c;
            c.code = codes[b];
            c.cost = m_space.cost(c.code);
            c.within_budget = !m_opt.budgeted() || within_budget(*c.cost, m_opt.max_flops_g, m_opt.max_params_m);
            c.from = from;
            c.start = from == origin::search ? b : repair_start;
            c.iteration = step;
            c.record.resize(m_tasks.size());
            for (std::size_t k = 0; k < m_tasks.size(); ++k) {
                const auto row = m_rows[k].find(c.code);
                if (row != m_rows[k].end()) c.record[k] = row->second;
            }
            r.candidates.push_back(std::move(c));
            fresh.push_back(ids[b]);
        }
        if (!fresh.empty()) predict_candidates(fresh, r);
        return ids;
    }

    /// Predictions, objective and spread of candidates `ids`, one no-grad batch per model.
    void predict_candidates(const std::vector<std::size_t>& ids, result<Space>& r) {
        const auto rows = static_cast<index_t>(ids.size());
        const std::size_t outputs = r.outputs();
        std::vector<double> values(ids.size() * dim);
        for (std::size_t i = 0; i < ids.size(); ++i) {
            const auto v = m_space.values(r.candidates[ids[i]].code);
            std::copy(v.begin(), v.end(), values.begin() + static_cast<std::ptrdiff_t>(i * dim));
        }
        for (const std::size_t id : ids) {
            auto& c = r.candidates[id];
            c.predicted.assign(outputs, 0.0);
            c.main_z.assign(m_models.size(), 0.0);
            c.flops_z.assign(m_models.size(), 0.0);
        }
        autograd::no_grad scope;
        std::vector<T> z(values.size());
        std::size_t m = 0;
        for (std::size_t k = 0; k < m_tasks.size(); ++k) {
            const std::size_t offset = r.output_offset(k);
            const double share = 1.0 / static_cast<double>(m_tasks[k].models.size());
            for (std::size_t j = 0; j < m_tasks[k].models.size(); ++j, ++m) {
                const nn::normalisation& s = m_models[m]->stats();
                for (std::size_t i = 0; i < values.size(); ++i)
                    z[i] = static_cast<T>((values[i] - s.input_mean[i % dim]) / s.input_std[i % dim]);
                m_eval_tape.clear();
                const tensor input = tensor::from_host(z, rows, static_cast<index_t>(dim));
                const std::vector<T> out = m_models[m]->forward(m_eval_tape.input(input)).value().to_host();
                const std::size_t o = m_views[m].outputs;
                for (std::size_t i = 0; i < ids.size(); ++i) {
                    auto& c = r.candidates[ids[i]];
                    for (std::size_t q = 0; q < o; ++q)
                        c.predicted[offset + q] +=
                            share * (static_cast<double>(out[i * o + q]) * s.output_std[q] + s.output_mean[q]);
                    c.main_z[m] = static_cast<double>(out[i * o]);
                    c.flops_z[m] = o >= 2 ? static_cast<double>(out[i * o + m_views[m].flops]) : 0.0;
                }
            }
        }
        m_eval_tape.clear();
        for (const std::size_t id : ids) {
            auto& c = r.candidates[id];
            c.objective = objective(m_layout, c.main_z, c.flops_z);
            c.spread = spread(m_layout, c.main_z);
        }
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

    /// Greedy repair toward the budgets from candidate `from`: repeatedly the one-step-smaller code that gives up the
    /// least score per unit of budget violation removed, until within budget. Terminates: each step lowers FLOPs
    /// and params strictly, and the cheapest code is within budget (checked at construction).
    void repair(result<Space>& r, std::size_t from) {
        if constexpr (requires(const Space& s, const code_type& c) { s.smaller_neighbours(c); }) {
            const double kappa = m_opt.kappa;
            std::size_t current = from;
            const std::size_t start = r.candidates[from].start;
            auto violation = [&](std::size_t id) {
                return budget_violation(*r.candidates[id].cost, m_opt.max_flops_g, m_opt.max_params_m);
            };
            for (std::size_t step = 1; !r.candidates[current].within_budget; ++step) {
                const auto next = m_space.smaller_neighbours(r.candidates[current].code);
                const auto ids = visit(next, r, origin::repair, step, start);
                std::size_t best = ids.front();
                double best_rate = std::numeric_limits<double>::infinity();
                for (const std::size_t id : ids) {
                    const double given_up = r.candidates[current].score(kappa) - r.candidates[id].score(kappa);
                    const double rate = given_up / (violation(current) - violation(id));
                    if (rate < best_rate) {
                        best_rate = rate;
                        best = id;
                    }
                }
                current = best;
            }
            r.repaired = true;
        }
    }

    /// Whether row `row` of task k's benchmark is one the models were trained on.
    bool known_row(std::size_t k, std::size_t row) const {
        const auto& known = m_truth[k].known;
        return std::find(known.begin(), known.end(), row) != known.end();
    }

    /// S of a candidate with each task's stored main metric in place of its predictions (z-scored by each model; the
    /// FLOPs term predicted) when the code is a known record of every task; nothing otherwise.
    std::optional<double> known_objective(const candidate<code_type>& c) const {
        std::vector<double> true_z(m_models.size());
        std::size_t m = 0;
        for (std::size_t k = 0; k < m_tasks.size(); ++k) {
            if (m_truth[k].table == nullptr || !c.record[k] || !known_row(k, *c.record[k])) return std::nullopt;
            const double stored = m_truth[k].table->metrics(*c.record[k], main_column(k));
            for (std::size_t j = 0; j < m_tasks[k].models.size(); ++j, ++m) {
                const nn::normalisation& s = m_models[m]->stats();
                true_z[m] = (stored - s.output_mean[0]) / s.output_std[0];
            }
        }
        return objective(m_layout, true_z, c.flops_z);
    }

    /// The best known record (guard): among the rows known in every task (matched by code) and within budget, the
    /// highest known_objective; nothing without known rows.
    std::optional<std::size_t> best_known(result<Space>& r) {
        if (m_truth.empty() || m_truth[0].table == nullptr) return std::nullopt;
        const data::benchmark& t0 = *m_truth[0].table;
        std::optional<std::size_t> best;
        double best_value = -std::numeric_limits<double>::infinity();
        for (const std::size_t row : m_truth[0].known) {
            code_type code;
            try {
                code = m_space.exact(std::span<const double>(&t0.codes(row, 0), dim));
            } catch (const error&) {
                continue;
            }
            bool everywhere = true;  // checked before visiting: a code unknown elsewhere is no candidate
            for (std::size_t k = 1; k < m_tasks.size() && everywhere; ++k) {
                const auto found = m_rows[k].find(code);
                everywhere = found != m_rows[k].end() && known_row(k, found->second);
            }
            if (!everywhere) continue;
            const auto found = m_memo.find(code);
            const std::size_t id =
                found != m_memo.end() ? found->second : visit(std::span(&code, 1), r, origin::known, 0)[0];
            const auto& c = r.candidates[id];
            const auto value = known_objective(c);
            if (c.within_budget && value && *value > best_value) {
                best_value = *value;
                best = id;
            }
        }
        return best;
    }

    /// The column of task k's benchmark holding its main metric (the models' first output).
    std::size_t main_column(std::size_t k) const {
        return m_truth[k].table->metric_index(m_tasks[k].models.front().spec().metric_names().front());
    }

    /// Selection (selection.hpp), the budget repair where no visited code meets the budgets, the Pareto set.
    void select(result<Space>& r) {
        const double kappa = m_opt.kappa;
        // known_results: a known record's score is its stored S (no spread: nothing about it is uncertain)
        auto score = [&](const candidate<code_type>& c) {
            const auto stored = m_opt.known_results ? known_objective(c) : std::nullopt;
            return stored ? *stored : c.score(kappa);
        };
        auto best_of = [&](bool budget_only) {
            std::optional<std::size_t> best;
            for (std::size_t i = 0; i < r.candidates.size(); ++i) {
                const auto& c = r.candidates[i];
                if (c.from == origin::known || (budget_only && !c.within_budget)) continue;
                if (!best || score(c) > score(r.candidates[*best])) best = i;
            }
            return best;
        };
        if (!best_of(true)) repair(r, *best_of(false));
        std::size_t chosen = *best_of(true);
        if (m_opt.guard) {
            r.best_known = best_known(r);
            if (r.best_known) {
                const auto& b = r.candidates[*r.best_known];
                std::optional<std::size_t> qualifier;
                double best_margin = 0;
                for (std::size_t i = 0; i < r.candidates.size(); ++i) {
                    const auto& c = r.candidates[i];
                    // known_results: a known record's stored S is at most b's, so it never qualifies
                    if (c.from == origin::known || !c.within_budget || (m_opt.known_results && known_objective(c)))
                        continue;
                    const auto [a, u] = advantage(m_layout, c.main_z, c.flops_z, b.main_z, b.flops_z);
                    if (a - kappa * u > best_margin) {
                        best_margin = a - kappa * u;
                        qualifier = i;
                    }
                }
                chosen = qualifier ? *qualifier : *r.best_known;
            }
        }
        r.selected = chosen;
        std::vector<std::size_t> visited;
        std::vector<double> cost, quality;
        for (std::size_t i = 0; i < r.candidates.size(); ++i) {
            const auto& c = r.candidates[i];
            if (c.from == origin::known || !c.cost) continue;
            visited.push_back(i);
            cost.push_back(static_cast<double>(c.cost->flops));
            quality.push_back(r.quality(c));
        }
        for (const std::size_t p : pareto_front(cost, quality)) r.pareto.push_back(visited[p]);
    }

    Space m_space;
    std::vector<task<T, Backend>> m_tasks;
    options m_opt;
    std::vector<nn::predictor<T, Backend>*> m_models;  ///< every model, task by task
    std::vector<model_view> m_views;                    ///< per model
    objective_layout m_layout;
    std::vector<double> m_zero, m_scale;                ///< the reference model's input mean and std
    tensor m_lower, m_upper;                            ///< bounds in reference z-units (1 x dim)
    std::vector<truth> m_truth;                         ///< per task
    std::vector<std::unordered_map<code_type, std::size_t, code_hash>> m_rows;  ///< per task: code -> row
    std::unordered_map<code_type, std::size_t, code_hash> m_memo;                ///< code -> candidate
    autograd::tape<T, Backend> m_tape;       ///< objective_values and loss_gradient
    autograd::tape<T, Backend> m_eval_tape;  ///< predictions of new rounded codes
};

}  // namespace ncp::search

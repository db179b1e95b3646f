#pragma once
/// The distinct codes a search meets, memoised by code: each one's exact cost, every model's predictions, its
/// objective and spread, and the rows of the tasks' benchmark files holding it. New codes are evaluated in chunks of
/// a fixed number of codes handed out over a thread team: the chunks do not depend on the team's size, so neither
/// do the results.

#include <algorithm>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ncp/autograd/ops.hpp"
#include "ncp/nn/predictor.hpp"
#include "ncp/search/result.hpp"
#include "ncp/search/budget.hpp"
#include "ncp/search/space.hpp"
#include "ncp/parallel/thread_team.hpp"

namespace ncp::search {

/// See the header comment.
template <class Space, class T = float, class Backend = default_backend>
class candidate_memo {
public:
    using code_type = typename Space::code_type;
    static constexpr std::size_t dim = Space::dim;
    /// New codes are predicted in chunks of this many codes: as many as the model's predict() takes at a time.
    static constexpr std::size_t chunk_rows = nn::predictor<T, Backend>::predict_rows;

    /// A memo for `models` (task by task as `layout` says, outputs as `terms` say), budgets from `opt`.
    candidate_memo(const Space& space, std::span<nn::predictor<T, Backend>* const> models, objective_layout layout,
                   std::vector<output_terms> terms, const options& opt)
        : m_space(space), m_models(models), m_layout(std::move(layout)), m_terms(std::move(terms)), m_opt(opt),
          m_truth(m_layout.models_per_task.size()), m_rows(m_layout.models_per_task.size()) {}

    /// Stored results for task k (reported beside predictions) and the rows its models were trained on. The table
    /// must outlive the memo.
    void set_truth(std::size_t k, truth t) {
        if (k >= m_truth.size()) throw error("set_truth: no task " + std::to_string(k));
        m_rows[k].clear();
        if (t.table != nullptr) {
            if (t.table->code_dim() != dim)
                throw error("benchmark of task " + std::to_string(k + 1) + " holds " +
                            std::to_string(t.table->code_dim()) + "-dim codes, the search " + std::to_string(dim));
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
    /// Task k's stored results.
    const truth& truth_of(std::size_t k) const { return m_truth[k]; }
    /// The row of task k's benchmark file holding `code`, if any.
    std::optional<std::size_t> row_of(std::size_t k, const code_type& code) const {
        const auto found = m_rows[k].find(code);
        return found == m_rows[k].end() ? std::nullopt : std::optional<std::size_t>(found->second);
    }
    /// Whether row `row` of task k's benchmark is one the models were trained on.
    bool known_row(std::size_t k, std::size_t row) const {
        const auto& known = m_truth[k].known;
        return std::find(known.begin(), known.end(), row) != known.end();
    }
    /// The candidate holding `code`, if met.
    std::optional<std::size_t> find(const code_type& code) const {
        const auto found = m_memo.find(code);
        return found == m_memo.end() ? std::nullopt : std::optional<std::size_t>(found->second);
    }
    /// Forgets every code (a new search).
    void clear() { m_memo.clear(); }

    /// The candidate index of each code, creating entries (cost, predictions, stored results) for new codes.
    /// `from`, `step` and (search) the code's position or (repair) `start` are recorded as the first visit.
    std::vector<std::size_t> visit(std::span<const code_type> codes, result<Space>& r, origin from, std::size_t step,
                                   parallel::thread_team& team, std::size_t start = 0) {
        std::vector<std::size_t> ids(codes.size());
        std::vector<std::size_t> fresh;
        for (std::size_t b = 0; b < codes.size(); ++b) {
            const auto [found, inserted] = m_memo.try_emplace(codes[b], r.candidates.size());
            ids[b] = found->second;
            if (!inserted) continue;
            candidate<code_type> c;
            c.code = codes[b];
            c.from = from;
            c.start = from == origin::search ? b : start;
            c.iteration = step;
            c.record.resize(m_truth.size());
            for (std::size_t k = 0; k < m_truth.size(); ++k) c.record[k] = row_of(k, c.code);
            r.candidates.push_back(std::move(c));
            fresh.push_back(ids[b]);
        }
        while (m_tapes.size() < static_cast<std::size_t>(team.size()))
            m_tapes.push_back(std::make_unique<autograd::tape<T, Backend>>());
        const std::size_t chunks = (fresh.size() + chunk_rows - 1) / chunk_rows;
        team.for_each(chunks, [&](std::size_t i, int rank) {
            const std::size_t begin = i * chunk_rows, end = std::min(fresh.size(), begin + chunk_rows);
            evaluate(std::span<const std::size_t>(fresh.data() + begin, end - begin), r,
                     *m_tapes[static_cast<std::size_t>(rank)]);
        });
        return ids;
    }

private:
    /// Cost, budget, predictions, objective and spread of candidates `ids`, one no-grad batch per model.
    void evaluate(std::span<const std::size_t> ids, result<Space>& r, autograd::tape<T, Backend>& tape) const {
        const auto rows = static_cast<index_t>(ids.size());
        const std::size_t outputs = r.outputs();
        std::vector<double> values(ids.size() * dim);
        for (std::size_t i = 0; i < ids.size(); ++i) {
            auto& c = r.candidates[ids[i]];
            c.cost = m_space.cost(c.code);
            c.within_budget = !m_opt.budgeted() || within_budget(*c.cost, m_opt.max_flops_g, m_opt.max_params_m);
            c.predicted.assign(outputs, 0.0);
            c.main_z.assign(m_models.size(), 0.0);
            c.flops_z.assign(m_models.size(), 0.0);
            const auto v = m_space.values(c.code);
            std::copy(v.begin(), v.end(), values.begin() + static_cast<std::ptrdiff_t>(i * dim));
        }
        autograd::no_grad scope;
        std::vector<T> z(values.size());
        std::size_t m = 0;
        for (std::size_t k = 0; k < m_layout.models_per_task.size(); ++k) {
            const std::size_t offset = r.output_offset(k);
            const double share = 1.0 / static_cast<double>(m_layout.models_per_task[k]);
            for (std::size_t j = 0; j < m_layout.models_per_task[k]; ++j, ++m) {
                const nn::normalisation& s = m_models[m]->stats();
                for (std::size_t i = 0; i < values.size(); ++i)
                    z[i] = static_cast<T>(s.code_z(i % dim, values[i]));
                tape.clear();
                const auto input = Tensor<T, Backend>::from_host(z, rows, static_cast<index_t>(dim));
                const std::vector<T> out = m_models[m]->forward(tape.input(input)).value().to_host();
                const std::size_t o = m_terms[m].outputs;
                for (std::size_t i = 0; i < ids.size(); ++i) {
                    auto& c = r.candidates[ids[i]];
                    for (std::size_t q = 0; q < o; ++q)
                        c.predicted[offset + q] += share * s.output_value(q, static_cast<double>(out[i * o + q]));
                    c.main_z[m] = static_cast<double>(out[i * o]);
                    c.flops_z[m] = o >= 2 ? static_cast<double>(out[i * o + m_terms[m].flops]) : 0.0;
                }
            }
        }
        tape.clear();
        for (const std::size_t id : ids) {
            auto& c = r.candidates[id];
            c.objective = objective<double>(m_layout, c.main_z, c.flops_z);
            c.spread = spread(m_layout, c.main_z);
        }
    }

    const Space& m_space;
    std::span<nn::predictor<T, Backend>* const> m_models;  ///< every model, task by task
    objective_layout m_layout;
    std::vector<output_terms> m_terms;                      ///< per model
    const options& m_opt;
    std::vector<truth> m_truth;                             ///< per task
    std::vector<std::unordered_map<code_type, std::size_t, code_hash>> m_rows;  ///< per task: code -> row
    std::unordered_map<code_type, std::size_t, code_hash> m_memo;                ///< code -> candidate
    std::vector<std::unique_ptr<autograd::tape<T, Backend>>> m_tapes;             ///< per team member
};

}  // namespace ncp::search

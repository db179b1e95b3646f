#pragma once
/// Choosing among the codes a search visited (README, "ncp search"): the highest score S - kappa U within budget;
/// known_results, where a visited known record scores its stored S with no spread; the guard, where a code must
/// beat the best known record b by kappa times the spread of its paired advantage (objective.hpp), b itself being
/// chosen when none does; a greedy repair toward the budgets when no visited code meets them; the Pareto set.

#include <algorithm>
#include <cstddef>
#include <limits>
#include <numeric>
#include <optional>
#include <span>
#include <vector>

#include "ncp/nn/predictor.hpp"
#include "ncp/search/budget.hpp"
#include "ncp/search/memo.hpp"
#include "ncp/search/objective.hpp"
#include "ncp/search/result.hpp"

namespace ncp::search {

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

/// The selection of a search over `Space` (header comment), on the candidates of its memo.
template <class Space, class T = float, class Backend = default_backend>
class selector {
public:
    using code_type = typename Space::code_type;
    static constexpr std::size_t dim = Space::dim;

    /// Selects with `models` (task by task as `layout` says) and the budgets, kappa, guard and known_results of `opt`.
    selector(const Space& space, candidate_memo<Space, T, Backend>& memo,
             std::span<nn::predictor<T, Backend>* const> models, const objective_layout& layout, const options& opt)
        : m_space(space), m_memo(memo), m_models(models), m_layout(layout), m_opt(opt) {}

    /// Sets r.selected, r.best_known (guard), r.repaired and r.pareto.
    void select(result<Space>& r, parallel::thread_team& team) {
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
        if (!best_of(true)) repair(r, *best_of(false), team);
        std::size_t chosen = *best_of(true);
        if (m_opt.guard) {
            r.best_known = best_known(r, team);
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

    /// S of a candidate with each task's stored main metric in place of its predictions (z-scored by each model; the
    /// FLOPs term predicted) when the code is a known record of every task; nothing otherwise.
    std::optional<double> known_objective(const candidate<code_type>& c) const {
        std::vector<double> true_z(m_models.size());
        std::size_t m = 0;
        for (std::size_t k = 0; k < m_layout.models_per_task.size(); ++k) {
            const truth& t = m_memo.truth_of(k);
            if (t.table == nullptr || !c.record[k] || !m_memo.known_row(k, *c.record[k])) return std::nullopt;
            const std::size_t column = t.table->metric_index(m_models[m]->spec().metric_names().front());
            const double stored = t.table->metrics(*c.record[k], column);
            for (std::size_t j = 0; j < m_layout.models_per_task[k]; ++j, ++m) {
                true_z[m] = m_models[m]->stats().output_z(0, stored);
            }
        }
        return objective<double>(m_layout, true_z, c.flops_z);
    }

private:
    /// Greedy repair toward the budgets from candidate `from`: repeatedly the one-step-smaller code that gives up the
    /// least score per unit of budget violation removed, until within budget. Terminates: each step lowers FLOPs
    /// and params strictly, and the cheapest code is within budget (the editor checks it).
    void repair(result<Space>& r, std::size_t from, parallel::thread_team& team) {
        if constexpr (requires(const Space& s, const code_type& c) { s.smaller_neighbours(c); }) {
            const double kappa = m_opt.kappa;
            std::size_t current = from;
            const std::size_t start = r.candidates[from].start;
            auto violation = [&](std::size_t id) {
                return budget_violation(*r.candidates[id].cost, m_opt.max_flops_g, m_opt.max_params_m);
            };
            for (std::size_t step = 1; !r.candidates[current].within_budget; ++step) {
                const auto next = m_space.smaller_neighbours(r.candidates[current].code);
                const auto ids = m_memo.visit(next, r, origin::repair, step, team, start);
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

    /// The best known record (guard): among the rows known in every task (matched by code) and within budget, the
    /// highest known_objective; nothing without known rows.
    std::optional<std::size_t> best_known(result<Space>& r, parallel::thread_team& team) {
        const truth& t0 = m_memo.truth_of(0);
        if (t0.table == nullptr) return std::nullopt;
        std::optional<std::size_t> best;
        double best_value = -std::numeric_limits<double>::infinity();
        for (const std::size_t row : t0.known) {
            code_type code;
            try {
                code = m_space.exact(std::span<const double>(&t0.table->codes(row, 0), dim));
            } catch (const error&) {
                continue;
            }
            bool everywhere = true;  // checked before visiting: a code unknown elsewhere is no candidate
            for (std::size_t k = 1; k < m_layout.models_per_task.size() && everywhere; ++k) {
                const auto found = m_memo.row_of(k, code);
                everywhere = found && m_memo.known_row(k, *found);
            }
            if (!everywhere) continue;
            const auto met = m_memo.find(code);
            const std::size_t id = met ? *met : m_memo.visit(std::span(&code, 1), r, origin::known, 0, team)[0];
            const auto& c = r.candidates[id];
            const auto value = known_objective(c);
            if (c.within_budget && value && *value > best_value) {
                best_value = *value;
                best = id;
            }
        }
        return best;
    }

    const Space& m_space;
    candidate_memo<Space, T, Backend>& m_memo;
    std::span<nn::predictor<T, Backend>* const> m_models;  ///< every model, task by task
    const objective_layout& m_layout;
    const options& m_opt;
};

}  // namespace ncp::search

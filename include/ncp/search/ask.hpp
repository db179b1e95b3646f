#pragma once
/// The closed loop of `ncp ask` (docs/algorithm.md, section 8): from the results a user has trained so far, an
/// ensemble of predictors, then K new architectures to train next. Candidates are the codes NCP's gradient steps
/// visit from the best known codes (and those codes' one-step neighbours), or, with a pool, every pool code not yet
/// known; each is scored by an acquisition on the ensemble's mean and spread of the objective S (section 7) without
/// the FLOPs term (budgets, editing.max_flops and max_params, are exact constraints instead), and the
/// batch is chosen greedily, best first, passing over a candidate while `ask.max_within` proposals lie within
/// `ask.radius` of it. With nothing known, K seeded random codes.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <numbers>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "ncp/io/checkpoint.hpp"
#include "ncp/io/results_csv.hpp"
#include "ncp/search/editor.hpp"
#include "ncp/train/trainer.hpp"

namespace ncp::search {

/// One proposed architecture.
template <class Code>
struct proposal {
    Code code{};                      ///< the code
    std::optional<double> predicted;  ///< the ensemble's mean main metric, original units (none: nothing known)
    std::optional<double> spread;     ///< the ensemble's standard deviation of it, original units
    std::optional<arch::cost> cost;   ///< exact FLOPs/params where the space counts them
    double acquisition = 0;           ///< the value it was chosen by (z-units; 0 for random codes)
};

/// Told as ask goes: a short description of the stage ("training member 2/5", ...).
using ask_progress = std::function<void(const std::string&)>;

/// The known results as a benchmark in memory: setting cfg.data.dataset, the metrics of cfg.data.metrics (group
/// order) taken from `known` by name, the main metric raised to its ask.clip-quantile where it lies below (linear
/// interpolation between order statistics, as numpy's default). Throws naming `file` when a metric has no column.
inline data::benchmark known_benchmark(const io::run_config& cfg, const io::results_table& known,
                                       const std::string& file) {
    data::benchmark b;
    b.setting = cfg.data.dataset;
    std::vector<std::size_t> columns;
    for (const auto& group : cfg.data.metrics)
        for (const auto& m : group) {
            columns.push_back(known.column(m, file));
            b.metric_names.push_back(m);
        }
    const std::size_t n = known.size(), d = n > 0 ? known.codes.front().size() : 0;
    b.codes = xt::zeros<double>({n, d});
    b.metrics = xt::zeros<double>({n, columns.size()});
    for (std::size_t r = 0; r < n; ++r) {
        for (std::size_t i = 0; i < d; ++i) b.codes(r, i) = known.codes[r][i];
        for (std::size_t c = 0; c < columns.size(); ++c) b.metrics(r, c) = known.values[r][columns[c]];
    }
    if (cfg.ask.clip > 0 && n > 0) {
        std::vector<double> main(n);
        for (std::size_t r = 0; r < n; ++r) main[r] = b.metrics(r, 0);
        std::sort(main.begin(), main.end());
        const double at = cfg.ask.clip * static_cast<double>(n - 1);
        const auto below = static_cast<std::size_t>(std::floor(at));
        const double floor_value =
            main[below] + (below + 1 < n ? (at - static_cast<double>(below)) * (main[below + 1] - main[below]) : 0.0);
        for (std::size_t r = 0; r < n; ++r) b.metrics(r, 0) = std::max(b.metrics(r, 0), floor_value);
    }
    return b;
}

namespace detail {

/// The training config of ensemble member m (from 1): SEED 1000 x SEED + m, every record, and a batch size that
/// leaves no last batch of one record (batch norm needs two).
inline io::run_config member_config(const io::run_config& cfg, int m, std::size_t records) {
    io::run_config c = cfg;
    c.seed = 1000 * cfg.seed + m;
    c.data.subset = 0;
    const std::size_t train = records - data::train_validation_split(records, static_cast<std::uint64_t>(c.seed))
                                            .validation.size();
    auto batch = static_cast<std::size_t>(c.optimization.batch_size);
    if (train <= batch) batch = train;
    while (train % batch == 1) --batch;
    c.optimization.batch_size = static_cast<int>(batch);
    return c;
}

/// Expected improvement over `best` of a normal belief (mean mu, standard deviation sigma).
inline double expected_improvement(double mu, double sigma, double best) {
    if (!(sigma > 0)) return std::max(0.0, mu - best);
    const double z = (mu - best) / sigma;
    const double pdf = std::exp(-0.5 * z * z) / std::sqrt(2 * std::numbers::pi);
    const double cdf = 0.5 * std::erfc(-z / std::numbers::sqrt2);
    return (mu - best) * cdf + sigma * pdf;
}

}  // namespace detail

/// Proposes `n` distinct codes of `space` not in `known`, within the budgets of cfg.editing, from `pool` when one is
/// given (section 8). `threads` (>= 1) trains the members side by side and runs the editor; the proposals do not
/// depend on it. Throws when fewer than `n` codes can be proposed (a small pool).
template <class Space>
std::vector<proposal<typename Space::code_type>> propose(const io::run_config& cfg, const Space& space,
                                                         const io::results_table& known, const std::string& known_file,
                                                         std::size_t n,
                                                         const std::vector<typename Space::code_type>* pool,
                                                         int threads, const ask_progress& progress = {}) {
    using code_type = typename Space::code_type;
    if (n == 0) throw error("ask: asked for no proposals");
    parallel::require_memory(static_cast<double>(n) * (sizeof(proposal<code_type>) + 4 * sizeof(code_type)),
                             "ask: " + std::to_string(n) + " proposals", "fewer proposals (--n)");
    if (threads < 1) throw error("ask: threads must be at least 1 (got " + std::to_string(threads) + ")");
    auto say = [&](const std::string& what) {
        if (progress) progress(what);
    };
    std::unordered_set<code_type, code_hash> taken;  // known or already proposed
    std::vector<code_type> known_codes;
    for (const auto& values : known.codes) {
        known_codes.push_back(space.exact(values));
        taken.insert(known_codes.back());
    }
    std::vector<proposal<code_type>> out;
    // The metric columns are checked also when no result is known yet (a header alone).
    const data::benchmark table = known.header ? known_benchmark(cfg, known, known_file) : data::benchmark{};

    // Nothing known: seeded random codes within the budgets (from the pool when there is one).
    if (known.size() == 0) {
        std::mt19937_64 gen(static_cast<std::uint64_t>(cfg.seed) ^ 0x61736b2d72616e64ULL);  // apart from other streams
        const options opt = make_options(cfg.editing);
        const auto affordable = [&](const std::optional<arch::cost>& cost) {
            return !(cost && opt.budgeted() && !within_budget(*cost, opt.max_flops_g, opt.max_params_m));
        };
        if (pool != nullptr) {
            std::vector<code_type> left;
            for (const auto& c : *pool)
                if (!taken.contains(c) && affordable(space.cost(c))) left.push_back(c);
            if (left.size() < n)
                throw error("ask: the pool holds " + std::to_string(left.size()) +
                            " codes not yet known and within the budgets, fewer than " + std::to_string(n));
            for (std::size_t i = 0; i < n; ++i) std::swap(left[i], left[i + data::uniform_below(gen, left.size() - i)]);
            left.resize(n);
            for (const auto& c : left) out.push_back({c, std::nullopt, std::nullopt, space.cost(c), 0});
            return out;
        }
        for (std::size_t tries = 0; out.size() < n; ++tries) {
            if (tries > 1000 * n) throw error("ask: found no " + std::to_string(n) + " distinct codes within budget");
            const code_type c = space.random_code(gen);
            const auto cost = space.cost(c);
            if (!affordable(cost)) continue;
            if (taken.insert(c).second) out.push_back({c, std::nullopt, std::nullopt, cost, 0});
        }
        return out;
    }

    // The ensemble, members trained side by side (each one's bits do not depend on where it runs). Refused up front
    // when it would not fit: the members in training, and each trained member counted as much again.
    const auto& a = cfg.ask;
    const int team_size = std::min(threads, a.members);
    parallel::require_memory((static_cast<double>(team_size) + static_cast<double>(a.members)) *
                                 train::memory_estimate(detail::member_config(cfg, 1, table.size()), table),
                             "the ensemble's " + std::to_string(a.members) + " members (" +
                                 std::to_string(team_size) + " in training at a time)",
                             "fewer ask.members");
    {  // and the search from at most start_known + random_starts codes
        const std::size_t starts = std::min(static_cast<std::size_t>(a.start_known), known.size()) +
                                   static_cast<std::size_t>(a.random_starts);
        const auto outputs = static_cast<std::size_t>(table.metric_names.size());
        const int iters = cfg.editing.iters;
        editor<Space>::check_memory(
            editor<Space>::memory_estimate(starts, iters, outputs, static_cast<std::size_t>(a.members), 1), starts,
            iters, "fewer ask.random_starts, ask.start_known or editing.iters");
    }
    std::vector<io::model_record> records(static_cast<std::size_t>(a.members));
    {
        parallel::thread_team team(team_size);
        say("training " + std::to_string(a.members) + " members on " + std::to_string(table.size()) + " results");
        team.for_each(records.size(), [&](std::size_t m, int) {
            const io::run_config c = detail::member_config(cfg, static_cast<int>(m) + 1, table.size());
            train::result r = train::train_predictor(c, table, {.threads = 1});
            records[m] = a.model == "last" ? std::move(r.last) : std::move(r.best);
        });
    }
    std::vector<task<>> tasks(1);
    tasks[0].name = cfg.data.dataset;
    for (std::size_t m = 0; m < records.size(); ++m)
        tasks[0].models.push_back(io::make_predictor(records[m], "ask member " + std::to_string(m + 1)));
    options opt = make_options(cfg.editing);
    opt.threads = threads;
    opt.use_flops = false;  // the most accurate codes within the budgets: cost enters as exact constraints only
    editor<Space> ed(space, std::move(tasks), opt);
    std::vector<std::size_t> all(table.size());
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
    ed.set_truth(0, {&table, all});

    // Candidates: the pool, or NCP's visited codes from the best known codes and their neighbours.
    std::vector<code_type> codes;
    if (pool != nullptr) {
        say("scoring " + std::to_string(pool->size()) + " pool codes");
        codes = *pool;
    } else {
        std::vector<std::size_t> order(known.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        const std::size_t main = table.metric_index(cfg.data.metrics.front().front());
        std::stable_sort(order.begin(), order.end(),
                         [&](std::size_t x, std::size_t y) { return table.metrics(x, main) > table.metrics(y, main); });
        std::vector<code_type> starts;
        for (const std::size_t i : order) {
            if (starts.size() == static_cast<std::size_t>(a.start_known)) break;
            try {
                space.check_bounds(known_codes[i], space.to_string(known_codes[i]));
            } catch (const error&) {
                continue;  // outside the search bounds: not a start
            }
            starts.push_back(known_codes[i]);
        }
        if (a.neighbours)
            for (const auto& s : starts) {
                const auto near = space.neighbours(s);
                codes.insert(codes.end(), near.begin(), near.end());
            }
        std::mt19937_64 gen(static_cast<std::uint64_t>(cfg.seed) ^ 0x61736b2d73746172ULL);
        for (int i = 0; i < a.random_starts; ++i) starts.push_back(space.random_code(gen));
        if (!starts.empty()) {
            say("NCP from " + std::to_string(starts.size()) + " starts");
            const auto r = ed.run(starts);
            for (const auto& c : r.candidates) codes.push_back(c.code);
        }
    }
    const auto scored = ed.score(codes);

    // The acquisition of each candidate, then the batch: best first, passing over crowded candidates.
    double best_known = -std::numeric_limits<double>::infinity();
    for (const auto& c : ed.score(known_codes).candidates)
        if (const auto s = ed.known_objective(c)) best_known = std::max(best_known, *s);
    std::vector<std::pair<double, std::size_t>> ranked;
    for (std::size_t i = 0; i < scored.candidates.size(); ++i) {
        const auto& c = scored.candidates[i];
        if (taken.contains(c.code) || !c.within_budget) continue;
        const double value = a.acquisition == "mean" ? c.objective
                             : a.acquisition == "ei"
                                 ? detail::expected_improvement(c.objective, c.spread, best_known)
                                 : c.objective + a.beta * c.spread;
        ranked.emplace_back(-value, i);
    }
    std::stable_sort(ranked.begin(), ranked.end(),
                     [](const auto& x, const auto& y) { return x.first < y.first; });
    if (ranked.size() < n)
        throw error("ask: only " + std::to_string(ranked.size()) + " candidate codes are new and within budget, fewer "
                    "than the " + std::to_string(n) + " asked for" + (pool ? " (the pool is too small)" : ""));
    const nn::normalisation& stats = ed.tasks()[0].models.front().stats();
    auto take = [&](std::size_t i, double value) {
        const auto& c = scored.candidates[i];
        const double sd = c.spread * stats.output_std[0];
        out.push_back({c.code, c.predicted[0], sd, c.cost, value});
        taken.insert(c.code);
    };
    std::vector<bool> used(ranked.size(), false);
    for (std::size_t k = 0; k < ranked.size() && out.size() < n; ++k) {
        const auto& c = scored.candidates[ranked[k].second];
        int within = 0;
        for (const auto& p : out) within += Space::distance(p.code, c.code) <= a.radius;
        if (within >= a.max_within) continue;
        take(ranked[k].second, -ranked[k].first);
        used[k] = true;
    }
    for (std::size_t k = 0; k < ranked.size() && out.size() < n; ++k)  // too few far apart: the next best
        if (!used[k]) take(ranked[k].second, -ranked[k].first);
    return out;
}

}  // namespace ncp::search

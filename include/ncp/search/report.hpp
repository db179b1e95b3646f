#pragma once
/// The result files of a search (README, "ncp search"): `ncp.json` (every start and iteration, the selection, the
/// Pareto set, the convention), `ncp.csv` (one row per start and iteration) and `ncp.svg` (the trajectories and the
/// visited architectures at a glance), each written atomically.

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <ostream>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "ncp/io/atomic.hpp"
#include "ncp/io/json.hpp"
#include "ncp/io/svg.hpp"
#include "ncp/search/editor.hpp"

namespace ncp::search {

/// Everything the writers need besides the result: the space, each task's stored results, and what to call things.
template <class Space>
struct report {
    const result<Space>& r;                 ///< the search
    const Space& space;                     ///< to print codes
    std::span<const truth> truths;          ///< per task (a null table: no stored results)
    std::string title;                      ///< e.g. "seg", "seg+cls-50-1000"

    /// Task k's name as a column prefix: "" for a single task, "<name>/" otherwise.
    std::string prefix(std::size_t k) const { return r.task_names.size() == 1 ? "" : r.task_names[k] + "/"; }
    /// Task k's predicted main metric of candidate c (models' mean, original units).
    double main_of(const candidate<typename Space::code_type>& c, std::size_t k) const {
        return c.predicted[r.output_offset(k)];
    }
    /// The stored metrics of candidate c in task k, if its file holds the code.
    const data::benchmark* table(std::size_t k) const { return k < truths.size() ? truths[k].table : nullptr; }
};

namespace detail {

/// `flops_g` and `params_m` of a candidate (null where the space cannot count them).
template <class Code>
void cost_json(io::json_writer& j, const candidate<Code>& c) {
    if (c.cost) {
        j.member("flops_g", c.cost->flops_g()).member("params_m", c.cost->params_m());
    } else {
        j.key("flops_g").null().key("params_m").null();
    }
}

/// `true`: per task the stored metrics of a candidate that is a record of the task's benchmark file (with its record
/// index when `with_record`), or null where it is a record of none.
template <class Space>
void truth_json(io::json_writer& j, const report<Space>& rep, const candidate<typename Space::code_type>& c,
                bool with_record) {
    const auto& r = rep.r;
    j.key("true");
    bool any = false;
    for (std::size_t k = 0; k < r.task_names.size(); ++k) any = any || c.record[k].has_value();
    if (!any) {
        j.null();
        return;
    }
    j.begin_object();
    for (std::size_t k = 0; k < r.task_names.size(); ++k) {
        if (!c.record[k]) continue;
        const data::benchmark& t = *rep.table(k);
        j.key(r.task_names[k]).begin_object();
        if (with_record) j.member("record", *c.record[k]);
        for (std::size_t q = 0; q < t.metric_names.size(); ++q) j.member(t.metric_names[q], t.metrics(*c.record[k], q));
        j.end_object();
    }
    j.end_object();
}

template <class Space>
void candidate_json(io::json_writer& j, const report<Space>& rep, const candidate<typename Space::code_type>& c) {
    const auto& r = rep.r;
    j.member("code", rep.space.to_string(c.code));
    j.key("rounded").array(rep.space.values(c.code));
    j.key("predicted").begin_object();
    for (std::size_t k = 0; k < r.task_names.size(); ++k) {
        j.key(r.task_names[k]).begin_object();
        for (std::size_t q = 0; q < r.metric_names[k].size(); ++q)
            j.member(r.metric_names[k][q], c.predicted[r.output_offset(k) + q]);
        j.end_object();
    }
    j.end_object();
    j.member("objective", c.objective).member("spread", c.spread).member("score", c.score(r.settings.kappa));
    cost_json(j, c);
    j.member("within_budget", c.within_budget);
    truth_json(j, rep, c, true);
    j.member("origin", origin_name(c.from)).member("start", c.start).member("iteration", c.iteration);
}

}  // namespace detail

/// ncp.json: settings and tasks, then per start its iterations (one per line: the continuous code in original
/// units, the rounded code and its string form, every predicted metric of the continuous code, the rounded code's
/// predicted main metric, exact flops_g and params_m, stored results where known), then the selection (with its
/// gain over its start), the best known record (guard), and the Pareto set.
template <class Space>
std::string results_json(const report<Space>& rep) {
    const auto& r = rep.r;
    const auto& o = r.settings;
    std::ostringstream out;
    io::json_writer j(out, false);
    auto line = [&] { out << '\n'; };
    j.begin_object();
    line();
    j.member("space", Space::name()).member("costs", r.cost_source);
    line();
    j.key("tasks").begin_array();
    for (std::size_t k = 0; k < r.task_names.size(); ++k) {
        j.begin_object().member("name", r.task_names[k]).member("weight", r.weights[k]);
        j.member("models", r.models_per_task[k]).key("metrics").array(r.metric_names[k]).end_object();
    }
    j.end_array();
    line();
    j.key("settings").begin_object();
    j.member("iters", o.iters).member("lr", o.lr).member("per_step_increase", o.per_step_increase);
    j.member("use_flops", o.use_flops).member("per_flops_decrease", o.per_flops_decrease).member("alpha", o.alpha);
    j.member("max_flops_g", o.max_flops_g).member("max_params_m", o.max_params_m);
    j.member("budget_weight", o.budget_weight).member("kappa", o.kappa).member("guard", o.guard);
    j.member("known_results", o.known_results);
    j.end_object();
    line();
    j.member("starts", r.starts).member("records_per_start", r.records).member("distinct_codes", r.candidates.size());
    line();
    j.key("trajectories").begin_array();
    const std::size_t dim = Space::dim, outputs = r.outputs();
    for (std::size_t s = 0; s < r.starts; ++s) {
        line();
        j.begin_object().member("start", s).key("iterations").begin_array();
        for (std::size_t it = 0; it < r.records; ++it) {
            line();
            const std::size_t at = r.at(s, it);
            const auto& c = r.candidates[r.rounded[at]];
            j.begin_object().member("iteration", it);
            j.key("continuous").array(std::span<const double>(r.continuous.data() + at * dim, dim));
            j.key("rounded").array(rep.space.values(c.code));
            j.member("code", rep.space.to_string(c.code));
            j.key("predicted").begin_object();
            for (std::size_t k = 0; k < r.task_names.size(); ++k) {
                j.key(r.task_names[k]).begin_object();
                for (std::size_t q = 0; q < r.metric_names[k].size(); ++q)
                    j.member(r.metric_names[k][q], r.predicted[at * outputs + r.output_offset(k) + q]);
                j.end_object();
            }
            j.end_object();
            j.key("rounded_main").begin_object();
            for (std::size_t k = 0; k < r.task_names.size(); ++k) j.member(r.task_names[k], rep.main_of(c, k));
            j.end_object();
            j.member("objective", c.objective);
            detail::cost_json(j, c);
            detail::truth_json(j, rep, c, false);
            j.end_object();
        }
        j.end_array().end_object();
    }
    j.end_array();
    line();
    const auto& sel = r.candidates[r.selected];
    j.key("selection").begin_object();
    detail::candidate_json(j, rep, sel);
    j.member("rule", o.guard ? (r.best_known && r.selected == *r.best_known
                                    ? "guard: no visited code beats the best known record beyond the spread"
                                    : "guard: the visited code of the highest paired advantage minus kappa spread")
                             : "the visited code within budget of the highest objective minus kappa spread");
    j.member("repaired", r.repaired);
    const auto& origin_code = r.candidates[r.rounded[r.at(sel.from == origin::known ? 0 : sel.start, 0)]];
    j.key("gain_over_start").begin_object().member("start_code", rep.space.to_string(origin_code.code));
    for (std::size_t k = 0; k < r.task_names.size(); ++k)
        j.member(rep.prefix(k) + r.metric_names[k][0], rep.main_of(sel, k) - rep.main_of(origin_code, k));
    if (sel.cost && origin_code.cost)
        j.member("flops_g", sel.cost->flops_g() - origin_code.cost->flops_g())
            .member("params_m", sel.cost->params_m() - origin_code.cost->params_m());
    j.end_object();
    j.end_object();
    line();
    if (r.best_known) {
        j.key("best_known").begin_object();
        detail::candidate_json(j, rep, r.candidates[*r.best_known]);
        j.end_object();
        line();
    }
    j.key("pareto").begin_array();
    for (const std::size_t p : r.pareto) {
        line();
        j.begin_object();
        detail::candidate_json(j, rep, r.candidates[p]);
        j.member("quality", r.quality(r.candidates[p])).end_object();
    }
    j.end_array();
    line();
    j.end_object();
    out << '\n';
    return out.str();
}

/// The header of ncp.csv (see results_csv).
template <class Space>
std::vector<std::string> csv_columns(const report<Space>& rep) {
    const auto& r = rep.r;
    std::vector<std::string> cols = {"start", "iteration", "code"};
    for (std::size_t k = 0; k < r.task_names.size(); ++k)
        for (const auto& m : r.metric_names[k]) cols.push_back(rep.prefix(k) + m);
    for (std::size_t k = 0; k < r.task_names.size(); ++k)
        cols.push_back(rep.prefix(k) + r.metric_names[k][0] + "_rounded");
    cols.insert(cols.end(), {"objective_rounded", "flops_g", "params_m"});
    for (std::size_t k = 0; k < r.task_names.size(); ++k)
        if (const auto* t = rep.table(k))
            for (const auto& m : t->metric_names) cols.push_back(std::string("true_").append(rep.prefix(k)).append(m));
    for (std::size_t i = 0; i < Space::dim; ++i) cols.push_back(std::string("x").append(std::to_string(i)));
    return cols;
}

/// ncp.csv: one row per start and iteration. Columns: start, iteration, code (the rounded code's string form);
/// every predicted metric of the continuous code (`<metric>`, `<task>/<metric>` with several tasks); the rounded
/// code's predicted main metric (`<main>_rounded`) and objective (`objective_rounded`); its exact flops_g and
/// params_m (empty where unknown); the stored metrics of the task's benchmark file (`true_<metric>`, empty where the
/// code is not in it; present when a file is loaded); the continuous code in original units (x0..x{dim-1}).
template <class Space>
std::string results_csv(const report<Space>& rep) {
    const auto& r = rep.r;
    std::string out;
    const auto cols = csv_columns(rep);
    for (std::size_t i = 0; i < cols.size(); ++i) out += (i ? "," : "") + cols[i];
    out += '\n';
    const std::size_t dim = Space::dim, outputs = r.outputs();
    for (std::size_t s = 0; s < r.starts; ++s)
        for (std::size_t it = 0; it < r.records; ++it) {
            const std::size_t at = r.at(s, it);
            const auto& c = r.candidates[r.rounded[at]];
            out += std::to_string(s) + ',' + std::to_string(it) + ",\"" + rep.space.to_string(c.code) + '"';
            for (std::size_t q = 0; q < outputs; ++q) out += ',' + number_text(r.predicted[at * outputs + q]);
            for (std::size_t k = 0; k < r.task_names.size(); ++k) out += ',' + number_text(rep.main_of(c, k));
            out += ',' + number_text(c.objective);
            if (c.cost) {
                out += ',' + arch::fixed_string(c.cost->flops, arch::flops_g_decimals) + ',' +
                       arch::fixed_string(c.cost->params, arch::params_m_decimals);
            } else {
                out += ",,";
            }
            for (std::size_t k = 0; k < r.task_names.size(); ++k)
                if (const auto* t = rep.table(k))
                    for (std::size_t q = 0; q < t->metric_names.size(); ++q)
                        out += ',' + (c.record[k] ? number_text(t->metrics(*c.record[k], q)) : std::string());
            for (std::size_t i = 0; i < dim; ++i) out += ',' + number_text(r.continuous[at * dim + i]);
            out += '\n';
        }
    return out;
}

namespace detail {

/// Drops the inner points of runs of equal y (a straight stretch draws the same with its two ends).
inline void thin_line(io::svg_series& s) {
    std::vector<double> x, y;
    for (std::size_t i = 0; i < s.y.size(); ++i)
        if (i == 0 || i + 1 == s.y.size() || s.y[i] != s.y[i - 1] || s.y[i] != s.y[i + 1]) {
            x.push_back(s.x[i]);
            y.push_back(s.y[i]);
        }
    s.x = std::move(x);
    s.y = std::move(y);
}

/// Keeps one point per cell of a cells x cells grid over the points' range (what a plot can show apart).
inline void thin_points(io::svg_series& s, int cells = 400) {
    if (s.x.empty()) return;
    const auto [xlo, xhi] = std::minmax_element(s.x.begin(), s.x.end());
    const auto [ylo, yhi] = std::minmax_element(s.y.begin(), s.y.end());
    const double xs = (*xhi - *xlo) > 0 ? cells / (*xhi - *xlo) : 0, ys = (*yhi - *ylo) > 0 ? cells / (*yhi - *ylo) : 0;
    std::map<std::pair<long, long>, bool> seen;
    std::vector<double> x, y;
    for (std::size_t i = 0; i < s.x.size(); ++i) {
        const std::pair<long, long> cell{std::lround((s.x[i] - *xlo) * xs), std::lround((s.y[i] - *ylo) * ys)};
        if (seen.emplace(cell, true).second) {
            x.push_back(s.x[i]);
            y.push_back(s.y[i]);
        }
    }
    s.x = std::move(x);
    s.y = std::move(y);
}

}  // namespace detail

/// Most starts whose trajectories ncp.svg draws (evenly spread, plus the selection's).
inline constexpr std::size_t svg_max_trajectories = 64;

/// ncp.svg: per task its predicted main metric of the rounded code over the iterations, the exact FLOPs of the
/// rounded code over the iterations (thin translucent lines, at most svg_max_trajectories starts, the selection's
/// start in red), and the visited architectures as main metric (one task) or objective without the FLOPs term
/// (several) against FLOPs, one dot per distinct screen position, with the Pareto front and the selection marked.
template <class Space>
std::string results_svg(const report<Space>& rep) {
    const auto& r = rep.r;
    const auto& sel = r.candidates[r.selected];
    const bool has_start = sel.from != origin::known;
    std::vector<std::size_t> shown;
    const std::size_t step = (r.starts + svg_max_trajectories - 1) / svg_max_trajectories;
    for (std::size_t s = 0; s < r.starts; s += step) shown.push_back(s);
    const double opacity = shown.size() == 1 ? 1.0 : std::max(0.15, 2.0 / std::sqrt(static_cast<double>(shown.size())));
    const double width = shown.size() == 1 ? 1.8 : 0.8;
    const std::string iteration_label = "iteration";

    auto trajectory_panel = [&](std::string title, std::string y_label, auto value_of) {
        io::svg_panel p{std::move(title), iteration_label, std::move(y_label), {}, {}};
        auto line_of = [&](std::size_t s, std::string color, double w, double alpha, std::string label) {
            io::svg_series line{std::move(label), {}, {}, std::move(color), io::svg_style::line, w, alpha};
            for (std::size_t it = 0; it < r.records; ++it) {
                const auto v = value_of(r.candidates[r.rounded[r.at(s, it)]]);
                if (!v) continue;
                line.x.push_back(static_cast<double>(it));
                line.y.push_back(*v);
            }
            detail::thin_line(line);
            p.series.push_back(std::move(line));
        };
        for (const std::size_t s : shown)
            if (!(has_start && s == sel.start && shown.size() > 1))
                line_of(s, "#1f77b4", width, opacity, s == shown.front() ? "rounded code" : "");
        if (has_start && shown.size() > 1) line_of(sel.start, "#d62728", 1.8, 1.0, "start of the selection");
        if (has_start && sel.from == origin::search)
            if (const auto v = value_of(sel))
                p.markers.push_back({"selected", static_cast<double>(sel.iteration), *v, "#d62728"});
        return p;
    };

    std::vector<io::svg_panel> panels;
    for (std::size_t k = 0; k < r.task_names.size(); ++k) {
        const std::string main = r.metric_names[k][0];
        auto p = trajectory_panel("predicted " + main + (r.task_names.size() > 1 ? " (" + r.task_names[k] + ")" : ""),
                                  main + " (predicted)",
                                  [&](const auto& c) { return std::optional<double>(rep.main_of(c, k)); });
        if (r.starts == 1) {  // one start: the continuous code's prediction too
            io::svg_series cont{"continuous code", {}, {}, "#9467bd", io::svg_style::line, 1.2, 0.9};
            for (std::size_t it = 0; it < r.records; ++it) {
                cont.x.push_back(static_cast<double>(it));
                cont.y.push_back(r.predicted[r.at(0, it) * r.outputs() + r.output_offset(k)]);
            }
            p.series.insert(p.series.begin(), std::move(cont));
        }
        p.legend = io::svg_corner::bottom_right;  // the metric rises
        panels.push_back(std::move(p));
    }
    panels.push_back(trajectory_panel("exact FLOPs of the rounded code", "FLOPs (G)", [](const auto& c) {
        return c.cost ? std::optional<double>(c.cost->flops_g()) : std::nullopt;
    }));
    panels.back().legend = io::svg_corner::top_right;

    const bool single = r.task_names.size() == 1;
    auto quality = [&](const auto& c) { return single ? rep.main_of(c, 0) : r.quality(c); };
    io::svg_panel scatter{"visited architectures and their Pareto front", "FLOPs (G)",
                          single ? r.metric_names[0][0] + " (predicted)" : "weighted main metrics (z, predicted)",
                          {}, {}, io::svg_corner::bottom_left};  // cheap and poor: rarely visited
    io::svg_series dots{"visited codes", {}, {}, "#1f77b4", io::svg_style::points, 2.0, 0.45};
    for (const auto& c : r.candidates)
        if (c.cost && c.from != origin::known) {
            dots.x.push_back(c.cost->flops_g());
            dots.y.push_back(quality(c));
        }
    detail::thin_points(dots);
    io::svg_series front{"Pareto front", {}, {}, "#ff7f0e", io::svg_style::steps, 2.0, 1.0};
    for (const std::size_t i : r.pareto) {
        front.x.push_back(r.candidates[i].cost->flops_g());
        front.y.push_back(quality(r.candidates[i]));
    }
    scatter.series.push_back(std::move(dots));
    scatter.series.push_back(std::move(front));
    if (r.starts == 1) {
        const auto& s0 = r.candidates[r.rounded[r.at(0, 0)]];
        if (s0.cost) scatter.markers.push_back({"start", s0.cost->flops_g(), quality(s0), "#2ca02c"});
    }
    if (r.best_known && *r.best_known != r.selected) {
        const auto& b = r.candidates[*r.best_known];
        if (b.cost) scatter.markers.push_back({"best known", b.cost->flops_g(), quality(b), "#8c564b"});
    }
    if (sel.cost) scatter.markers.push_back({"selected", sel.cost->flops_g(), quality(sel), "#d62728"});
    panels.push_back(std::move(scatter));

    std::string title = "ncp search on " + rep.title + ": " + std::to_string(r.starts) + " start" +
                        (r.starts == 1 ? "" : "s") + " x " + std::to_string(r.settings.iters) + " iterations";
    if (shown.size() < r.starts) title += " (" + std::to_string(shown.size()) + " trajectories drawn)";
    title += "; FLOPs " + r.cost_source;
    return io::render_svg(panels, title, 2);
}

/// Writes ncp.json (`json`, the text results_json(rep) gave), ncp.csv and ncp.svg into `dir` (created), each
/// atomically.
template <class Space>
void write_results(const std::filesystem::path& dir, const report<Space>& rep, const std::string& json) {
    io::make_output_folder(dir);
    io::atomic_write(dir / "ncp.json", json);
    io::atomic_write(dir / "ncp.csv", results_csv(rep));
    io::atomic_write(dir / "ncp.svg", results_svg(rep));
}

}  // namespace ncp::search

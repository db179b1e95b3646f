#pragma once
/// `ncp search` as a library call: a run config (its `data:` and `editing:` keys) and checkpoints -> tasks, the
/// space, stored results, start codes -> the editor -> ncp.json, ncp.csv, ncp.svg and a printable summary.

#include <algorithm>
#include <charconv>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <iomanip>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "ncp/arch/code_list.hpp"
#include "ncp/io/checkpoint.hpp"
#include "ncp/search/report.hpp"
#include "ncp/train/trainer.hpp"

namespace ncp::search {

/// One `--model` argument: `CKPT` (the task is the checkpoint's setting) or `NAME=CKPT`. Several checkpoints of one
/// task name form an ensemble.
struct model_arg {
    std::string task;             ///< empty: the checkpoint's setting
    std::filesystem::path path;   ///< the checkpoint
};

/// Parses `NAME=CKPT` or `CKPT`.
inline model_arg parse_model_arg(std::string_view text) {
    if (text.empty()) throw usage_error("--model needs a checkpoint (CKPT or NAME=CKPT)");
    const auto eq = text.find('=');
    if (eq == std::string_view::npos) return {"", std::filesystem::path(text)};
    if (eq == 0 || eq + 1 == text.size())
        throw usage_error("--model " + std::string(text) + ": expected NAME=CKPT");
    return {std::string(text.substr(0, eq)), std::filesystem::path(text.substr(eq + 1))};
}

/// Parses `--weights NAME=W,NAME=W,...` (positive finite weights).
inline std::vector<std::pair<std::string, double>> parse_weights(std::string_view text) {
    std::vector<std::pair<std::string, double>> out;
    for (std::size_t start = 0; start <= text.size();) {
        const std::size_t comma = std::min(text.find(',', start), text.size());
        const std::string_view item = text.substr(start, comma - start);
        const auto eq = item.find('=');
        double w = 0;
        const char* end = item.data() + item.size();
        if (eq == std::string_view::npos || eq == 0 ||
            std::from_chars(item.data() + eq + 1, end, w).ptr != end || !(w > 0 && std::isfinite(w)))
            throw usage_error("--weights: '" + std::string(item) + "' is not NAME=W with a positive number W");
        out.emplace_back(std::string(item.substr(0, eq)), w);
        start = comma + 1;
    }
    return out;
}

/// What a search printed and where it wrote.
struct summary {
    std::string text;                    ///< the lines `ncp search` prints
    std::filesystem::path directory;     ///< where ncp.json, ncp.csv, ncp.svg are (or would be)
    std::string json;                    ///< the text of ncp.json
    std::optional<arch::code> selected;  ///< the selected NAS-Bench-MR code (none for NAS-Bench-201 cells)
    arch::convention convention;         ///< what the selected code's FLOPs/params are counted in
};

/// A model for a search, already read: the task it belongs to, its checkpoint record, and what to call it.
struct model_input {
    std::string task;         ///< empty: the record's setting
    io::model_record record;  ///< the trained model
    std::string source;       ///< its file, or another name for it in errors
};

/// How a search runs, besides the config and the models.
struct run_options {
    std::vector<std::pair<std::string, double>> weights = {};  ///< task weights by name (default 1 each)
    int threads = search::options{}.threads;  ///< host threads (>= 1); the results do not depend on them
    step_progress progress = {};              ///< hears of the steps (stepper.hpp)
    std::vector<std::string> starts = {};     ///< start codes as text, in place of the config's (empty: the config's)
    bool write = true;                        ///< write ncp.json, ncp.csv and ncp.svg
};

/// The default checkpoint: <editing.model_path, or log_dir when empty>/<data.dataset>/best_model.ckpt.
inline std::filesystem::path default_model(const io::run_config& cfg) {
    const std::string root = cfg.editing.model_path.empty() ? cfg.log_dir : cfg.editing.model_path;
    return std::filesystem::path(root) / cfg.data.dataset / "best_model.ckpt";
}

namespace detail {

/// A task's checkpoints, loaded.
struct loaded_task {
    std::string name;
    double weight = 1;
    std::vector<io::model_record> records;
    std::vector<std::string> paths;
};

inline std::string fixed(double v, int digits) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(digits) << v;
    return s.str();
}

/// Start codes: `given` (texts) when there are any, else the config's: editing.start_file, else editing.starts
/// random codes (seeded by SEED), else editing.start (the space's default when empty); then the editing.start_known
/// best known records of task 0.
template <class Space>
std::vector<typename Space::code_type> start_codes(const io::run_config& cfg, const Space& space, const truth& t0,
                                                   const std::string& main_metric,
                                                   std::span<const std::string> given = {}) {
    using code_type = typename Space::code_type;
    std::vector<code_type> starts;
    const auto& e = cfg.editing;
    if (!given.empty()) {
        for (std::size_t i = 0; i < given.size(); ++i) {
            try {
                starts.push_back(space.parse(given[i]));
            } catch (const error& err) {
                throw error("starts[" + std::to_string(i) + "]: " + err.what());
            }
        }
    } else if (!e.start_file.empty()) {
        const std::string text = arch::read_text(e.start_file);
        for (const auto& line : arch::code_lines(text)) {
            try {
                starts.push_back(space.parse(line.text));
            } catch (const error& err) {
                throw error(e.start_file + " line " + std::to_string(line.line) + ": " + err.what());
            }
        }
        if (starts.empty()) throw error(e.start_file + ": editing.start_file holds no code");
    } else if (e.starts > 0) {
        std::mt19937_64 gen(static_cast<std::uint64_t>(cfg.seed) ^ 0x6e63702d73746172ULL);  // apart from other streams
        for (int i = 0; i < e.starts; ++i) starts.push_back(space.random_code(gen));
    } else {
        try {
            starts.push_back(e.start.empty() ? space.default_start() : space.parse(e.start));
        } catch (const error& err) {
            throw error(std::string("editing.start: ") + err.what());
        }
    }
    if (e.start_known > 0) {
        if (t0.table == nullptr)
            throw error("editing.start_known needs the benchmark file (" + train::data_file(cfg).string() + ")");
        std::vector<std::size_t> known = t0.known;
        const std::size_t column = t0.table->metric_index(main_metric);
        std::stable_sort(known.begin(), known.end(), [&](std::size_t a, std::size_t b) {
            return t0.table->metrics(a, column) > t0.table->metrics(b, column);
        });
        for (std::size_t i = 0; i < known.size() && i < static_cast<std::size_t>(e.start_known); ++i)
            starts.push_back(space.exact(std::span<const double>(&t0.table->codes(known[i], 0), Space::dim)));
    }
    return starts;
}

template <class Space, class T, class Backend>
summary run_in(const io::run_config& cfg, Space space, std::vector<loaded_task>& loaded, std::vector<truth>& truths,
               const std::string& title, const run_options& run) {
    std::vector<task<T, Backend>> tasks;
    for (auto& lt : loaded) {
        task<T, Backend> t{lt.name, lt.weight, {}};
        for (std::size_t m = 0; m < lt.records.size(); ++m)
            t.models.push_back(io::make_predictor<T, Backend>(lt.records[m], lt.paths[m]));
        tasks.push_back(std::move(t));
    }
    const std::string main_metric = loaded.front().records.front().metric_groups.front().front();
    options opt = make_options(cfg.editing);
    opt.threads = run.threads;
    editor<Space, T, Backend> ed(space, std::move(tasks), opt);
    for (std::size_t k = 0; k < truths.size(); ++k) ed.set_truth(k, truths[k]);
    const auto& e = cfg.editing;  // refuse a search too large for memory before drawing its starts
    const std::size_t drawn = !run.starts.empty()      ? run.starts.size()
                              : e.start_file.empty() ? static_cast<std::size_t>(std::max(e.starts, 1))
                                                     : 1;
    // editing.start_known takes at most every known record.
    const std::size_t known = truths[0].table == nullptr ? 0 : truths[0].known.size();
    ed.check_memory(drawn + std::min(static_cast<std::size_t>(std::max(e.start_known, 0)), known));
    const auto starts = start_codes(cfg, ed.space(), truths[0], main_metric, run.starts);
    const std::filesystem::path dir = std::filesystem::path(cfg.log_dir) / title;
    if (run.write) io::check_output_folder(dir);  // an unusable folder is said before the search, not after
    const auto r = ed.run(starts, run.progress);

    const report<Space> rep{r, ed.space(), truths, title};
    std::string json = results_json(rep);
    if (run.write) write_results(dir, rep, json);

    // The summary.
    std::ostringstream out;
    auto describe = [&](const std::string& label, const candidate<typename Space::code_type>& c) {
        out << label << ed.space().to_string(c.code) << "\n   ";
        for (std::size_t k = 0; k < r.task_names.size(); ++k)
            out << " " << rep.prefix(k) << r.metric_names[k][0] << " " << fixed(rep.main_of(c, k), 3);
        out << " (predicted)";
        if (c.cost)
            out << " | " << arch::fixed_string(c.cost->flops, arch::flops_g_decimals) << " G FLOPs, "
                << arch::fixed_string(c.cost->params, arch::params_m_decimals) << " M params";
        for (std::size_t k = 0; k < r.task_names.size(); ++k)
            if (c.record[k]) {
                const data::benchmark& t = *rep.table(k);
                const std::string& main = r.metric_names[k][0];
                out << " | stored " << rep.prefix(k) << main << " "
                    << fixed(t.metrics(*c.record[k], t.metric_index(main)), 3) << " (record " << *c.record[k] << ")";
            }
        out << "\n";
    };
    out << "ncp search: " << title << ", " << Space::name() << ", " << r.starts << " start"
        << (r.starts == 1 ? "" : "s") << " x " << cfg.editing.iters << " iterations, " << r.candidates.size()
        << " distinct codes; tasks:";
    for (std::size_t k = 0; k < r.task_names.size(); ++k)
        out << " " << r.task_names[k] << " (weight " << number_text(r.weights[k]) << ", " << r.models_per_task[k]
            << " model" << (r.models_per_task[k] == 1 ? "" : "s") << ")";
    out << "\nFLOPs/params: " << r.cost_source << "\n";
    const auto& sel = r.candidates[r.selected];
    const auto& origin_code = r.candidates[r.rounded[r.at(sel.from == origin::known ? 0 : sel.start, 0)]];
    describe("start:    ", origin_code);
    describe("selected: ", sel);
    out << "gain over the start:";
    for (std::size_t k = 0; k < r.task_names.size(); ++k) {
        const double d = rep.main_of(sel, k) - rep.main_of(origin_code, k);
        out << " " << rep.prefix(k) << r.metric_names[k][0] << " " << (d >= 0 ? "+" : "") << fixed(d, 3);
    }
    if (sel.cost && origin_code.cost) {
        const double d = sel.cost->flops_g() - origin_code.cost->flops_g();
        out << ", FLOPs " << (d >= 0 ? "+" : "") << fixed(d, 6) << " G ("
            << (d >= 0 ? "+" : "") << fixed(100 * d / origin_code.cost->flops_g(), 1) << " %)";
        const double p = sel.cost->params_m() - origin_code.cost->params_m();
        out << ", params " << (p >= 0 ? "+" : "") << fixed(p, 6) << " M";
    }
    out << "\nselection: " << origin_name(sel.from) << " code";
    if (sel.from != origin::known)
        out << " (start " << sel.start << ", " << (sel.from == origin::search ? "iteration " : "repair step ")
            << sel.iteration << ")";
    out << ", objective " << fixed(sel.objective, 4) << ", spread " << fixed(sel.spread, 4);
    if (r.repaired) out << "; no visited code met the budgets: repaired";
    if (r.best_known) out << "; best known record: " << ed.space().to_string(r.candidates[*r.best_known].code);
    out << "\nPareto set: " << r.pareto.size() << " codes\n";
    if (run.write)
        out << "outputs: " << (dir / "ncp.json").string() << ", " << (dir / "ncp.csv").string() << ", "
            << (dir / "ncp.svg").string() << "\n";
    summary s{out.str(), dir, std::move(json), std::nullopt, {}};
    if constexpr (std::same_as<typename Space::code_type, arch::code>) {
        s.selected = sel.code;
        s.convention = ed.space().convention();
    }
    return s;
}

}  // namespace detail

/// Runs `ncp search` on models already read: groups them into tasks (several of one name: an ensemble), applies
/// run.weights (names must be tasks), picks the space from cfg.data.dataset (nas-bench-201: NAS-Bench-201, 30-value
/// codes; any other: NAS-Bench-MR, 27-value codes) and rejects a model whose code dimension does not match, loads
/// each task's benchmark file where present (stored results; the records the config trains on are the known ones),
/// builds the start codes (run.starts, or the config's), searches, writes the outputs into <log_dir>/<dataset>
/// (tasks joined by '+' when several) when run.write, and returns the summary. Throws ncp::error naming the input
/// for no models, models that do not fit the config or each other, unknown task names, bad start codes and budgets
/// no architecture meets. run.threads (>= 1) step the batch and evaluate new codes; the results do not depend on
/// them.
template <class T = float, class Backend = default_backend>
summary run_search(const io::run_config& cfg, std::vector<model_input> models, const run_options& run = {}) {
    if (models.empty()) throw error("a search needs at least one model");
    std::vector<detail::loaded_task> loaded;
    for (auto& m : models) {
        const std::string name = m.task.empty() ? m.record.setting : m.task;
        auto found = std::find_if(loaded.begin(), loaded.end(), [&](const auto& t) { return t.name == name; });
        if (found == loaded.end()) found = loaded.insert(loaded.end(), detail::loaded_task{name, 1, {}, {}});
        found->records.push_back(std::move(m.record));
        found->paths.push_back(std::move(m.source));
    }
    std::set<std::string> weighted;
    for (const auto& [name, w] : run.weights) {
        if (!weighted.insert(name).second) throw error("--weights: task '" + name + "' is weighted twice");
        auto found = std::find_if(loaded.begin(), loaded.end(), [&](const auto& t) { return t.name == name; });
        if (found == loaded.end()) {
            std::string names;
            for (const auto& t : loaded) names += (names.empty() ? "" : ", ") + t.name;
            throw error("--weights: unknown task name '" + name + "' (the tasks are: " + names + ")");
        }
        found->weight = w;
    }
    const bool nb201 = cfg.data.dataset == "nas-bench-201";
    const std::int64_t dim =
        nb201 ? static_cast<std::int64_t>(nb201_space::dim) : static_cast<std::int64_t>(mr_space::dim);
    for (const auto& t : loaded)
        for (std::size_t m = 0; m < t.records.size(); ++m) {
            const auto& rec = t.records[m];
            if (rec.input_dim != dim)
                throw error(t.paths[m] + ": the model takes " + std::to_string(rec.input_dim) +
                            "-dimensional codes, but data.dataset " + cfg.data.dataset + " has " +
                            std::to_string(dim) + "-dimensional codes");
            if ((t.name == cfg.data.dataset || loaded.size() == 1) && rec.metric_groups != cfg.data.metrics) {
                auto groups = [](const std::vector<std::vector<std::string>>& g) {
                    std::string s = "[";
                    for (std::size_t i = 0; i < g.size(); ++i) {
                        s += (i ? ", [" : "[");
                        for (std::size_t j = 0; j < g[i].size(); ++j) s += (j ? ", " : "") + g[i][j];
                        s += "]";
                    }
                    return s + "]";
                };
                throw error(t.paths[m] + ": the model predicts " + groups(rec.metric_groups) +
                            ", the config's data.metrics are " + groups(cfg.data.metrics));
            }
        }

    // Each task's benchmark file, where present: the config's for the config's dataset (or a single task), else
    // <data.root>/<task>/trainval.bin.
    std::vector<data::benchmark> tables;
    tables.reserve(loaded.size());
    std::vector<truth> truths(loaded.size());
    for (std::size_t k = 0; k < loaded.size(); ++k) {
        const bool own = loaded.size() == 1 || loaded[k].name == cfg.data.dataset;
        const std::filesystem::path file =
            own ? train::data_file(cfg) : std::filesystem::path(cfg.data.root) / loaded[k].name / "trainval.bin";
        std::error_code ec;
        if (!std::filesystem::exists(file, ec)) continue;
        tables.push_back(data::load_benchmark(file));
        truths[k].table = &tables.back();
        truths[k].known = train::training_records(cfg, tables.back().size());
    }

    std::string title;
    if (loaded.size() == 1) {
        title = cfg.data.dataset;
    } else {
        for (const auto& t : loaded) title += (title.empty() ? "" : "+") + t.name;
    }
    if (nb201) {
        const data::benchmark* table = truths[0].table;
        return detail::run_in<nb201_space, T, Backend>(cfg, table ? nb201_space(*table) : nb201_space(), loaded, truths,
                                                       title, run);
    }
    return detail::run_in<mr_space, T, Backend>(
        cfg, mr_space(cfg.editing.max_value_alpha, parse_convention(cfg.editing.convention)), loaded, truths, title,
        run);
}

/// Runs `ncp search` on checkpoint files: reads `models` (default_model(cfg) when there are none) and searches as
/// the overload above does, writing the outputs. `threads` (>= 1) step the batch and evaluate new codes; the
/// results do not depend on them. `progress` hears of the steps (stepper.hpp).
template <class T = float, class Backend = default_backend>
summary run_search(const io::run_config& cfg, std::vector<model_arg> models,
                   const std::vector<std::pair<std::string, double>>& weights = {},
                   int threads = search::options{}.threads, const step_progress& progress = {}) {
    if (models.empty()) models.push_back({"", default_model(cfg)});
    std::vector<model_input> inputs;
    for (const auto& m : models) inputs.push_back({m.task, io::load_checkpoint(m.path), m.path.string()});
    return run_search<T, Backend>(cfg, std::move(inputs), {weights, threads, progress, {}, true});
}

}  // namespace ncp::search

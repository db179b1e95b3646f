/// ncp.search: `ncp search` as a call on models held in Python; returns the text of ncp.json. ncp.ask: `ncp ask` on
/// known results held in Python; returns the text of PROPOSALS.csv.

#include <filesystem>

#include "model.hpp"
#include "ncp/io/config.hpp"
#include "ncp/search/ask_program.hpp"
#include "ncp/search/program.hpp"

namespace ncp::python {

namespace {

/// Searches with `models` as (task name, or "" for the model's setting; model) pairs.
std::string search(const std::filesystem::path& cfg_file, const overrides& changes,
                   const std::vector<std::pair<std::string, const model*>>& models,
                   const std::vector<std::pair<std::string, double>>& weights, const std::vector<std::string>& starts,
                   bool write) {
    const auto cfg = io::load_config(cfg_file, changes);
    std::vector<search::model_input> inputs;
    for (const auto& [task, m] : models) {
        if (m == nullptr) throw error("models: None is not a model");
        inputs.push_back({task, m->record(), m->source()});
    }
    search::run_options run;
    run.weights = weights;
    run.starts = starts;
    run.write = write;
    py::gil_scoped_release unlocked;
    return search::run_search(cfg, std::move(inputs), run).json;
}

/// Proposes `n` codes from known codes and their metrics (columns: data.metrics in group order), from `pool` when
/// it is not None.
std::string ask(const std::filesystem::path& cfg_file, const overrides& changes, const py::handle& known_codes,
                const py::handle& known_metrics, std::size_t n, const py::handle& pool, int threads) {
    const auto cfg = io::load_config(cfg_file, changes);
    const auto dim = static_cast<std::size_t>(search::ask_dim(cfg));
    const code_rows codes(known_codes, dim, "known_codes");
    std::vector<std::string> columns;
    for (const auto& group : cfg.data.metrics) columns.insert(columns.end(), group.begin(), group.end());
    const auto metrics = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(known_metrics);
    if (!metrics || (metrics.size() > 0 && (metrics.ndim() != 2 || metrics.shape(1) != py::ssize_t(columns.size()))))
        throw error("known_metrics: expected an (n, " + std::to_string(columns.size()) +
                    ") array: one column per metric of data.metrics");
    std::vector<std::vector<double>> rows;
    for (std::size_t i = 0; i < codes.rows(); ++i) rows.emplace_back(codes.row(i).begin(), codes.row(i).end());
    const auto known = io::make_results(columns, rows, {metrics.data(), static_cast<std::size_t>(metrics.size())},
                                        "known results");
    std::optional<std::vector<std::vector<double>>> pool_rows;
    if (!pool.is_none()) {
        const code_rows p(pool, dim, "pool");
        pool_rows.emplace();
        for (std::size_t i = 0; i < p.rows(); ++i) pool_rows->emplace_back(p.row(i).begin(), p.row(i).end());
    }
    py::gil_scoped_release unlocked;
    return search::ask_csv(cfg, known, "known results", n, pool_rows ? &*pool_rows : nullptr, threads);
}

}  // namespace

void bind_search(py::module_& m) {
    m.def("ask", &ask, py::arg("cfg"), py::arg("overrides"), py::arg("known_codes"), py::arg("known_metrics"),
          py::arg("n"), py::arg("pool"), py::arg("threads"));
    m.def("search", &search, py::arg("cfg"), py::arg("overrides"), py::arg("models"), py::arg("weights"),
          py::arg("starts"), py::arg("write"));
}

}  // namespace ncp::python

/// ncp.search: `ncp search` as a call on models held in Python; returns the text of ncp.json.

#include <filesystem>

#include "model.hpp"
#include "ncp/io/config.hpp"
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

}  // namespace

void bind_search(py::module_& m) {
    m.def("search", &search, py::arg("cfg"), py::arg("overrides"), py::arg("models"), py::arg("weights"),
          py::arg("starts"), py::arg("write"));
}

}  // namespace ncp::python

/// ncp.load_model, Model (predict, save), ncp.train and the training behind ncp.Predictor.fit: `ncp train` and
/// `ncp predict` as calls.

#include <filesystem>
#include <memory>

#include "model.hpp"
#include "ncp/data/format.hpp"
#include "ncp/io/config.hpp"
#include "ncp/train/trainer.hpp"

namespace ncp::python {

namespace {

/// Trains as `ncp train` does (on a machine of two cores: two threads, one while two are slower; the results do
/// not depend on it) with the GIL released.
train::result train_unlocked(const io::run_config& cfg, const data::benchmark& b) {
    py::gil_scoped_release unlocked;
    return train::train_predictor(cfg, train::training_data(cfg, b), {.adapt_threads = true});
}

/// ncp.train: the best model, the last one and the text of metrics.json.
py::tuple train_config(const std::filesystem::path& cfg_file, const overrides& changes, const data::benchmark* given) {
    const auto cfg = io::load_config(cfg_file, changes);
    std::optional<data::benchmark> loaded;
    if (given == nullptr) {
        py::gil_scoped_release unlocked;
        loaded = train::load_data(cfg, false);
    }
    const auto r = train_unlocked(cfg, given != nullptr ? *given : *loaded);
    const std::string name = cfg_file.string();
    return py::make_tuple(std::make_unique<model>(r.best, name + " (best model)"),
                          std::make_unique<model>(r.last, name + " (last model)"), train::metrics_json(r, cfg));
}

/// ncp.Predictor.fit: the best model trained on codes and their metrics: `y` one value per code (the main metric
/// alone) or one column per metric of data.metrics.
std::unique_ptr<model> fit(const std::filesystem::path& cfg_file, const overrides& changes, const py::handle& x,
                           const py::handle& y) {
    auto cfg = io::load_config(cfg_file, changes);
    const auto targets = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(y);
    if (!targets || targets.ndim() < 1 || targets.ndim() > 2)
        throw error("ytrain: expected a 1-D array (the main metric) or a 2-D array (every metric of data.metrics)");
    if (targets.ndim() == 1) cfg = train::main_metric_only(cfg);
    std::vector<std::string> names;
    for (const auto& group : cfg.data.metrics) names.insert(names.end(), group.begin(), group.end());
    const code_rows rows(x, 0, "xtrain");
    const auto b = data::make_benchmark(
        cfg.data.dataset, names, rows.values(), rows.dim(),
        std::span<const double>(targets.data(), static_cast<std::size_t>(targets.size())), "xtrain, ytrain");
    return std::make_unique<model>(train_unlocked(cfg, b).best, cfg_file.string() + " (fitted model)");
}

}  // namespace

void bind_model(py::module_& m) {
    py::class_<model>(m, "Model")
        .def("predict", &model::predict, py::arg("codes"), py::arg("threads"))
        .def_property_readonly("metric_names", [](const model& self) { return self.record().metric_names(); })
        .def_property_readonly("setting", [](const model& self) { return self.record().setting; })
        .def_property_readonly("input_dim", [](const model& self) { return self.record().input_dim; })
        .def_property_readonly("epoch", [](const model& self) { return self.record().epoch; })
        .def("save",
             [](const model& self, const std::filesystem::path& path) {
                 py::gil_scoped_release unlocked;
                 io::save_checkpoint(path, self.record());
             },
             py::arg("path"));
    m.def(
        "load_model",
        [](const std::filesystem::path& path) {
            io::model_record record;
            {
                py::gil_scoped_release unlocked;
                record = io::load_checkpoint(path);
            }
            return std::make_unique<model>(std::move(record), path.string());
        },
        py::arg("path"));
    m.def("train", &train_config, py::arg("cfg"), py::arg("overrides"), py::arg("data"));
    m.def("fit", &fit, py::arg("cfg"), py::arg("overrides"), py::arg("xtrain"), py::arg("ytrain"));
}

}  // namespace ncp::python

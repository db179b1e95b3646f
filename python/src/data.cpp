/// ncp.load_benchmark: a converted benchmark file, its tables handed to NumPy as read-only views (no copy).

#include <filesystem>

#include "bindings.hpp"
#include "ncp/data/format.hpp"

namespace ncp::python {

namespace {

/// A read-only NumPy view of `table`, which `owner` (the Python object holding the benchmark) keeps alive.
py::array view(const xt::xtensor<double, 2>& table, const py::object& owner) {
    const auto rows = static_cast<py::ssize_t>(table.shape(0)), cols = static_cast<py::ssize_t>(table.shape(1));
    const auto item = static_cast<py::ssize_t>(sizeof(double));
    py::array a(py::dtype::of<double>(), {rows, cols}, {cols * item, item}, table.data(), owner);
    a.attr("setflags")(py::arg("write") = false);
    return a;
}

}  // namespace

void bind_data(py::module_& m) {
    py::class_<data::benchmark>(m, "Benchmark")
        .def_readonly("setting", &data::benchmark::setting)
        .def_readonly("metric_names", &data::benchmark::metric_names)
        .def_property_readonly(
            "codes", [](const py::object& self) { return view(self.cast<const data::benchmark&>().codes, self); })
        .def_property_readonly(
            "metrics", [](const py::object& self) { return view(self.cast<const data::benchmark&>().metrics, self); });
    m.def(
        "load_benchmark",
        [](const std::filesystem::path& path) {
            py::gil_scoped_release unlocked;
            return data::load_benchmark(path);
        },
        py::arg("path"));
}

}  // namespace ncp::python

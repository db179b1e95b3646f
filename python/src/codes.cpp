/// ncp.parse_code, ncp.format_code and ncp.count: codes as text and numbers, and their exact FLOPs and params.

#include <cstdint>

#include "bindings.hpp"
#include "ncp/arch/count.hpp"
#include "ncp/arch/graph.hpp"

namespace ncp::python {

namespace {

/// The code `text` (either benchmark's forms) as integers.
py::array_t<std::int64_t> parse_code(const std::string& text) {
    const auto values = arch::parse_model_code(text, arch::code_dim_of(text));
    py::array_t<std::int64_t> out(static_cast<py::ssize_t>(values.size()));
    auto v = out.mutable_unchecked<1>();
    for (std::size_t i = 0; i < values.size(); ++i)
        v(static_cast<py::ssize_t>(i)) = static_cast<std::int64_t>(values[i]);
    return out;
}

/// The string form of a code of 27 or 30 values.
std::string format_code(const py::handle& code) {
    const auto a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(code);
    if (!a || a.ndim() != 1) throw error("format_code: expected a sequence of 27 or 30 numbers");
    return arch::code_string(std::span<const double>(a.data(), static_cast<std::size_t>(a.size())));
}

/// FLOPs (G) and params (M) of NAS-Bench-MR codes under a convention, as `ncp flops` prints them.
py::tuple count(const py::handle& codes, const std::string& head, int classes, int input) {
    const arch::convention conv{input, arch::parse_head_kind(head), classes};
    arch::validate(conv);
    const code_rows rows(codes, arch::code_size, "codes");
    std::vector<double> flops(rows.rows()), params(rows.rows());
    {
        py::gil_scoped_release unlocked;
        for (std::size_t i = 0; i < rows.rows(); ++i) {
            arch::code k;
            try {
                k = arch::exact_code(rows.row(i));
            } catch (const error& e) {
                throw error("codes[" + std::to_string(i) + "]: " + e.what());
            }
            const arch::cost c = arch::count(k, conv);
            flops[i] = c.flops_g();
            params[i] = c.params_m();
        }
    }
    const auto n = static_cast<py::ssize_t>(rows.rows());
    return py::make_tuple(to_array(std::move(flops), {n}), to_array(std::move(params), {n}));
}

}  // namespace

void bind_codes(py::module_& m) {
    m.def("parse_code", &parse_code, py::arg("text"));
    m.def("format_code", &format_code, py::arg("code"));
    m.def("count", &count, py::arg("codes"), py::arg("head"), py::arg("classes"), py::arg("input"));
}

}  // namespace ncp::python

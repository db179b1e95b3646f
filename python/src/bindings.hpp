#pragma once
/// What the binding files share: their registration functions, config overrides, the codes Python hands in and
/// the arrays handed back. No maths here: values are checked and moved, every number comes from the library.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <cmath>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ncp/arch/model_code.hpp"
#include "ncp/config.hpp"

namespace ncp::python {

namespace py = pybind11;

/// Config overrides as the package passes them: (dotted key, value as YAML text), as `--key value` gives them.
using overrides = std::vector<std::pair<std::string, std::string>>;

void bind_codes(py::module_& m);
void bind_data(py::module_& m);
void bind_model(py::module_& m);
void bind_search(py::module_& m);

/// Codes from Python as rows of values in original units: a sequence of code strings (parsed by the library) or a
/// 2-D numeric array (read in place when it is C-contiguous float64).
class code_rows {
public:
    /// Reads `codes`; `dim` is the code dimension they must have (0: that of the first code). `what` names the
    /// argument in errors (an invalid code, another dimension, a value that is not finite).
    code_rows(const py::handle& codes, std::size_t dim, const std::string& what) : m_dim(dim) {
        if (py::isinstance<py::str>(codes) || py::isinstance<py::bytes>(codes))
            throw error(what + ": expected a list of code strings or an (n, d) array, not one string");
        if (py::isinstance<py::list>(codes) || py::isinstance<py::tuple>(codes)) {
            const auto seq = py::reinterpret_borrow<py::sequence>(codes);
            if (seq.size() == 0 || py::isinstance<py::str>(seq[0])) {  // an empty list: no codes
                parse(seq, what);
                return;
            }
        }
        const py::array given = py::array::ensure(codes);  // any dtype; the float64 copy, if needed, comes after
        if (!given) throw error(what + ": expected a list of code strings or an (n, d) array of numbers");
        const char kind = given.dtype().kind();
        if (kind != 'i' && kind != 'u' && kind != 'f')  // complex values would lose their imaginary part silently
            throw error(what + ": expected real numbers, got an array of " +
                        py::str(given.dtype()).cast<std::string>());
        if (given.ndim() != 2)
            throw error(what + ": expected an (n, d) array, got " + std::to_string(given.ndim()) + " dimension(s)");
        m_array = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(given);
        if (!m_array)
            throw error(what + ": cannot copy " + std::to_string(given.shape(0)) + " x " +
                        std::to_string(given.shape(1)) + " values as float64 (not enough memory)");
        m_rows = static_cast<std::size_t>(m_array.shape(0));
        const auto cols = static_cast<std::size_t>(m_array.shape(1));
        if (m_dim != 0 && cols != m_dim)
            throw error(what + ": rows of " + std::to_string(cols) + " values, expected " + std::to_string(m_dim) +
                        "-dimensional codes");
        m_dim = cols;
        const std::span<const double> v = values();
        for (std::size_t i = 0; i < v.size(); ++i)
            if (!std::isfinite(v[i]))
                throw error(what + "[" + std::to_string(i / m_dim) + ", " + std::to_string(i % m_dim) +
                            "] is not finite");
    }

    /// rows() x dim() values, row-major.
    std::span<const double> values() const {
        if (m_text) return m_parsed;
        return {m_array.data(), m_rows * m_dim};
    }
    /// Row `i`.
    std::span<const double> row(std::size_t i) const { return values().subspan(i * m_dim, m_dim); }
    /// Number of codes.
    std::size_t rows() const { return m_rows; }
    /// Values per code.
    std::size_t dim() const { return m_dim; }

private:
    void parse(const py::sequence& seq, const std::string& what) {
        for (std::size_t i = 0; i < seq.size(); ++i) {
            const py::handle item = seq[i];
            if (!py::isinstance<py::str>(item))
                throw error(what + "[" + std::to_string(i) + "]: expected a code string");
            const auto text = item.cast<std::string>();
            try {
                const auto code = arch::parse_model_code(
                    text, static_cast<index_t>(m_dim != 0 ? m_dim : static_cast<std::size_t>(arch::code_dim_of(text))));
                m_dim = code.size();
                m_parsed.insert(m_parsed.end(), code.begin(), code.end());
            } catch (const error& e) {
                throw error(what + "[" + std::to_string(i) + "]: " + e.what());
            }
        }
        m_rows = seq.size();
        m_text = true;
    }

    bool m_text = false;           ///< whether the codes came as strings
    py::array_t<double, py::array::c_style | py::array::forcecast> m_array;  ///< the values, when given an array
    std::vector<double> m_parsed;  ///< the values, when given strings
    std::size_t m_rows = 0;        ///< codes
    std::size_t m_dim = 0;         ///< values per code
};

/// `values` as a NumPy array of `shape` that owns them (no copy).
inline py::array_t<double> to_array(std::vector<double> values, std::vector<py::ssize_t> shape) {
    auto owner = std::make_unique<std::vector<double>>(std::move(values));
    const double* data = owner->data();
    py::capsule free(owner.get(), [](void* p) { delete static_cast<std::vector<double>*>(p); });
    owner.release();  // the capsule owns it now
    return py::array_t<double>(std::move(shape), data, free);
}

}  // namespace ncp::python

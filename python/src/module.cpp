/// The extension module `ncp._ncp` behind the package `ncp` (python/ncp/__init__.py): the library's calls, its
/// version and its error type.

#include "bindings.hpp"

PYBIND11_MODULE(_ncp, m) {
    namespace python = ncp::python;
    m.doc() = "ncp's C++ library; use the package ncp, which documents every call";
    m.attr("version") = ncp::version;
    // ncp::error and its subclasses become ncp.Error (a ValueError) with the library's message.
    pybind11::register_exception<ncp::error>(m, "Error", PyExc_ValueError);
    python::bind_codes(m);
    python::bind_data(m);
    python::bind_model(m);
    python::bind_search(m);
}

#pragma once
/// A trained predictor as the package holds it: its checkpoint record (saved as is, handed to searches) and the
/// model built from it in evaluation mode (predictions).

#include <mutex>
#include <string>
#include <utility>

#include "bindings.hpp"
#include "ncp/io/checkpoint.hpp"
#include "ncp/nn/predictor.hpp"

namespace ncp::python {

/// One trained predictor (a checkpoint record and the model it describes).
class model {
public:
    /// The model `record` describes; `source` names it in errors (its file, or the training that made it).
    model(io::model_record record, std::string source)
        : m_record(std::move(record)),
          m_source(std::move(source)),
          m_predictor(io::make_predictor(m_record, m_source)) {}

    /// Metrics in original units (rows x outputs) of `codes` (code strings or an (n, input_dim) array), in
    /// evaluation mode, on up to `threads` threads. Calls from several Python threads take turns (prediction
    /// switches the model's mode).
    py::array_t<double> predict(const py::handle& codes, int threads) {
        const code_rows rows(codes, static_cast<std::size_t>(m_record.input_dim), "codes");
        std::vector<double> out;
        {
            py::gil_scoped_release unlocked;
            const std::lock_guard lock(m_mutex);
            out = m_predictor.predict(rows.values(), threads);
        }
        return to_array(std::move(out),
                        {static_cast<py::ssize_t>(rows.rows()), static_cast<py::ssize_t>(m_record.outputs())});
    }

    /// The checkpoint record.
    const io::model_record& record() const { return m_record; }
    /// What errors call it.
    const std::string& source() const { return m_source; }

private:
    io::model_record m_record;         ///< weights, statistics, metric groups, config
    std::string m_source;              ///< its file, or the training that made it
    nn::predictor<float> m_predictor;  ///< built from m_record, evaluation mode
    std::mutex m_mutex;                ///< one prediction at a time
};

}  // namespace ncp::python

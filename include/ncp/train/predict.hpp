#pragma once
/// Predicting with a trained model from codes as users write them (arch::parse_model_code). Results come as CSV in
/// the model's metric order, original units.

#include <charconv>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ncp/arch/model_code.hpp"
#include "ncp/nn/predictor.hpp"
#include "ncp/parallel/thread_team.hpp"

namespace ncp::train {

/// Writes the CSV of `model`'s predictions for `codes` (texts as given): a header `code,<metric>,...`, then one
/// row per code, the code quoted, metrics in original units and shortest round-trip form. `threads` as
/// nn::predictor::predict's (the output does not depend on it). `origins`, when given, says where each code comes
/// from in the error for an invalid one ("codes.txt line 3"; empty: the code itself names it).
template <class T, class Backend>
void write_predictions(std::ostream& out, nn::predictor<T, Backend>& model, std::span<const std::string> codes,
                       int threads = parallel::hardware_threads(), std::span<const std::string> origins = {}) {
    const index_t dim = model.spec().input_dim;
    std::vector<double> flat;
    flat.reserve(codes.size() * static_cast<std::size_t>(dim));
    for (std::size_t i = 0; i < codes.size(); ++i) {
        try {
            const auto v = arch::parse_model_code(codes[i], dim);
            flat.insert(flat.end(), v.begin(), v.end());
        } catch (const error& e) {
            if (i >= origins.size() || origins[i].empty()) throw;
            throw error(origins[i] + ": " + e.what());
        }
    }
    const auto names = model.spec().metric_names();
    const std::vector<double> pred = model.predict(flat, threads);
    out << "code";
    for (const auto& n : names) out << "," << n;
    out << "\n";
    char buf[32];
    for (std::size_t i = 0; i < codes.size(); ++i) {
        out << '"';
        for (char ch : codes[i]) out << (ch == '"' ? std::string("\"\"") : std::string(1, ch));
        out << '"';
        for (std::size_t k = 0; k < names.size(); ++k) {
            const auto end = std::to_chars(buf, buf + sizeof buf, pred[i * names.size() + k]).ptr;
            out << ',' << std::string_view(buf, static_cast<std::size_t>(end - buf));
        }
        out << "\n";
    }
}

}  // namespace ncp::train

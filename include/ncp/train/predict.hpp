#pragma once
/// Predicting with a trained model from codes as users write them: NAS-Bench-MR codes in either form of
/// arch::parse_code, NAS-Bench-201 codes as 30 comma-separated one-hot values or the benchmark's `|op~0|+...` string,
/// other models' codes as comma-separated numbers. Results come as CSV in the model's metric order, original units.

#include <charconv>
#include <cmath>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ncp/arch/code.hpp"
#include "ncp/arch/nb201.hpp"
#include "ncp/nn/predictor.hpp"

namespace ncp::train {

namespace detail {

/// Comma-separated finite numbers (spaces allowed around each, optionally inside one pair of brackets).
inline std::vector<double> parse_numbers(std::string_view text) {
    std::string_view s = arch::detail::trim(text);
    if (!s.empty() && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
    std::vector<double> values;
    for (std::size_t start = 0;;) {
        const std::size_t comma = s.find(',', start);
        const std::string_view token = arch::detail::trim(s.substr(start, comma - start));
        double v = 0;
        const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), v);
        if (token.empty() || ec != std::errc() || end != token.data() + token.size() || !std::isfinite(v))
            throw error("invalid code " + arch::detail::quoted(text) + ": value " + std::to_string(values.size()) +
                        " (" + arch::detail::quoted(token) + ") is not a finite number");
        values.push_back(v);
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return values;
}

}  // namespace detail

/// The code `text` for a model taking `dim`-dimensional codes, in original units. Throws ncp::error naming the text
/// when it is malformed, invalid, or of another dimension than the model's.
inline std::vector<double> parse_model_code(std::string_view text, index_t dim) {
    const bool has_comma = text.find(',') != std::string_view::npos;
    auto wrong_dimension = [&](std::size_t got) {
        return error("code " + arch::detail::quoted(text) + " has " + std::to_string(got) + " numbers; the model takes " +
                     std::to_string(dim) + "-dimensional codes");
    };
    if (dim == static_cast<index_t>(arch::code_size)) {
        if (has_comma) {
            const std::size_t count = detail::parse_numbers(text).size();
            if (count != arch::code_size) throw wrong_dimension(count);
        }
        const arch::code c = arch::parse_code(text);
        return {c.begin(), c.end()};
    }
    if (dim == static_cast<index_t>(arch::nb201_code_size)) {
        if (!has_comma) {
            const auto one_hot = arch::nb201_one_hot(arch::parse_nb201(text));
            return {one_hot.begin(), one_hot.end()};
        }
        const auto values = detail::parse_numbers(text);
        if (values.size() != arch::nb201_code_size) throw wrong_dimension(values.size());
        try {
            arch::nb201_from_one_hot(values);
        } catch (const error& e) {
            throw error("code " + arch::detail::quoted(text) + ": " + e.what());
        }
        return values;
    }
    const auto values = detail::parse_numbers(text);
    if (static_cast<index_t>(values.size()) != dim) throw wrong_dimension(values.size());
    return values;
}

/// Writes the CSV of `model`'s predictions for `codes` (texts as given): a header `code,<metric>,...`, then one
/// row per code, the code quoted, metrics in original units and shortest round-trip form.
template <class T, class Backend>
void write_predictions(std::ostream& out, nn::predictor<T, Backend>& model, std::span<const std::string> codes) {
    const index_t dim = model.spec().input_dim;
    std::vector<double> flat;
    flat.reserve(codes.size() * static_cast<std::size_t>(dim));
    for (const auto& c : codes) {
        const auto v = parse_model_code(c, dim);
        flat.insert(flat.end(), v.begin(), v.end());
    }
    const auto names = model.spec().metric_names();
    const std::vector<double> pred = model.predict(flat);
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

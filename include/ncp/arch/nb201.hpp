#pragma once
/// NAS-Bench-201 cells: the 30-dimensional one-hot code of NCP's `nas-bench-201/trainval.pkl` (6 edges x 5 ops),
/// validation, projection of a continuous code, and the benchmark's string form
/// `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`.
///
/// Edge e of the code is the e-th edge of that string: 0->1, 0->2, 1->2, 0->3, 1->3, 2->3 (from -> to node).
/// Op k within an edge is nb201_ops[k]. Neither order is written down in the NCP release; both were read off the
/// data: each conv is the op whose every occurrence adds its exact FLOPs on CIFAR-10 (nor_conv_1x1 3.93 M,
/// nor_conv_3x3 35.39 M per edge over the 15 cells); `none` is the one op that, on the three edges into node 3
/// (or out of node 0), leaves accuracy at chance (0.83 % on ImageNet16-120) in all 125 cells; and record 0 is
/// NAS-Bench-201's arch 0, `|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|
/// skip_connect~2|`, which fixes the edge order (against its mirror image) and tells pooling from skip.

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "ncp/arch/code.hpp"
#include "ncp/config.hpp"

namespace ncp::arch {

/// Edges of a cell.
inline constexpr std::size_t nb201_edges = 6;
/// Candidate operations per edge.
inline constexpr std::size_t nb201_op_count = 5;
/// Length of the one-hot code.
inline constexpr std::size_t nb201_code_size = nb201_edges * nb201_op_count;

/// Operation names in the order of the one-hot code.
inline constexpr std::array<std::string_view, nb201_op_count> nb201_ops = {
    "avg_pool_3x3", "none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3"};

/// Source node of each edge (the number after '~' in the string form).
inline constexpr std::array<int, nb201_edges> nb201_edge_from = {0, 0, 1, 0, 1, 2};
/// Target node of each edge.
inline constexpr std::array<int, nb201_edges> nb201_edge_to = {1, 2, 2, 3, 3, 3};

/// A cell: the op index (into nb201_ops) of each edge.
using nb201_cell = std::array<int, nb201_edges>;

/// Throws ncp::error unless every op index is in 0..4 (naming the edge).
constexpr void validate(const nb201_cell& cell) {
    for (std::size_t e = 0; e < nb201_edges; ++e)
        if (cell[e] < 0 || cell[e] >= static_cast<int>(nb201_op_count))
            throw error("invalid NAS-Bench-201 cell: edge " + std::to_string(e) + " has op " +
                        std::to_string(cell[e]) + " (0..4)");
}

/// The cell of an exact one-hot code: 30 values, each 0 or 1, one 1 per edge. Errors name the position.
constexpr nb201_cell nb201_from_one_hot(std::span<const double> one_hot) {
    if (one_hot.size() != nb201_code_size)
        throw error("a NAS-Bench-201 code has 30 values, not " + std::to_string(one_hot.size()));
    nb201_cell cell{};
    for (std::size_t e = 0; e < nb201_edges; ++e) {
        int ones = 0;
        for (std::size_t k = 0; k < nb201_op_count; ++k) {
            const double v = one_hot[e * nb201_op_count + k];
            if (v != 0.0 && v != 1.0)
                throw error("invalid NAS-Bench-201 code: value " + std::to_string(e * nb201_op_count + k) + " = " +
                            std::to_string(v) + " is neither 0 nor 1");
            if (v == 1.0) {
                cell[e] = static_cast<int>(k);
                ++ones;
            }
        }
        if (ones != 1)
            throw error("invalid NAS-Bench-201 code: edge " + std::to_string(e) + " (values " +
                        std::to_string(e * nb201_op_count) + ".." + std::to_string(e * nb201_op_count + 4) + ") has " +
                        std::to_string(ones) + " ones (expected 1)");
    }
    return cell;
}

/// The one-hot code of a cell.
constexpr std::array<double, nb201_code_size> nb201_one_hot(const nb201_cell& cell) {
    validate(cell);
    std::array<double, nb201_code_size> v{};
    for (std::size_t e = 0; e < nb201_edges; ++e) v[e * nb201_op_count + static_cast<std::size_t>(cell[e])] = 1.0;
    return v;
}

/// The nearest cell to a continuous code: the arg-max op of each edge (the first on ties). Throws ncp::error on
/// a wrong length or a NaN (naming its position).
constexpr nb201_cell nb201_project(std::span<const double> values) {
    if (values.size() != nb201_code_size)
        throw error("a NAS-Bench-201 code has 30 values, not " + std::to_string(values.size()));
    nb201_cell cell{};
    for (std::size_t e = 0; e < nb201_edges; ++e) {
        for (std::size_t k = 0; k < nb201_op_count; ++k) {
            const double v = values[e * nb201_op_count + k];
            if (!(v == v))
                throw error("cannot project a NAS-Bench-201 code: value " + std::to_string(e * nb201_op_count + k) +
                            " is NaN");
            if (v > values[e * nb201_op_count + static_cast<std::size_t>(cell[e])]) cell[e] = static_cast<int>(k);
        }
    }
    return cell;
}

/// The benchmark's string form, e.g. `|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|...~0|...~1|...~2|`.
inline std::string to_string(const nb201_cell& cell) {
    validate(cell);
    std::string s;
    for (std::size_t e = 0; e < nb201_edges; ++e) {
        if (e == 1 || e == 3) s += '+';
        s += '|';
        s += nb201_ops[static_cast<std::size_t>(cell[e])];
        s += '~';
        s += static_cast<char>('0' + nb201_edge_from[e]);
        if (e == 0 || e == 2 || e == 5) s += '|';
    }
    return s;
}

/// Parses the string form (surrounding whitespace ignored); errors name the edge and what was found there.
constexpr nb201_cell parse_nb201(std::string_view text) {
    const std::string_view s = detail::trim(text);
    const auto fail = [&](const std::string& what) {
        return error("invalid NAS-Bench-201 string " + detail::quoted(text) + ": " + what);
    };
    nb201_cell cell{};
    std::size_t at = 0;
    for (std::size_t e = 0; e < nb201_edges; ++e) {
        const bool opens_node = e == 0 || e == 1 || e == 3;
        if (opens_node && e > 0) {
            if (at >= s.size() || s[at] != '+') throw fail("expected '+' before edge " + std::to_string(e));
            ++at;
        }
        if (opens_node) {
            if (at >= s.size() || s[at] != '|') throw fail("expected '|' before edge " + std::to_string(e));
            ++at;
        }
        const std::size_t end = s.find('|', at);
        if (end == std::string_view::npos) throw fail("edge " + std::to_string(e) + " is not closed by '|'");
        const std::string_view item = s.substr(at, end - at);
        const std::size_t tilde = item.find('~');
        if (tilde == std::string_view::npos)
            throw fail("edge " + std::to_string(e) + " (" + detail::quoted(item) + ") is not op~node");
        const std::string_view op = item.substr(0, tilde);
        const std::string_view from = item.substr(tilde + 1);
        int found = -1;
        for (std::size_t k = 0; k < nb201_op_count; ++k)
            if (nb201_ops[k] == op) found = static_cast<int>(k);
        if (found < 0) throw fail("edge " + std::to_string(e) + " has unknown op " + detail::quoted(op));
        if (from.size() != 1 || from[0] != static_cast<char>('0' + nb201_edge_from[e]))
            throw fail("edge " + std::to_string(e) + " comes from node " + detail::quoted(from) + " (expected " +
                       std::to_string(nb201_edge_from[e]) + ")");
        cell[e] = found;
        at = end + 1;
    }
    if (at != s.size()) throw fail("unexpected text after the last edge");
    return cell;
}

}  // namespace ncp::arch

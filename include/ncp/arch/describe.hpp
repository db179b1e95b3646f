#pragma once
/// Human- and machine-readable descriptions of a network: the block table of `ncp describe`, and the JSON of its
/// setting that the original PyTorch MultiResolutionNet takes.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ncp/arch/blocks.hpp"
#include "ncp/arch/code.hpp"
#include "ncp/arch/count.hpp"
#include "ncp/arch/graph.hpp"

namespace ncp::arch {

/// One row of the block table.
struct block_row {
    int depth = 0;              ///< nesting level; the network is 0
    std::string type;           ///< e.g. "module 2", "conv3x3/2-bn-relu"
    std::optional<int> branch;  ///< the branch it runs on, when it runs on one
    std::string input;          ///< input shape(s), CxHxW, comma-separated per branch
    std::string output;         ///< output shape(s)
    cost total;                 ///< its FLOPs and params
};

namespace detail {

inline std::string shape_text(const shape& s) {
    return std::to_string(s.channels) + "x" + std::to_string(s.height) + "x" + std::to_string(s.width);
}

inline std::string shape_text(const branch_shapes& shapes) {
    std::string t;
    for (const shape& s : shapes) {
        if (!t.empty()) t += ',';
        t += shape_text(s);
    }
    return t;
}

template <int K, int S>
std::string conv_text() {
    return "conv" + std::to_string(K) + "x" + std::to_string(K) + (S == 1 ? "" : "/" + std::to_string(S));
}

template <class Node>
std::string type_text(const Node&) {
    return std::string(Node::name);
}
template <int K, int S, bool Relu>
std::string type_text(const conv_bn_act<K, S, Relu>&) {
    return conv_text<K, S>() + (Relu ? "-bn-relu" : "-bn");
}
template <int K, int S, bool B>
std::string type_text(const conv2d<K, S, B>&) {
    return conv_text<K, S>() + (B ? "+bias" : "");
}
template <class Unit, int Factor>
std::string type_text(const upsampled<Unit, Factor>&) {
    return "upsampled x" + std::to_string(Factor);
}
template <class F, class P>
std::string type_text(const module_block<F, P>& m) {
    return "module " + std::to_string(m.index);
}
template <class T, class C>
std::string type_text(const head<T, C>& h) {
    return "head " + std::string(head_name(h.kind));
}

template <class Node>
constexpr bool is_conv_leaf = false;
template <int K, int S, bool B>
constexpr bool is_conv_leaf<conv2d<K, S, B>> = true;

template <class Node>
constexpr bool is_conv_unit = false;
template <int K, int S, bool Relu>
constexpr bool is_conv_unit<conv_bn_act<K, S, Relu>> = true;

/// Collects a row per block, and per convolution not inside a conv unit (the classifier); the leaves inside a
/// row's conv unit and the free operations would only repeat what the row says.
struct row_collector {
    std::vector<block_row> rows;                      ///< collected so far
    std::vector<std::optional<int>> branch_at_depth;  ///< the branch in force at each depth of the current path
    int unit_depth = -1;                              ///< depth of the conv unit being walked, or -1

    /// Takes the next node of the walk.
    template <class Node>
    void operator()(const Node& node, int depth) {
        branch_at_depth.resize(static_cast<std::size_t>(depth) + 1);
        std::optional<int> branch = depth > 0 ? branch_at_depth[static_cast<std::size_t>(depth) - 1] : std::nullopt;
        if constexpr (requires { node.branch; }) branch = node.branch;
        branch_at_depth[static_cast<std::size_t>(depth)] = branch;
        if (unit_depth >= 0 && depth <= unit_depth) unit_depth = -1;
        if (unit_depth >= 0) return;
        if constexpr (block<Node> || is_conv_leaf<Node>) {
            if constexpr (is_conv_unit<Node>) unit_depth = depth;
            rows.push_back({depth, type_text(node), branch, shape_text(shape_in(node)), shape_text(node.out()),
                            count(node)});
        }
    }

    /// A leaf convolution stores its input shape; a block computes it.
    template <class Node>
    static auto shape_in(const Node& node) {
        if constexpr (is_conv_leaf<Node>) return node.in;
        else return node.in();
    }
};

/// Pads `text` with spaces to `width`, on the left when `right`.
inline std::string padded(const std::string& text, std::size_t width, bool right) {
    const std::string fill(width > text.size() ? width - text.size() : 0, ' ');
    return right ? fill + text : text + fill;
}

}  // namespace detail

/// The rows of the block table of `net`, in forward order; the first is the whole network.
template <class Network>
std::vector<block_row> block_rows(const Network& net) {
    detail::row_collector collector;
    walk(net, collector);
    return collector.rows;
}

/// The block table: one line per block, indented by depth, with branch, input and output shapes, FLOPs (G) and
/// params (M), then a line of totals naming the convention.
template <class Network>
std::string block_table(const Network& net) {
    const std::vector<block_row> rows = block_rows(net);
    const std::vector<std::string> header = {"block", "branch", "input", "output", "flops_g", "params_m"};
    std::vector<std::vector<std::string>> cells;
    for (const block_row& r : rows)
        cells.push_back({std::string(2 * static_cast<std::size_t>(r.depth), ' ') + r.type,
                         r.branch ? std::to_string(*r.branch) : "-", r.input, r.output,
                         fixed_string(r.total.flops, flops_g_decimals),
                         fixed_string(r.total.params, params_m_decimals)});
    std::vector<std::size_t> width(header.size());
    for (std::size_t c = 0; c < header.size(); ++c) {
        width[c] = header[c].size();
        for (const auto& row : cells) width[c] = std::max(width[c], row[c].size());
    }
    // Text columns to the left, numbers to the right.
    const auto line = [&](const std::vector<std::string>& row) {
        std::string l;
        for (std::size_t c = 0; c < row.size(); ++c)
            l += detail::padded(row[c], width[c], c >= 4) + (c + 1 == row.size() ? "\n" : "  ");
        return l;
    };
    std::string table = line(header);
    for (const auto& row : cells) table += line(row);
    const cost total = rows.front().total;
    table += "total: " + fixed_string(total.flops, flops_g_decimals) + " G FLOPs, " +
             fixed_string(total.params, params_m_decimals) + " M params (" + to_string(net.convention_used) + ")\n";
    return table;
}

namespace detail {

/// The first `n` of `values` as a JSON array of integers.
template <class Values>
std::string int_list(const Values& values, std::size_t n) {
    std::string t = "[";
    for (std::size_t i = 0; i < n; ++i) {
        if (i > 0) t += ", ";
        t += std::to_string(values[i]);
    }
    return t + "]";
}

}  // namespace detail

/// The members `"input_channel"`, `"network_setting"` (the benchmark's `inverted_residual_setting`) and
/// `"last_channel"` of setting `s`, as the original's MultiResolutionNet takes them: one per line, indented by two
/// spaces and joined by ",\n" (none after the last), for the JSON objects that describe a network.
inline std::string setting_members(const network_setting& s) {
    std::string modules = "[";
    for (std::size_t m = 0; m < s.modules.size(); ++m) {
        const module_setting& mod = s.modules[m];
        const auto n = static_cast<std::size_t>(mod.branches);
        if (m > 0) modules += ", ";
        modules.append("[").append(std::to_string(mod.branches)).append(", ");
        modules.append(detail::int_list(mod.blocks, n)).append(", ").append(detail::int_list(mod.channels, n));
        modules += ']';
    }
    modules += "]";
    return "  \"input_channel\": " + detail::int_list(s.input_channel, 2) + ",\n  \"network_setting\": " + modules +
           ",\n  \"last_channel\": " + std::to_string(s.last_channel);
}

/// The setting of `k` as the original's MultiResolutionNet takes it (setting_members), with the code in both forms,
/// the convention and the totals under it, as one JSON object.
inline std::string setting_json(const code& k, const convention& c = {}) {
    const network_setting s = to_setting(k);
    const cost total = count(s, c);
    return "{\n"
           "  \"code\": \"" + to_string(k) + "\",\n"
           "  \"embedding\": " + detail::int_list(k, code_size) + ",\n" +
           setting_members(s) + ",\n"
           "  \"convention\": {\"input_side\": " + std::to_string(c.input_side) + ", \"head\": \"" +
           std::string(head_name(c.head)) + "\", \"classes\": " + std::to_string(c.classes) + "},\n"
           "  \"flops\": " + std::to_string(total.flops) + ",\n"
           "  \"params\": " + std::to_string(total.params) + ",\n"
           "  \"flops_g\": " + fixed_string(total.flops, flops_g_decimals) + ",\n"
           "  \"params_m\": " + fixed_string(total.params, params_m_decimals) + "\n"
           "}\n";
}

}  // namespace ncp::arch

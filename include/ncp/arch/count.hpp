#pragma once
/// FLOPs and params: one visitor over the block graph that prices each leaf operation by the NAS-Bench-MR
/// convention (docs/algorithm.md section 3), which reproduces every record of the benchmark.

#include <cstddef>
#include <cstdint>
#include <string>

#include "ncp/arch/blocks.hpp"
#include "ncp/arch/graph.hpp"

namespace ncp::arch {

/// Multiply-accumulates and parameters of a network or any part of it.
struct cost {
    std::int64_t flops = 0;   ///< multiply-accumulates (thop's "FLOPs")
    std::int64_t params = 0;  ///< weights, biases and batch-norm affine parameters
    /// FLOPs in G (1e9), as NAS-Bench-MR stores them.
    constexpr double flops_g() const { return static_cast<double>(flops) / 1e9; }
    /// Params in M (1e6), as NAS-Bench-MR stores them.
    constexpr double params_m() const { return static_cast<double>(params) / 1e6; }
    constexpr cost& operator+=(const cost& o) {
        flops += o.flops;
        params += o.params;
        return *this;
    }
    friend constexpr bool operator==(const cost&, const cost&) = default;
};

/// Prices leaves as walk() meets them: convolutions and batch norms cost, everything else is free.
struct cost_counter {
    cost total;  ///< accumulated so far

    /// Output elements x (input channels x k x k, + 1 with a bias); weights (and biases) are parameters.
    template <int K, int S, bool B>
    constexpr void operator()(const conv2d<K, S, B>& c, int) {
        const std::int64_t per_output = std::int64_t{c.in.channels} * K * K + (B ? 1 : 0);
        total.flops += c.out().elements() * per_output;
        total.params += std::int64_t{c.out_channels} * per_output;
    }
    /// 2 x input elements; scale and shift are 2 parameters per channel (running statistics are not).
    constexpr void operator()(const batch_norm& b, int) {
        total.flops += 2 * b.in.elements();
        total.params += 2 * std::int64_t{b.in.channels};
    }
    constexpr void operator()(const relu&, int) {}
    constexpr void operator()(const add&, int) {}
    constexpr void operator()(const upsample_nearest&, int) {}
    constexpr void operator()(const resize_bilinear&, int) {}
    constexpr void operator()(const concat&, int) {}
    constexpr void operator()(const global_avg_pool&, int) {}
    /// A block costs what its leaves cost; walk() visits them.
    template <block Node>
    constexpr void operator()(const Node&, int) {}
};

/// Digits after the point of FLOPs in G and of params in M: exactly the integer counts.
inline constexpr int flops_g_decimals = 9;
inline constexpr int params_m_decimals = 6;
/// Most characters write_fixed() writes for any int64 (sign, 19 digits, point, leading zero).
inline constexpr std::size_t max_fixed_length = 22;

/// Writes `value / 10^decimals` with exactly `decimals` digits after the point, computed on integers so that it
/// is exact (1959638194 with 9 decimals is "1.959638194"); returns the end.
constexpr char* write_fixed(char* out, std::int64_t value, int decimals) {
    // Work on the negated magnitude: it holds every int64, including the most negative.
    if (value < 0) *out++ = '-';
    std::int64_t negative = value < 0 ? value : -value;
    char digits[20];
    int n = 0;
    while (negative != 0 || n <= decimals) {
        digits[n++] = static_cast<char>('0' - negative % 10);
        negative /= 10;
    }
    while (n > 0) {
        if (n == decimals) *out++ = '.';
        *out++ = digits[--n];
    }
    return out;
}

/// write_fixed() as a string.
inline std::string fixed_string(std::int64_t value, int decimals) {
    char buffer[max_fixed_length];
    return std::string(buffer, write_fixed(buffer, value, decimals));
}

/// The cost of `node` (a network, a block or a leaf).
template <class Node>
constexpr cost count(const Node& node) {
    cost_counter counter;
    walk(node, counter);
    return counter.total;
}

/// The cost of code `k` under convention `c` (the benchmark's by default).
constexpr cost count(const code& k, const convention& c = {}) { return count(build_network(k, c)); }

/// The cost of setting `s` under convention `c` (the benchmark's by default).
constexpr cost count(const network_setting& s, const convention& c = {}) { return count(build_network(s, c)); }

}  // namespace ncp::arch

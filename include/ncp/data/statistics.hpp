#pragma once
/// Rank statistics for judging a predictor: average ranks, Kendall's tau-b and Spearman's rho.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "ncp/config.hpp"

namespace ncp::data {

namespace detail {

/// Throws unless `x` and `y` have the same length and hold only finite values; `what` names the statistic.
inline void check_paired(std::span<const double> x, std::span<const double> y, const char* what) {
    if (x.size() != y.size())
        throw error(std::string(what) + ": samples of different lengths (" + std::to_string(x.size()) + " and " +
                    std::to_string(y.size()) + ")");
    for (std::size_t i = 0; i < x.size(); ++i)
        if (!std::isfinite(x[i]) || !std::isfinite(y[i]))
            throw error(std::string(what) + ": non-finite value at position " + std::to_string(i));
}

/// Number of pairs among runs of equal values in the sorted `v` (the ties term t(t-1)/2 summed over runs).
inline std::uint64_t tied_pairs(std::span<const double> v) {
    std::uint64_t pairs = 0;
    for (std::size_t i = 0; i < v.size();) {
        std::size_t j = i + 1;
        while (j < v.size() && v[j] == v[i]) ++j;
        const std::uint64_t t = j - i;
        pairs += t * (t - 1) / 2;
        i = j;
    }
    return pairs;
}

/// Stable merge sort of `v` that returns how many inversions (pairs out of order) it removed.
inline std::uint64_t sort_counting_inversions(std::vector<double>& v) {
    std::vector<double> buffer(v.size());
    std::uint64_t inversions = 0;
    for (std::size_t width = 1; width < v.size(); width *= 2) {
        for (std::size_t lo = 0; lo < v.size(); lo += 2 * width) {
            const std::size_t mid = std::min(lo + width, v.size());
            const std::size_t hi = std::min(lo + 2 * width, v.size());
            std::size_t a = lo, b = mid, out = lo;
            while (a < mid && b < hi) {
                if (v[b] < v[a]) {
                    inversions += mid - a;  // v[b] precedes every element left in the first run
                    buffer[out++] = v[b++];
                } else {
                    buffer[out++] = v[a++];
                }
            }
            while (a < mid) buffer[out++] = v[a++];
            while (b < hi) buffer[out++] = v[b++];
        }
        v.swap(buffer);
    }
    return inversions;
}

}  // namespace detail

/// Ranks 0..n-1 of `x` in ascending order; tied values share the mean of their ranks.
inline std::vector<double> average_ranks(std::span<const double> x) {
    std::vector<std::size_t> order(x.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return x[a] < x[b]; });
    std::vector<double> ranks(x.size());
    for (std::size_t i = 0; i < order.size();) {
        std::size_t j = i + 1;
        while (j < order.size() && x[order[j]] == x[order[i]]) ++j;
        const double shared = 0.5 * static_cast<double>(i + j - 1);
        for (std::size_t k = i; k < j; ++k) ranks[order[k]] = shared;
        i = j;
    }
    return ranks;
}

/// Kendall's tau-b of paired samples, in O(n log n) (Knight's algorithm): (concordant - discordant) pairs over
/// sqrt((pairs untied in x) x (pairs untied in y)). NaN when either sample is constant (or has under two values),
/// as scipy. Throws ncp::error for samples of different lengths or non-finite values.
inline double kendall_tau_b(std::span<const double> x, std::span<const double> y) {
    detail::check_paired(x, y, "Kendall tau");
    const std::size_t n = x.size();
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(),
              [&](std::size_t a, std::size_t b) { return x[a] < x[b] || (x[a] == x[b] && y[a] < y[b]); });
    std::vector<double> xs(n), ys(n);
    for (std::size_t i = 0; i < n; ++i) {
        xs[i] = x[order[i]];
        ys[i] = y[order[i]];
    }
    std::uint64_t joint_ties = 0;  // pairs tied in both x and y
    for (std::size_t i = 0; i < n;) {
        std::size_t j = i + 1;
        while (j < n && xs[j] == xs[i] && ys[j] == ys[i]) ++j;
        const std::uint64_t t = j - i;
        joint_ties += t * (t - 1) / 2;
        i = j;
    }
    const std::uint64_t x_ties = detail::tied_pairs(xs);
    // Sorting y (ordered by x, then y) counts the pairs whose y order disagrees with their x order: discordant.
    const std::uint64_t discordant = detail::sort_counting_inversions(ys);
    const std::uint64_t y_ties = detail::tied_pairs(ys);
    const std::uint64_t pairs = static_cast<std::uint64_t>(n) * (n - (n > 0 ? 1 : 0)) / 2;
    if (pairs == x_ties || pairs == y_ties) return std::numeric_limits<double>::quiet_NaN();
    // Pairs untied in both are concordant or discordant: pairs - x_ties - y_ties + joint_ties of them.
    const double both_untied = static_cast<double>(pairs - x_ties - y_ties + joint_ties);
    const double difference = both_untied - 2.0 * static_cast<double>(discordant);
    return difference / std::sqrt(static_cast<double>(pairs - x_ties) * static_cast<double>(pairs - y_ties));
}

/// Spearman's rho of paired samples: the Pearson correlation of their average ranks. NaN when either sample is
/// constant. Throws ncp::error for samples of different lengths or non-finite values.
inline double spearman_rho(std::span<const double> x, std::span<const double> y) {
    detail::check_paired(x, y, "Spearman rho");
    const auto rx = average_ranks(x);
    const auto ry = average_ranks(y);
    const double centre = 0.5 * static_cast<double>(x.size() > 0 ? x.size() - 1 : 0);  // mean of ranks 0..n-1
    double sxy = 0, sxx = 0, syy = 0;
    for (std::size_t i = 0; i < rx.size(); ++i) {
        const double dx = rx[i] - centre, dy = ry[i] - centre;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if (sxx == 0 || syy == 0) return std::numeric_limits<double>::quiet_NaN();
    return sxy / std::sqrt(sxx * syy);
}

}  // namespace ncp::data

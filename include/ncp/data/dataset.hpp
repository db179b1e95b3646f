#pragma once
/// Working with benchmark tables: column statistics, the train/validation split, metric groups, joined settings.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <map>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "ncp/config.hpp"
#include "ncp/data/format.hpp"

namespace ncp::data {

/// Mean and population standard deviation of each column of a table.
struct column_statistics {
    xt::xtensor<double, 1> mean;  ///< per column
    xt::xtensor<double, 1> std;   ///< per column, population (divides by the row count); 1 for a constant column
};

/// Statistics for z-scoring `table` (rows = records). A column whose values are all equal gets std 1 instead of 0,
/// so that z-scoring maps it to 0 rather than dividing by zero. Throws for a table without rows.
inline column_statistics column_stats(const xt::xtensor<double, 2>& table) {
    const std::size_t rows = table.shape(0);
    const std::size_t cols = table.shape(1);
    if (rows == 0) throw error("column statistics of a table without rows");
    column_statistics s{xt::zeros<double>({cols}), xt::zeros<double>({cols})};
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < cols; ++c) s.mean(c) += table(r, c);
    for (std::size_t c = 0; c < cols; ++c) s.mean(c) /= static_cast<double>(rows);
    std::vector<bool> constant(cols, true);
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < cols; ++c) {
            const double d = table(r, c) - s.mean(c);
            s.std(c) += d * d;
            constant[c] = constant[c] && table(r, c) == table(0, c);
        }
    for (std::size_t c = 0; c < cols; ++c)
        s.std(c) = constant[c] ? 1.0 : std::sqrt(s.std(c) / static_cast<double>(rows));
    return s;
}

/// Record indices of the two parts of a split.
struct split_indices {
    std::vector<std::size_t> train;       ///< in shuffled order
    std::vector<std::size_t> validation;  ///< in shuffled order
};

/// The seed of the original configs' split.
inline constexpr std::uint64_t default_split_seed = 233;

/// A uniform integer in [0, bound) from `gen` by rejection, identical on every standard library (unlike
/// std::uniform_int_distribution): std::mt19937_64's output sequence is fixed by the standard.
inline std::uint64_t uniform_below(std::mt19937_64& gen, std::uint64_t bound) {
    const std::uint64_t reject_below = (0 - bound) % bound;  // 2^64 mod bound: drop the uneven low values
    std::uint64_t r = gen();
    while (r < reject_below) r = gen();
    return r % bound;
}

/// Seeded random split of `records` indices: a Fisher-Yates shuffle (i from n-1 down to 1 swaps with
/// uniform_below(i + 1)) driven by std::mt19937_64(seed); the first ceil(validation_fraction x n) shuffled
/// indices are the validation part (sklearn's test_size rounding), the rest the training part. Throws unless
/// 0 < validation_fraction < 1 and both parts are non-empty.
inline split_indices train_validation_split(std::size_t records, std::uint64_t seed = default_split_seed,
                                            double validation_fraction = 0.2) {
    if (!(validation_fraction > 0.0 && validation_fraction < 1.0))
        throw error("validation fraction " + std::to_string(validation_fraction) + " is not in (0, 1)");
    const auto n_validation = static_cast<std::size_t>(std::ceil(validation_fraction * static_cast<double>(records)));
    if (n_validation == 0 || n_validation >= records)
        throw error("cannot split " + std::to_string(records) + " records with validation fraction " +
                    std::to_string(validation_fraction) + ": a part would be empty");
    std::vector<std::size_t> order(records);
    for (std::size_t i = 0; i < records; ++i) order[i] = i;
    std::mt19937_64 gen(seed);
    for (std::size_t i = records - 1; i > 0; --i) std::swap(order[i], order[uniform_below(gen, i + 1)]);
    const auto cut = order.begin() + static_cast<std::ptrdiff_t>(n_validation);
    return {std::vector<std::size_t>(cut, order.end()), std::vector<std::size_t>(order.begin(), cut)};
}

/// `count` distinct record indices of `records`, drawn with std::mt19937_64(seed) (a partial Fisher-Yates shuffle:
/// position i swaps with i + uniform_below(records - i), for i < count), in ascending order. Throws unless
/// 1 <= count <= records.
inline std::vector<std::size_t> random_subset(std::size_t records, std::size_t count, std::uint64_t seed) {
    if (count < 1 || count > records)
        throw error("cannot draw " + std::to_string(count) + " of " + std::to_string(records) + " records");
    std::vector<std::size_t> order(records);
    for (std::size_t i = 0; i < records; ++i) order[i] = i;
    std::mt19937_64 gen(seed);
    for (std::size_t i = 0; i < count; ++i) std::swap(order[i], order[i + uniform_below(gen, records - i)]);
    order.resize(count);
    std::sort(order.begin(), order.end());
    return order;
}

/// The records `rows` of `b` (in that order), with b's setting and metric names. Throws for a row out of range.
inline benchmark select_records(const benchmark& b, std::span<const std::size_t> rows) {
    benchmark out{b.setting, b.metric_names, xt::empty<double>({rows.size(), b.code_dim()}),
                  xt::empty<double>({rows.size(), b.metric_names.size()})};
    for (std::size_t i = 0; i < rows.size(); ++i) {
        if (rows[i] >= b.size())
            throw error("record " + std::to_string(rows[i]) + " of setting " + b.setting + " does not exist (" +
                        std::to_string(b.size()) + " records)");
        for (std::size_t c = 0; c < b.code_dim(); ++c) out.codes(i, c) = b.codes(rows[i], c);
        for (std::size_t c = 0; c < b.metric_names.size(); ++c) out.metrics(i, c) = b.metrics(rows[i], c);
    }
    return out;
}

/// Column indices of metric groups given by name, e.g. [[mIoU], [mAcc, aAcc], [flops, params]]. Throws naming an
/// unknown metric, an empty group, or a metric used twice.
inline std::vector<std::vector<std::size_t>> metric_groups(const benchmark& b,
                                                           const std::vector<std::vector<std::string>>& groups) {
    std::vector<std::vector<std::size_t>> out;
    std::vector<bool> used(b.metric_names.size(), false);
    for (std::size_t g = 0; g < groups.size(); ++g) {
        if (groups[g].empty())
            throw error("metric group " + std::to_string(g) + " of setting " + b.setting + " is empty");
        auto& columns = out.emplace_back();
        for (const auto& name : groups[g]) {
            const std::size_t c = b.metric_index(name);
            if (used[c]) throw error("metric '" + name + "' of setting " + b.setting + " is in more than one group");
            used[c] = true;
            columns.push_back(c);
        }
    }
    if (out.empty()) throw error("no metric groups given for setting " + b.setting);
    return out;
}

/// The metric groups the original configs train on for `setting` (docs/algorithm.md section 1); NAS-Bench-201 gets
/// [[Acc], [Flops, Params]]. Throws for a setting without known groups.
inline std::vector<std::vector<std::string>> default_metric_groups(const std::string& setting) {
    if (setting == "seg" || setting == "seg-4x") return {{"mIoU"}, {"mAcc", "aAcc"}, {"flops", "params"}};
    if (setting.starts_with("cls-") || setting.starts_with("video")) return {{"top1"}, {"top5"}, {"flops", "params"}};
    if (setting == "3ddet") return {{"moderate"}, {"flops", "params"}};
    if (setting == "nas-bench-201") return {{"Acc"}, {"Flops", "Params"}};
    throw error("no default metric groups for setting '" + setting + "'; name the groups explicitly");
}

/// The metric columns of `groups` side by side, in group order (records x total group size).
inline xt::xtensor<double, 2> select_metrics(const benchmark& b, const std::vector<std::vector<std::size_t>>& groups) {
    std::vector<std::size_t> columns;
    for (const auto& g : groups) columns.insert(columns.end(), g.begin(), g.end());
    xt::xtensor<double, 2> out = xt::empty<double>({b.size(), columns.size()});
    for (std::size_t r = 0; r < b.size(); ++r)
        for (std::size_t k = 0; k < columns.size(); ++k) out(r, k) = b.metrics(r, columns.at(k));
    return out;
}

/// Several settings of the same architectures as one table: the first part's codes and order, the metrics of
/// every part side by side, named "<setting>/<metric>", setting names joined by '+'. Rows are matched by code: row
/// by row when the codes agree in order, otherwise by looking each code up. Throws when the parts do not hold
/// exactly the same architectures.
inline benchmark join_settings(std::span<const benchmark> parts) {
    if (parts.empty()) throw error("join of no settings");
    const benchmark& first = parts[0];
    const std::size_t n = first.size();
    const std::size_t dim = first.code_dim();
    benchmark out{first.setting, {}, first.codes, {}};
    std::size_t total = 0;
    for (std::size_t p = 0; p < parts.size(); ++p) {
        const benchmark& part = parts[p];
        if (p > 0) out.setting += "+" + part.setting;
        if (part.size() != n || part.code_dim() != dim)
            throw error("cannot join setting " + part.setting + " (" + std::to_string(part.size()) + " records of " +
                        std::to_string(part.code_dim()) + " dims) with " + first.setting + " (" + std::to_string(n) +
                        " of " + std::to_string(dim) + ")");
        for (const auto& name : part.metric_names) out.metric_names.push_back(part.setting + "/" + name);
        total += part.metric_names.size();
    }
    out.metrics = xt::empty<double>({n, total});

    auto code_of = [dim](const benchmark& b, std::size_t r) {
        return std::vector<double>(b.codes.data() + r * dim, b.codes.data() + (r + 1) * dim);
    };
    auto same_code = [dim](const benchmark& a, std::size_t ra, const benchmark& b, std::size_t rb) {
        return std::equal(a.codes.data() + ra * dim, a.codes.data() + (ra + 1) * dim, b.codes.data() + rb * dim);
    };
    std::size_t offset = 0;
    for (const benchmark& part : parts) {
        std::vector<std::size_t> row(n);  // row of `part` holding the architecture of row r of `first`
        bool in_order = true;
        for (std::size_t r = 0; r < n && in_order; ++r) in_order = same_code(part, r, first, r);
        if (in_order) {
            for (std::size_t r = 0; r < n; ++r) row[r] = r;
        } else {
            // Codes are unique in each part, so a match for every row of `first` is a one-to-one pairing.
            std::map<std::vector<double>, std::size_t> lookup;
            for (std::size_t r = 0; r < n; ++r)
                if (!lookup.emplace(code_of(part, r), r).second)
                    throw error("cannot join setting " + part.setting + ": its record " + std::to_string(r) +
                                " repeats an earlier code, so records cannot be matched by code");
            for (std::size_t r = 0; r < n; ++r) {
                const auto found = lookup.find(code_of(first, r));
                if (found == lookup.end())
                    throw error("cannot join setting " + part.setting +
                                ": it has no unmatched record with the code of record " + std::to_string(r) + " of " +
                                first.setting);
                row[r] = found->second;
                lookup.erase(found);  // a repeated code in `first` then finds nothing
            }
        }
        const std::size_t m = part.metric_names.size();
        for (std::size_t r = 0; r < n; ++r)
            for (std::size_t k = 0; k < m; ++k) out.metrics(r, offset + k) = part.metrics(row[r], k);
        offset += m;
    }
    return out;
}

}  // namespace ncp::data

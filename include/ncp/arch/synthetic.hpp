#pragma once
/// A synthetic benchmark in NAS-Bench-MR's seg layout, made by ncp itself from a seed: random valid codes, their
/// exact FLOPs and params, and a documented accuracy landscape whose best code is known exactly (README section
/// "data"). It stands in for NAS-Bench-MR where the benchmark is absent, and gives search a ground truth.
///
/// The true (noise-free) mIoU of a code c is 80 exp(-P(c) / 80), where P(c) >= 0 is a sum of weighted squares of
/// the code's deviation from the landscape's best code c* (synthetic_penalty). Every square vanishes at c*, and the
/// per-dimension squares are positive wherever c differs from c*, so c* is the unique maximum and scores exactly 80.

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "ncp/arch/code.hpp"
#include "ncp/arch/count.hpp"
#include "ncp/config.hpp"
#include "ncp/data/dataset.hpp"
#include "ncp/data/format.hpp"

namespace ncp::arch {

/// The true mIoU of a landscape's best code; every other code scores strictly less.
inline constexpr double synthetic_max_score = 80.0;
/// Setting name of synthetic benchmarks.
inline constexpr std::string_view synthetic_setting = "synthetic";
/// Most records make_synthetic draws: 1e6 records already take 256 MB.
inline constexpr std::size_t synthetic_max_records = 1'000'000;
/// Largest noise make_synthetic takes, in mIoU points: ten times the whole range of mIoU.
inline constexpr double synthetic_max_noise = 1000.0;

/// What make_synthetic draws.
struct synthetic_options {
    std::size_t records = 2507;  ///< number of records, 1..synthetic_max_records (NAS-Bench-MR has 2507)
    std::uint64_t seed = 233;    ///< seeds the landscape, then the records' codes and noise
    double noise = 0.5;          ///< standard deviation of an observed mIoU around the true one (mAcc: the same,
                                 ///< aAcc: a quarter); 0..synthetic_max_noise
};

/// Throws ncp::error naming the option that is out of range.
inline void validate(const synthetic_options& o) {
    if (o.records < 1 || o.records > synthetic_max_records)
        throw error("synthetic records = " + std::to_string(o.records) + ": expected 1.." +
                    std::to_string(synthetic_max_records));
    // mIoU is in points (0..100): a larger sigma means nothing, and one near the double's range overflows.
    if (!(o.noise >= 0.0 && o.noise <= synthetic_max_noise))
        throw error("synthetic noise = " + number_text(o.noise) + ": expected a number from 0 to " +
                    std::to_string(static_cast<int>(synthetic_max_noise)));
}

/// Two code dimensions.
using dimension_pair = std::pair<std::size_t, std::size_t>;
/// Dimensions whose deviations should agree: the two stems, and the channels of neighbouring branches of a stage.
inline constexpr std::array<dimension_pair, 7> synthetic_balance_pairs = {
    {{0, 1}, {8, 9}, {14, 15}, {15, 16}, {22, 23}, {23, 24}, {24, 25}}};
/// (blocks, channels) of each branch: a branch wider than its optimum does best shallower, and the reverse.
inline constexpr std::array<dimension_pair, 10> synthetic_width_depth_pairs = {
    {{3, 4}, {6, 8}, {7, 9}, {11, 14}, {12, 15}, {13, 16}, {18, 22}, {19, 23}, {20, 24}, {21, 25}}};

/// Where value `v` of dimension `i` lies in the dimension's bounds: (v - lower) / (upper - lower), 0..1.
constexpr double bound_position(std::size_t i, int v) {
    return static_cast<double>(v - lower_bound(i)) / (upper_bound(i) - lower_bound(i));
}

/// The penalty P(c) of a code in its four parts, each a sum of weighted squares and so >= 0. With
/// d_i = bound_position(i, c_i) - bound_position(i, c*_i) and t = ln(FLOPs in G):
struct synthetic_penalty {
    double dimensions = 0;   ///< sum over all 27 dimensions of a_i d_i^2
    double balance = 0;      ///< sum over synthetic_balance_pairs of b_ij (d_i - d_j)^2
    double width_depth = 0;  ///< sum over synthetic_width_depth_pairs of w_ij (d_i + d_j)^2
    double capacity = 0;     ///< 3 max(0, t* - t)^2 + 0.25 max(0, t - t*)^2: too small a network costs more than
                             ///< too large a one
    /// P(c), the sum of the four parts.
    double total() const { return dimensions + balance + width_depth + capacity; }
};

namespace detail {

/// A uniform double in [0, 1) from the top 53 bits of one draw (the same on every standard library).
inline double uniform_unit(std::mt19937_64& gen) { return static_cast<double>(gen() >> 11) * 0x1.0p-53; }

/// A standard normal deviate by Box-Muller from two draws (the cosine branch only, so each call uses exactly two).
inline double standard_normal(std::mt19937_64& gen) {
    const double u1 = 1.0 - uniform_unit(gen);  // (0, 1]: its logarithm is finite
    const double u2 = uniform_unit(gen);
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

/// A code uniform over the valid grid: channels 8..128 in steps of 8, counts 1..4; one draw per dimension.
inline code uniform_code(std::mt19937_64& gen) {
    code c{};
    for (std::size_t i = 0; i < code_size; ++i)
        c[i] = kind_of(i) == dimension_kind::channels ? 8 * static_cast<int>(1 + data::uniform_below(gen, 16))
                                                      : static_cast<int>(1 + data::uniform_below(gen, 4));
    return c;
}

}  // namespace detail

inline data::benchmark make_synthetic(const synthetic_options& options);

/// The noise-free accuracy of one seed. Its parameters, drawn in this order from std::mt19937_64(seed):
/// - the best code c*: channels 56..128 in steps of 8, counts 2..4 (uniform), dimension 0 to 26;
/// - a_i = 0.125 x 8^u (log-uniform in [0.125, 1]), dimension 0 to 26;
/// - b_ij, then w_ij: 0.125 + 0.25 u (uniform in [0.125, 0.375]), in the order of the pair lists;
/// where u is detail::uniform_unit; t* is the log of c*'s FLOPs in G (benchmark convention).
class synthetic_landscape {
public:
    /// The landscape of `seed`.
    explicit synthetic_landscape(std::uint64_t seed) {
        std::mt19937_64 gen(seed);
        draw(gen);
    }
    /// The landscape drawn from `gen` (make_synthetic goes on drawing records from the same engine).
    explicit synthetic_landscape(std::mt19937_64& gen) { draw(gen); }

    /// The unique code of the highest true mIoU (synthetic_max_score).
    const code& best() const { return m_best; }
    /// ln of the best code's FLOPs in G, t*.
    double best_log_flops() const { return m_best_log_flops; }
    /// a_i, the weight of dimension i's squared deviation.
    const std::array<double, code_size>& dimension_weights() const { return m_dimension_weights; }
    /// b_ij, one per synthetic_balance_pairs entry.
    const std::array<double, synthetic_balance_pairs.size()>& balance_weights() const { return m_balance_weights; }
    /// w_ij, one per synthetic_width_depth_pairs entry.
    const std::array<double, synthetic_width_depth_pairs.size()>& width_depth_weights() const {
        return m_width_depth_weights;
    }

    /// P(c) in its parts; throws ncp::error for an invalid code.
    synthetic_penalty penalty(const code& c) const {
        validate(c);
        return penalty(c, count(c).flops_g());
    }
    /// The true mIoU of `c`: 80 exp(-P(c) / 80), in (0, 80]; throws ncp::error for an invalid code.
    double score(const code& c) const { return score_of(penalty(c).total()); }
    /// The true mIoU of a code of penalty `p` (strictly decreasing in p; about 80 - p while p is small).
    static double score_of(double p) { return synthetic_max_score * std::exp(-p / synthetic_max_score); }

private:
    friend data::benchmark make_synthetic(const synthetic_options& options);

    /// Draws the parameters from `gen`, in the documented order.
    void draw(std::mt19937_64& gen) {
        for (std::size_t i = 0; i < code_size; ++i)
            m_best[i] = kind_of(i) == dimension_kind::channels ? 8 * static_cast<int>(7 + data::uniform_below(gen, 10))
                                                               : static_cast<int>(2 + data::uniform_below(gen, 3));
        for (double& a : m_dimension_weights) a = 0.125 * std::pow(8.0, detail::uniform_unit(gen));
        for (double& b : m_balance_weights) b = 0.125 + 0.25 * detail::uniform_unit(gen);
        for (double& w : m_width_depth_weights) w = 0.125 + 0.25 * detail::uniform_unit(gen);
        m_best_log_flops = std::log(count(m_best).flops_g());
    }

    /// P(c) of a valid code whose FLOPs in G are `flops_g`.
    synthetic_penalty penalty(const code& c, double flops_g) const {
        std::array<double, code_size> d{};
        for (std::size_t i = 0; i < code_size; ++i) d[i] = bound_position(i, c[i]) - bound_position(i, m_best[i]);
        synthetic_penalty p;
        for (std::size_t i = 0; i < code_size; ++i) p.dimensions += m_dimension_weights[i] * d[i] * d[i];
        for (std::size_t k = 0; k < synthetic_balance_pairs.size(); ++k) {
            const double e = d[synthetic_balance_pairs[k].first] - d[synthetic_balance_pairs[k].second];
            p.balance += m_balance_weights[k] * e * e;
        }
        for (std::size_t k = 0; k < synthetic_width_depth_pairs.size(); ++k) {
            const double e = d[synthetic_width_depth_pairs[k].first] + d[synthetic_width_depth_pairs[k].second];
            p.width_depth += m_width_depth_weights[k] * e * e;
        }
        const double t = std::log(flops_g) - m_best_log_flops;
        p.capacity = t < 0 ? 3.0 * t * t : 0.25 * t * t;
        return p;
    }

    code m_best{};                                                                   ///< c*
    double m_best_log_flops = 0;                                                     ///< t*
    std::array<double, code_size> m_dimension_weights{};                             ///< a_i
    std::array<double, synthetic_balance_pairs.size()> m_balance_weights{};          ///< b_ij
    std::array<double, synthetic_width_depth_pairs.size()> m_width_depth_weights{};  ///< w_ij
};

/// The true mIoU of `c` on the landscape of `options.seed`.
inline double synthetic_score(const code& c, const synthetic_options& options = {}) {
    return synthetic_landscape(options.seed).score(c);
}

/// The unique best code of the landscape of `options.seed`.
inline code synthetic_best_code(const synthetic_options& options = {}) {
    return synthetic_landscape(options.seed).best();
}

/// The true mIoU of the best code: synthetic_max_score, whatever the seed.
inline double synthetic_best_score(const synthetic_options& options = {}) {
    const synthetic_landscape landscape(options.seed);
    return landscape.score(landscape.best());
}

/// Metric columns of a synthetic benchmark, as in NAS-Bench-MR's seg settings.
inline const std::array<std::string, 5>& synthetic_metric_names() {
    static const std::array<std::string, 5> names = {"mIoU", "mAcc", "aAcc", "flops", "params"};
    return names;
}

/// A synthetic benchmark (setting "synthetic", columns synthetic_metric_names()). After the landscape, the same
/// engine draws each record in turn: a code uniform over the valid grid (redrawn while it is the best code or an
/// earlier record's), then three standard normals z1..z3. With s the code's true mIoU and sigma options.noise:
/// mIoU = s + sigma z1, mAcc = 13.6 + 0.93 s + sigma z2, aAcc = 85.3 + 0.14 s + sigma/4 z3 (the mAcc and aAcc
/// lines fit NAS-Bench-MR seg), flops and params exact (benchmark convention). A benchmark of n records is the
/// first n records of any larger one of the same seed and noise. Throws ncp::error for invalid options.
inline data::benchmark make_synthetic(const synthetic_options& options = {}) {
    validate(options);
    std::mt19937_64 gen(options.seed);
    const synthetic_landscape landscape(gen);
    const auto& names = synthetic_metric_names();
    data::benchmark b{std::string(synthetic_setting), {names.begin(), names.end()},
                      xt::empty<double>({options.records, code_size}),
                      xt::empty<double>({options.records, names.size()})};
    std::set<code> drawn = {landscape.best()};
    for (std::size_t r = 0; r < options.records; ++r) {
        code c = detail::uniform_code(gen);
        while (!drawn.insert(c).second) c = detail::uniform_code(gen);
        const cost k = count(c);
        const double s = synthetic_landscape::score_of(landscape.penalty(c, k.flops_g()).total());
        const double z1 = detail::standard_normal(gen);
        const double z2 = detail::standard_normal(gen);
        const double z3 = detail::standard_normal(gen);
        for (std::size_t i = 0; i < code_size; ++i) b.codes(r, i) = c[i];
        b.metrics(r, 0) = s + options.noise * z1;
        b.metrics(r, 1) = 13.6 + 0.93 * s + options.noise * z2;
        b.metrics(r, 2) = 85.3 + 0.14 * s + options.noise / 4 * z3;
        b.metrics(r, 3) = k.flops_g();
        b.metrics(r, 4) = k.params_m();
    }
    return b;
}

}  // namespace ncp::arch

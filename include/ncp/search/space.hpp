#pragma once
/// The two search spaces NCP edits codes in, behind one interface: bounds in original units, rounding a continuous
/// code to a valid one, the code as numbers and as text, exact costs, random and default start codes.
///
/// - `mr_space`: NAS-Bench-MR's 27-integer codes (docs/algorithm.md sections 2 and 6). Bounds [min / 2, max / 2 x
///   alpha] with min = 16 (channels) / 2 (counts) and max = 64 / 2: channels [8, 128], counts [1, 4] for alpha = 4;
///   rounding by docs/algorithm.md section 6 step 5; FLOPs/params counted exactly under a convention.
/// - `nb201_space`: NAS-Bench-201's 30-value one-hot cells; bounds [0, 1]; rounding is the arg-max op per edge;
///   FLOPs/params are the benchmark file's (every cell is in it), when a file is given.

#include <array>
#include <cmath>
#include <cstdlib>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ncp/arch/code.hpp"
#include "ncp/arch/count.hpp"
#include "ncp/arch/model_code.hpp"
#include "ncp/arch/nb201.hpp"
#include "ncp/data/dataset.hpp"
#include "ncp/data/format.hpp"

namespace ncp::search {

/// Hash of a code held in a std::array of ints (both spaces' code types), for memoising by code.
struct code_hash {
    template <std::size_t N>
    std::size_t operator()(const std::array<int, N>& c) const noexcept {
        std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a over the values
        for (int v : c) h = (h ^ static_cast<std::uint64_t>(static_cast<std::uint32_t>(v))) * 0x100000001b3ULL;
        return static_cast<std::size_t>(h);
    }
};

/// The FLOPs/params conventions a search may count in, by their config names (editing.convention): "benchmark"
/// (NAS-Bench-MR's: input 128, classification head, 50 classes) or "segmentation" (the original NCP script's log:
/// input 128, segmentation head, 19 classes).
inline arch::convention parse_convention(std::string_view name) {
    if (name == "benchmark") return {};
    if (name == "segmentation") return {128, arch::head_kind::segmentation, 19};
    throw error("editing.convention: unknown convention '" + std::string(name) + "' (benchmark or segmentation)");
}

/// NAS-Bench-MR codes.
class mr_space {
public:
    using code_type = arch::code;
    /// Values per code.
    static constexpr std::size_t dim = arch::code_size;

    /// Upper bounds max / 2 x `max_value_alpha` (1..4); costs counted under `convention`.
    explicit mr_space(double max_value_alpha = 4, arch::convention convention = {})
        : m_alpha(max_value_alpha), m_convention(convention) {
        if (!(max_value_alpha >= 1 && max_value_alpha <= 4))
            throw error("editing.max_value_alpha = " + std::to_string(max_value_alpha) +
                        ": expected 1..4 (the bounds must stay in the space of valid codes)");
        arch::validate(convention);
    }

    /// "NAS-Bench-MR".
    static std::string name() { return "NAS-Bench-MR"; }
    /// Lower bound of dimension i in original units: min / 2 (8 for channels, 1 for counts).
    double lower(std::size_t i) const { return arch::lower_bound(i); }
    /// Upper bound of dimension i: max / 2 x alpha (128 for channels, 4 for counts when alpha = 4).
    double upper(std::size_t i) const {
        return (arch::kind_of(i) == arch::dimension_kind::channels ? 32.0 : 1.0) * m_alpha;
    }
    /// docs/algorithm.md section 6 step 5: channels max(8, floor((v + 4) / 8) x 8), counts max(1, floor(v + 0.5)).
    code_type round(std::span<const double> x) const { return arch::round_code(x); }
    /// The code as numbers in original units.
    std::array<double, dim> values(const code_type& c) const {
        std::array<double, dim> v{};
        for (std::size_t i = 0; i < dim; ++i) v[i] = c[i];
        return v;
    }
    /// The code held exactly by `values` (a benchmark record); throws for anything else.
    code_type exact(std::span<const double> values) const { return arch::exact_code(values); }
    /// The string form.
    std::string to_string(const code_type& c) const { return arch::to_string(c); }
    /// A code given as text (string form or 27 integers), within the search bounds; errors name the text.
    code_type parse(std::string_view text) const {
        const code_type c = arch::parse_code(text);
        check_bounds(c, text);
        return c;
    }
    /// Throws unless every value lies within the search bounds (naming `what`, the dimension and the bound).
    void check_bounds(const code_type& c, std::string_view what) const {
        for (std::size_t i = 0; i < dim; ++i)
            if (c[i] < lower(i) || c[i] > upper(i))
                throw error("start code " + arch::detail::quoted(what) + ": code[" + std::to_string(i) + "] = " +
                            std::to_string(c[i]) + " is outside the search bounds [" + fmt(lower(i)) + ", " +
                            fmt(upper(i)) + "] (editing.max_value_alpha = " + fmt(m_alpha) + ")");
    }
    /// The default start (docs/algorithm.md section 6): all channels 64, all counts 2.
    code_type default_start() const {
        code_type c{};
        for (std::size_t i = 0; i < dim; ++i) c[i] = arch::kind_of(i) == arch::dimension_kind::channels ? 64 : 2;
        return c;
    }
    /// A code uniform over the valid codes within the bounds (one draw per dimension).
    code_type random_code(std::mt19937_64& gen) const {
        code_type c{};
        for (std::size_t i = 0; i < dim; ++i) {
            const int step = arch::lower_bound(i);
            const auto values = static_cast<std::uint64_t>(std::floor(upper(i) / step));
            c[i] = step * static_cast<int>(1 + data::uniform_below(gen, values));
        }
        return c;
    }
    /// The cheapest code: every dimension at its lower bound.
    code_type minimal() const {
        code_type c{};
        for (std::size_t i = 0; i < dim; ++i) c[i] = arch::lower_bound(i);
        return c;
    }
    /// The codes one grid step smaller in one dimension (channels - 8, counts - 1), dimension order. Each costs
    /// strictly fewer FLOPs and params: every convolution and batch norm grows with every channel and count.
    std::vector<code_type> smaller_neighbours(const code_type& c) const {
        std::vector<code_type> out;
        for (std::size_t i = 0; i < dim; ++i) {
            if (c[i] <= arch::lower_bound(i)) continue;
            code_type n = c;
            n[i] -= arch::lower_bound(i);
            out.push_back(n);
        }
        return out;
    }
    /// The valid codes one grid step away (channels +-8, counts +-1, within the bounds), dimension order.
    std::vector<code_type> neighbours(const code_type& c) const {
        std::vector<code_type> out;
        for (std::size_t i = 0; i < dim; ++i)
            for (const int step : {-arch::lower_bound(i), arch::lower_bound(i)}) {
                code_type n = c;
                n[i] += step;
                if (n[i] >= lower(i) && n[i] <= upper(i)) out.push_back(n);
            }
        return out;
    }
    /// Grid steps between two codes: sum over dimensions of |a_i - b_i| / step_i.
    static int distance(const code_type& a, const code_type& b) {
        int d = 0;
        for (std::size_t i = 0; i < dim; ++i) d += std::abs(a[i] - b[i]) / arch::lower_bound(i);
        return d;
    }
    /// Exact FLOPs and params under the convention.
    std::optional<arch::cost> cost(const code_type& c) const { return arch::count(c, m_convention); }
    /// Where costs come from, for outputs: "counted (input 128, head cls, classes 50)".
    std::string cost_source() const { return "counted (" + arch::to_string(m_convention) + ")"; }
    /// The counting convention.
    const arch::convention& convention() const { return m_convention; }
    /// max_value_alpha.
    double max_value_alpha() const { return m_alpha; }

private:
    static std::string fmt(double v) {
        std::string s = std::to_string(v);
        s.erase(s.find_last_not_of('0') + 1);
        if (s.back() == '.') s.pop_back();
        return s;
    }

    double m_alpha;
    arch::convention m_convention;
};

/// NAS-Bench-201 cells as 30 one-hot values.
class nb201_space {
public:
    using code_type = arch::nb201_cell;
    /// Values per code.
    static constexpr std::size_t dim = arch::nb201_code_size;

    /// Costs unknown.
    nb201_space() = default;
    /// Costs (the `Flops` and `Params` columns, in M) looked up in `table`, a converted nas-bench-201 file.
    explicit nb201_space(const data::benchmark& table) {
        const std::size_t flops = table.metric_index("Flops"), params = table.metric_index("Params");
        m_costs.reserve(table.size());
        for (std::size_t r = 0; r < table.size(); ++r) {
            const auto cell = arch::nb201_from_one_hot(std::span<const double>(&table.codes(r, 0), table.code_dim()));
            m_costs[cell] = {std::llround(table.metrics(r, flops) * 1e6), std::llround(table.metrics(r, params) * 1e6)};
        }
    }

    /// "NAS-Bench-201".
    static std::string name() { return "NAS-Bench-201"; }
    /// 0: a one-hot value.
    double lower(std::size_t) const { return 0; }
    /// 1.
    double upper(std::size_t) const { return 1; }
    /// The arg-max op of each edge (the first on ties).
    code_type round(std::span<const double> x) const { return arch::nb201_project(x); }
    /// The one-hot values.
    std::array<double, dim> values(const code_type& c) const { return arch::nb201_one_hot(c); }
    /// The cell held exactly by one-hot `values`; throws for anything else.
    code_type exact(std::span<const double> values) const { return arch::nb201_from_one_hot(values); }
    /// The benchmark's string form `|op~0|+|op~0|op~1|+...`.
    std::string to_string(const code_type& c) const { return arch::to_string(c); }
    /// A cell given as its string form or 30 comma-separated one-hot values.
    code_type parse(std::string_view text) const {
        const auto v = arch::parse_model_code(text, static_cast<index_t>(dim));
        return arch::nb201_from_one_hot(v);
    }
    /// Every valid cell lies within [0, 1].
    void check_bounds(const code_type&, std::string_view) const {}
    /// The largest cell: nor_conv_3x3 on every edge.
    code_type default_start() const { return {4, 4, 4, 4, 4, 4}; }
    /// A cell with an op drawn uniformly per edge.
    code_type random_code(std::mt19937_64& gen) const {
        code_type c{};
        for (int& op : c) op = static_cast<int>(data::uniform_below(gen, arch::nb201_op_count));
        return c;
    }
    /// The cells one edge away: each edge with each other op, edge order.
    std::vector<code_type> neighbours(const code_type& c) const {
        std::vector<code_type> out;
        for (std::size_t e = 0; e < c.size(); ++e)
            for (int op = 0; op < static_cast<int>(arch::nb201_op_count); ++op)
                if (op != c[e]) {
                    code_type n = c;
                    n[e] = op;
                    out.push_back(n);
                }
        return out;
    }
    /// Edges on which two cells differ.
    static int distance(const code_type& a, const code_type& b) {
        int d = 0;
        for (std::size_t e = 0; e < a.size(); ++e) d += a[e] != b[e];
        return d;
    }
    /// The benchmark file's FLOPs and params (multiply-accumulates and parameters), when one was given.
    std::optional<arch::cost> cost(const code_type& c) const {
        const auto found = m_costs.find(c);
        if (found == m_costs.end()) return std::nullopt;
        return found->second;
    }
    /// Where costs come from.
    std::string cost_source() const {
        return m_costs.empty() ? "none (no nas-bench-201 file)" : "the nas-bench-201 benchmark file";
    }

private:
    std::unordered_map<code_type, arch::cost, code_hash> m_costs;
};

}  // namespace ncp::search

#pragma once
/// The NAS-Bench-MR architecture code: 27 integers, its string form (31 numbers), the network setting it stands
/// for, validation, the search bounds and the rounding rule. Everything here works in constant expressions.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "ncp/arch/static_vector.hpp"
#include "ncp/config.hpp"

namespace ncp::arch {

/// Number of integers in a code.
inline constexpr std::size_t code_size = 27;
/// Number of integers in the string form (each stage repeats its branch count).
inline constexpr std::size_t code_string_size = 31;
/// The most branches (and stages) a network has.
inline constexpr int max_branches = 4;
/// The most modules a code can describe (4 stages of at most 4 modules).
inline constexpr int max_modules = 16;

/// A code in original units: stems, per stage module count / blocks per branch / channels per branch, last channel.
using code = std::array<int, code_size>;

/// What one dimension of a code holds.
enum class dimension_kind { channels, count };

/// The kind of dimension `i` (< code_size): counts are 2, 3, 5-7, 10-13, 17-21, the rest are channels.
constexpr dimension_kind kind_of(std::size_t i) {
    constexpr std::array<bool, code_size> is_count = {0, 0, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1,
                                                      0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0};
    return is_count[i] ? dimension_kind::count : dimension_kind::channels;
}

/// Smallest valid value of dimension `i`, also its search bound and rounding step: 8 for channels, 1 for counts.
constexpr int lower_bound(std::size_t i) { return kind_of(i) == dimension_kind::channels ? 8 : 1; }
/// Largest valid value of dimension `i`, also its search bound: 128 for channels, 4 for counts.
constexpr int upper_bound(std::size_t i) { return kind_of(i) == dimension_kind::channels ? 128 : 4; }

namespace detail {

/// "code[i] = v" followed by the rule it breaks.
inline std::string dimension_message(std::size_t i, long long value) {
    return "code[" + std::to_string(i) + "] = " + std::to_string(value) +
           (kind_of(i) == dimension_kind::channels ? ": channel dimensions take multiples of 8 in 8..128"
                                                   : ": count dimensions take 1..4");
}

constexpr bool valid_value(std::size_t i, long long value) {
    return value >= lower_bound(i) && value <= upper_bound(i) &&
           (kind_of(i) == dimension_kind::count || value % 8 == 0);
}

/// The input text for an error message: at most 64 characters, unprintable ones as '?'.
inline std::string quoted(std::string_view text) {
    std::string q = "\"";
    for (std::size_t i = 0; i < text.size() && i < 64; ++i) q += text[i] >= 32 && text[i] < 127 ? text[i] : '?';
    return q + (text.size() > 64 ? "...\"" : "\"");
}

constexpr bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

constexpr std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

/// Largest number accepted before the range check, so that parsing never overflows.
inline constexpr long long max_parsed = 999'999'999;

/// A number parsed from text, or why the text is none.
struct parsed_number {
    long long value = 0;
    const char* error = nullptr;  ///< why the text is not a number, or null
};

/// Digits only, after one '-' when `allow_sign`; at most max_parsed in magnitude.
constexpr parsed_number parse_number(std::string_view s, bool allow_sign) {
    parsed_number r;
    bool negative = false;
    if (allow_sign && !s.empty() && s.front() == '-') {
        negative = true;
        s.remove_prefix(1);
    }
    if (s.empty()) {
        r.error = "is empty";
        return r;
    }
    for (char c : s) {
        if (c < '0' || c > '9') {
            r.error = "is not a non-negative integer";
            return r;
        }
        r.value = r.value * 10 + (c - '0');
        if (r.value > max_parsed) {
            r.error = "is too large";
            return r;
        }
    }
    if (negative) r.value = -r.value;
    return r;
}

}  // namespace detail

/// Throws ncp::error naming the first dimension out of range (its index and value).
constexpr void validate(const code& c) {
    for (std::size_t i = 0; i < code_size; ++i)
        if (!detail::valid_value(i, c[i])) throw error("invalid code: " + detail::dimension_message(i, c[i]));
}

/// Clamps `value` into dimension `i`'s bounds, then rounds it: channels to max(8, floor((v + 4) / 8) * 8), counts to
/// max(1, floor(v + 0.5)) (docs/algorithm.md section 6 step 5). The clamp changes nothing on the search's clamped
/// trajectory and makes every result a valid code. Throws ncp::error on NaN.
constexpr int round_dimension(std::size_t i, double value) {
    if (!(value == value)) throw error("cannot round code[" + std::to_string(i) + "]: it is NaN");
    const double lo = lower_bound(i);
    const double hi = upper_bound(i);
    const double v = value < lo ? lo : value > hi ? hi : value;
    // v >= 1, so truncation is floor.
    const int rounded = kind_of(i) == dimension_kind::channels ? static_cast<int>((v + 4.0) / 8.0) * 8
                                                               : static_cast<int>(v + 0.5);
    return rounded < lower_bound(i) ? lower_bound(i) : rounded;
}

/// Rounds a continuous code of 27 values dimension by dimension (see round_dimension).
constexpr code round_code(std::span<const double> values) {
    if (values.size() != code_size)
        throw error("cannot round a code of " + std::to_string(values.size()) + " values (expected 27)");
    code c{};
    for (std::size_t i = 0; i < code_size; ++i) c[i] = round_dimension(i, values[i]);
    return c;
}

/// The code held by 27 values that must be whole numbers (e.g. a row of a converted dataset); validated.
constexpr code exact_code(std::span<const double> values) {
    if (values.size() != code_size)
        throw error("a NAS-Bench-MR code has 27 values, this one " + std::to_string(values.size()));
    code c{};
    for (std::size_t i = 0; i < code_size; ++i) {
        const double v = values[i];
        const bool in_range = v >= -detail::max_parsed && v <= detail::max_parsed;  // false for NaN
        if (!in_range || static_cast<double>(static_cast<long long>(v)) != v)
            throw error("invalid code: code[" + std::to_string(i) + "] = " + std::to_string(v) +
                        " is not an integer");
        c[i] = static_cast<int>(v);
    }
    validate(c);
    return c;
}

/// One module of a network setting: `[branches, [blocks per branch], [channels per branch]]`.
struct module_setting {
    int branches = 1;                         ///< 1..4
    std::array<int, max_branches> blocks{};   ///< BasicBlocks per branch; entries past `branches` are 0
    std::array<int, max_branches> channels{}; ///< channels per branch; entries past `branches` are 0
    friend constexpr bool operator==(const module_setting&, const module_setting&) = default;
};

/// What the original's MultiResolutionNet is built from: stem channels, the list of modules, last channel.
struct network_setting {
    std::array<int, 2> input_channel{};                          ///< stem channels c0, c1
    detail::static_vector<module_setting, max_modules> modules;  ///< the original's `inverted_residual_setting`
    int last_channel = 0;                                        ///< channels of the head's 1x1 conv
    friend constexpr bool operator==(const network_setting&, const network_setting&) = default;
};

namespace detail {

/// Where stage s (1..4) starts in a code: its module count; blocks follow, then channels.
constexpr std::size_t stage_start(int s) { return s == 1 ? 2 : s == 2 ? 5 : s == 3 ? 10 : 17; }

inline std::string channel_message(const std::string& where, int value) {
    return where + " = " + std::to_string(value) + ": channels take multiples of 8 in 8..128";
}

constexpr bool valid_channels(int v) { return v >= 8 && v <= 128 && v % 8 == 0; }
constexpr bool valid_count(int v) { return v >= 1 && v <= 4; }

}  // namespace detail

/// Throws ncp::error naming the first module (0-based) and entry outside the space the benchmark spans.
constexpr void validate(const network_setting& s) {
    for (std::size_t k = 0; k < 2; ++k)
        if (!detail::valid_channels(s.input_channel[k]))
            throw error("invalid setting: " + detail::channel_message("input_channel[" + std::to_string(k) + "]",
                                                                      s.input_channel[k]));
    if (s.modules.empty()) throw error("invalid setting: it has no module");
    for (std::size_t m = 0; m < s.modules.size(); ++m) {
        const module_setting& mod = s.modules[m];
        const auto where = [m] { return "invalid setting: module " + std::to_string(m); };
        if (!detail::valid_count(mod.branches))
            throw error(where() + " has " + std::to_string(mod.branches) + " branches (1..4)");
        for (int b = 0; b < mod.branches; ++b) {
            if (!detail::valid_count(mod.blocks[b]))
                throw error(where() + " branch " + std::to_string(b) + " has " + std::to_string(mod.blocks[b]) +
                            " blocks (1..4)");
            if (!detail::valid_channels(mod.channels[b]))
                throw error(where() + ": " + detail::channel_message("branch " + std::to_string(b) + " channels",
                                                                   mod.channels[b]));
        }
    }
    if (!detail::valid_channels(s.last_channel))
        throw error("invalid setting: " + detail::channel_message("last_channel", s.last_channel));
}

/// The network setting of a code (validated): stage s contributes code's module count copies of its module.
constexpr network_setting to_setting(const code& c) {
    validate(c);
    network_setting s;
    s.input_channel = {c[0], c[1]};
    for (int stage = 1; stage <= max_branches; ++stage) {
        const std::size_t at = detail::stage_start(stage);
        module_setting mod;
        mod.branches = stage;
        for (int b = 0; b < stage; ++b) {
            mod.blocks[b] = c[at + 1 + b];
            mod.channels[b] = c[at + 1 + stage + b];
        }
        for (int n = 0; n < c[at]; ++n) s.modules.push_back(mod);
    }
    s.last_channel = c[26];
    return s;
}

/// The code of a setting; throws ncp::error unless the setting is 1..4 identical modules of 1, then 2, 3 and 4
/// branches (the form every code has).
constexpr code to_code(const network_setting& s) {
    validate(s);
    code c{};
    c[0] = s.input_channel[0];
    c[1] = s.input_channel[1];
    std::size_t m = 0;
    for (int stage = 1; stage <= max_branches; ++stage) {
        const std::size_t first = m;
        while (m < s.modules.size() && s.modules[m].branches == stage) {
            if (!(s.modules[m] == s.modules[first]))
                throw error("setting has no code: module " + std::to_string(m) + " differs from module " +
                            std::to_string(first) + " of the same stage");
            ++m;
        }
        const std::size_t count = m - first;
        if (count < 1 || count > 4)
            throw error("setting has no code: it has " + std::to_string(count) + " modules of " +
                        std::to_string(stage) + " branch(es) in a row at module " + std::to_string(first) +
                        " (a code needs 1..4 of 1, then of 2, 3 and 4 branches)");
        const std::size_t at = detail::stage_start(stage);
        c[at] = static_cast<int>(count);
        for (int b = 0; b < stage; ++b) {
            c[at + 1 + b] = s.modules[first].blocks[b];
            c[at + 1 + stage + b] = s.modules[first].channels[b];
        }
    }
    if (m != s.modules.size())
        throw error("setting has no code: module " + std::to_string(m) + " has " +
                    std::to_string(s.modules[m].branches) + " branch(es) after the 4-branch stage");
    c[26] = s.last_channel;
    return c;
}

namespace detail {

/// Code index of number n (0-based) of group g (0-based) in the string form; -1 for a repeated branch count.
constexpr int string_position_index(std::size_t g, std::size_t n) {
    if (g == 0) return static_cast<int>(n);
    if (g == 5) return 26;
    const int stage = static_cast<int>(g);
    const int at = static_cast<int>(stage_start(stage));
    if (n == 0) return at;
    if (n == 1) return -1;
    return at + static_cast<int>(n) - 1;
}

/// Numbers per group of the string form.
constexpr std::size_t group_size(std::size_t g) { return g == 0 ? 2 : g == 5 ? 1 : 2 + 2 * g; }

inline std::string string_error(std::string_view text, const std::string& what) {
    return "invalid code string " + quoted(text) + ": " + what;
}

inline std::string position(std::size_t g, std::size_t n) {
    return "group " + std::to_string(g + 1) + " number " + std::to_string(n + 1);
}

}  // namespace detail

/// Parses the string form `c0_c1-n1_1_b_c-n2_2_b_b_c_c-...-last` (groups by '-', numbers by '_', surrounding
/// whitespace ignored). Errors name the group and number (1-based) and the value.
constexpr code parse_code_string(std::string_view text) {
    const std::string_view s = detail::trim(text);
    code c{};
    std::size_t g = 0;
    std::size_t n = 0;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= s.size(); ++i) {
        if (i < s.size() && s[i] != '-' && s[i] != '_') continue;
        if (g > 5) throw error(detail::string_error(text, "more than 6 groups"));
        const std::string_view token = s.substr(start, i - start);
        if (n >= detail::group_size(g))
            throw error(detail::string_error(text, "group " + std::to_string(g + 1) + " has more than " +
                                                       std::to_string(detail::group_size(g)) + " numbers"));
        const detail::parsed_number p = detail::parse_number(token, false);
        if (p.error)
            throw error(detail::string_error(text, detail::position(g, n) + " (" + detail::quoted(token) + ") " +
                                                       p.error));
        const int index = detail::string_position_index(g, n);
        if (index < 0) {
            if (p.value != static_cast<long long>(g))
                throw error(detail::string_error(text, detail::position(g, n) + " = " + std::to_string(p.value) +
                                                           ": stage " + std::to_string(g) +
                                                           " repeats its branch count " + std::to_string(g)));
        } else {
            if (!detail::valid_value(static_cast<std::size_t>(index), p.value))
                throw error(detail::string_error(text, detail::position(g, n) + " (" +
                                                           detail::dimension_message(index, p.value) + ")"));
            c[index] = static_cast<int>(p.value);
        }
        ++n;
        start = i + 1;
        if (i == s.size() || s[i] == '-') {
            if (n != detail::group_size(g))
                throw error(detail::string_error(text, "group " + std::to_string(g + 1) + " has " + std::to_string(n) +
                                                           " numbers (expected " +
                                                           std::to_string(detail::group_size(g)) + ")"));
            ++g;
            n = 0;
        }
    }
    if (g != 6) throw error(detail::string_error(text, std::to_string(g) + " groups (expected 6)"));
    return c;
}

/// Parses 27 comma-separated integers, optionally inside one pair of brackets, spaces allowed around each
/// (so a Python list pastes as is). Errors name the position (0-based code index) and the value.
constexpr code parse_code_ints(std::string_view text) {
    std::string_view s = detail::trim(text);
    if (!s.empty() && s.front() == '[') {
        if (s.back() != ']') throw error("invalid code " + detail::quoted(text) + ": '[' without closing ']'");
        s = s.substr(1, s.size() - 2);
    }
    code c{};
    std::size_t count = 0;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= s.size(); ++i) {
        if (i < s.size() && s[i] != ',') continue;
        if (count == code_size) throw error("invalid code " + detail::quoted(text) + ": more than 27 numbers");
        const std::string_view token = detail::trim(s.substr(start, i - start));
        const detail::parsed_number p = detail::parse_number(token, true);
        if (p.error)
            throw error("invalid code " + detail::quoted(text) + ": code[" + std::to_string(count) + "] (" +
                        detail::quoted(token) + ") " + p.error);
        if (!detail::valid_value(count, p.value))
            throw error("invalid code " + detail::quoted(text) + ": " + detail::dimension_message(count, p.value));
        c[count++] = static_cast<int>(p.value);
        start = i + 1;
    }
    if (count != code_size)
        throw error("invalid code " + detail::quoted(text) + ": " + std::to_string(count) +
                    " numbers (expected 27)");
    return c;
}

/// Parses either form: 27 comma-separated integers when the text holds a comma, else the string form.
constexpr code parse_code(std::string_view text) {
    return text.find(',') != std::string_view::npos ? parse_code_ints(text) : parse_code_string(text);
}

namespace detail {

/// Writes a non-negative int's decimal digits at `out`; returns the end.
constexpr char* write_uint(char* out, int v) {
    char digits[10];
    int n = 0;
    do {
        digits[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v > 0);
    while (n > 0) *out++ = digits[--n];
    return out;
}

}  // namespace detail

/// Most characters the string form of a valid code takes (31 numbers of at most 3 digits and 30 separators).
inline constexpr std::size_t max_code_string_length = 31 * 3 + 30;

/// Writes the string form of a valid code at `out` (room for max_code_string_length); returns the end.
constexpr char* write_code_string(char* out, const code& c) {
    for (std::size_t g = 0; g < 6; ++g) {
        if (g > 0) *out++ = '-';
        for (std::size_t n = 0; n < detail::group_size(g); ++n) {
            if (n > 0) *out++ = '_';
            const int index = detail::string_position_index(g, n);
            out = detail::write_uint(out, index < 0 ? static_cast<int>(g) : c[index]);
        }
    }
    return out;
}

/// The string form of a code (validated), e.g. `64_64-2_1_2_64-...-64`.
inline std::string to_string(const code& c) {
    validate(c);
    char buffer[max_code_string_length];
    return std::string(buffer, write_code_string(buffer, c));
}

/// The 27 integers joined by commas.
inline std::string to_ints_string(const code& c) {
    std::string s;
    for (std::size_t i = 0; i < code_size; ++i) {
        if (i > 0) s += ',';
        s += std::to_string(c[i]);
    }
    return s;
}

}  // namespace ncp::arch

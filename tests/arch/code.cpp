/// Codes: the 27-int form, the string form, network settings, validation messages, bounds, rounding, code lists.

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "ncp/arch/code.hpp"
#include "ncp/arch/code_list.hpp"
#include "ncp/arch/synthetic.hpp"
#include "test_support.hpp"

using ncp::test::error_of;
using ncp::test::contains;

namespace arch = ncp::arch;

namespace {

constexpr const char* all64_string = "64_64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64";
constexpr arch::code all64 = {64, 64, 2, 2, 64, 2, 2, 2, 64, 64, 2, 2, 2, 2,
                              64, 64, 64, 2, 2, 2, 2, 2, 64, 64, 64, 64, 64};

}  // namespace

TEST_CASE("the all-64 code reads the same in both forms and prints back") {
    CHECK(arch::parse_code(all64_string) == all64);
    CHECK(arch::parse_code("64,64,2,2,64,2,2,2,64,64,2,2,2,2,64,64,64,2,2,2,2,2,64,64,64,64,64") == all64);
    CHECK(arch::parse_code(" [64, 64, 2, 2, 64, 2, 2, 2, 64, 64, 2, 2, 2, 2, 64, 64, 64, 2, 2, 2, 2, 2, 64, 64, 64, "
                           "64, 64]\r\n") == all64);
    CHECK(arch::to_string(all64) == all64_string);
    CHECK(arch::to_ints_string(all64) == "64,64,2,2,64,2,2,2,64,64,2,2,2,2,64,64,64,2,2,2,2,2,64,64,64,64,64");
    static_assert(arch::parse_code_string("64_64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64")
                      == all64);
}

TEST_CASE("the setting of a code lists each stage's modules, as the benchmark's inverted_residual_setting") {
    // The README's example: 96_128-1_1_1_48-1_2_1_1_128_8-1_3_1_1_1_128_128_120-4_4_4_4_4_4_128_128_128_128-64.
    const arch::code k =
        arch::parse_code("96_128-1_1_1_48-1_2_1_1_128_8-1_3_1_1_1_128_128_120-4_4_4_4_4_4_128_128_128_128-64");
    const arch::network_setting s = arch::to_setting(k);
    CHECK(s.input_channel == std::array<int, 2>{96, 128});
    CHECK(s.last_channel == 64);
    REQUIRE(s.modules.size() == 7);
    CHECK(s.modules[0] == arch::module_setting{1, {1}, {48}});
    CHECK(s.modules[1] == arch::module_setting{2, {1, 1}, {128, 8}});
    CHECK(s.modules[2] == arch::module_setting{3, {1, 1, 1}, {128, 128, 120}});
    for (std::size_t m = 3; m < 7; ++m)
        CHECK(s.modules[m] == arch::module_setting{4, {4, 4, 4, 4}, {128, 128, 128, 128}});
    CHECK(arch::to_code(s) == k);
}

TEST_CASE("random codes survive code -> string -> code and code -> setting -> code") {
    std::mt19937_64 rng(233);
    for (int n = 0; n < 2000; ++n) {
        const arch::code k = arch::detail::uniform_code(rng);
        CHECK(arch::parse_code(arch::to_string(k)) == k);
        CHECK(arch::parse_code(arch::to_ints_string(k)) == k);
        CHECK(arch::to_code(arch::to_setting(k)) == k);
    }
}

TEST_CASE("every dimension out of range is named by index and value") {
    for (std::size_t i = 0; i < arch::code_size; ++i) {
        const bool channels = arch::kind_of(i) == arch::dimension_kind::channels;
        for (int bad : channels ? std::vector<int>{0, 4, 12, 136, -8} : std::vector<int>{0, 5, -1}) {
            arch::code k = all64;
            k[i] = bad;
            const std::string msg = error_of([&] { arch::validate(k); });
            CHECK(contains(msg, "code[" + std::to_string(i) + "] = " + std::to_string(bad)));
            CHECK(contains(msg, channels ? "multiples of 8 in 8..128" : "1..4"));
            CHECK(contains(error_of([&] { arch::parse_code(arch::to_ints_string(k)); }),
                           "code[" + std::to_string(i) + "] = " + std::to_string(bad)));
        }
    }
    // The benchmark's unusual but valid values.
    arch::code odd = all64;
    odd[0] = 96;
    odd[1] = 128;
    odd[4] = 72;
    odd[8] = 88;
    odd[14] = 104;
    odd[22] = 120;
    CHECK_NOTHROW(arch::validate(odd));
}

TEST_CASE("string-form errors name the group and number") {
    const auto msg = [](const std::string& text) { return error_of([&] { arch::parse_code_string(text); }); };
    // The repeated branch count must match the stage.
    CHECK(contains(msg("64_64-2_2_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64"),
                   "group 2 number 2 = 2: stage 1 repeats its branch count 1"));
    CHECK(contains(msg("64_64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_3_2_2_2_2_64_64_64_64-64"),
                   "group 5 number 2 = 3"));
    // A value out of range: group, number, code index and value.
    CHECK(contains(msg("64_64-2_1_2_64-2_2_2_2_64_60-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64"),
                   "group 3 number 6 (code[9] = 60"));
    CHECK(contains(msg("64_64-2_1_2_64-2_2_2_9_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64"),
                   "group 3 number 4 (code[7] = 9"));
    CHECK(contains(msg("64_64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-0"),
                   "group 6 number 1 (code[26] = 0"));
    // Non-numeric text, empty numbers, overflow.
    CHECK(contains(msg("64_6x-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64"),
                   "group 1 number 2 (\"6x\") is not a non-negative integer"));
    CHECK(contains(msg("64__64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64"),
                   "group 1 number 2 (\"\") is empty"));
    CHECK(contains(msg("64_99999999999999999999-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64"),
                   "group 1 number 2 (\"99999999999999999999\") is too large"));
    CHECK(contains(msg("64_+64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64"),
                   "is not a non-negative integer"));
    // Wrong number of numbers or groups, trailing junk.
    CHECK(contains(msg("64_64-2_1_2-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64"),
                   "group 2 has 3 numbers (expected 4)"));
    CHECK(contains(msg("64_64-2_1_2_64_8-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64"),
                   "group 2 has more than 4 numbers"));
    CHECK(contains(msg("64_64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64"),
                   "5 groups (expected 6)"));
    CHECK(contains(msg("64_64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64-8"),
                   "more than 6 groups"));
    CHECK(contains(msg(std::string(all64_string) + "-"), "more than 6 groups"));
    CHECK(contains(msg(std::string(all64_string) + " x"), "group 6 number 1 (\"64 x\") is not a non-negative integer"));
    CHECK(contains(msg(""), "group 1 number 1 (\"\") is empty"));
}

TEST_CASE("comma-form errors name the position") {
    const auto msg = [](const std::string& text) { return error_of([&] { arch::parse_code_ints(text); }); };
    CHECK(contains(msg("64,64,2,2,64,2,2,2,64,64,2,2,2,2,64,64,64,2,2,2,2,2,64,64,64,64"), "26 numbers (expected 27)"));
    CHECK(contains(msg("64,64,2,2,64,2,2,2,64,64,2,2,2,2,64,64,64,2,2,2,2,2,64,64,64,64,64,64"),
                   "more than 27 numbers"));
    CHECK(contains(msg("64,64,2,2,x,2,2,2,64,64,2,2,2,2,64,64,64,2,2,2,2,2,64,64,64,64,64"),
                   "code[4] (\"x\") is not a non-negative integer"));
    CHECK(contains(msg("64,64,2,2,64,2,2,2,64,64,2,2,2,2,64,64,64,2,2,2,2,2,64,64,64,64,"),
                   "code[26] (\"\") is empty"));
    CHECK(contains(msg("64,64,2,2,64,2,2,2,64,64,2,2,2,2,64,64,64,2,2,2,2,2,64,64,64,64,64 junk"),
                   "code[26] (\"64 junk\")"));
    CHECK(contains(msg("[64,64,2,2,64,2,2,2,64,64,2,2,2,2,64,64,64,2,2,2,2,2,64,64,64,64,64"), "without closing"));
    CHECK(contains(msg("64,64,2,2,64,2,2,2,64,64,2,2,2,2,64,64,64,2,2,2,2,2,64,64,64,64,1e3"), "code[26] (\"1e3\")"));
    CHECK(contains(msg("64,64,2,2,64,2,2,2,64,64,2,2,2,2,64,64,64,2,2,2,2,2,64,64,64,64,12345678901"),
                   "is too large"));
}

TEST_CASE("settings outside the benchmark's space, or without a code, are rejected with the module named") {
    arch::network_setting s = arch::to_setting(all64);
    s.modules[3].blocks[1] = 5;
    CHECK(contains(error_of([&] { arch::validate(s); }), "module 3 branch 1 has 5 blocks"));
    s = arch::to_setting(all64);
    s.modules[6].channels[3] = 130;
    CHECK(contains(error_of([&] { arch::validate(s); }), "module 6: branch 3 channels = 130"));
    s = arch::to_setting(all64);
    s.modules[0].branches = 0;
    CHECK(contains(error_of([&] { arch::validate(s); }), "module 0 has 0 branches"));
    s = arch::to_setting(all64);
    s.last_channel = 7;
    CHECK(contains(error_of([&] { arch::validate(s); }), "last_channel = 7"));
    s = arch::to_setting(all64);
    s.input_channel[1] = 0;
    CHECK(contains(error_of([&] { arch::validate(s); }), "input_channel[1] = 0"));
    CHECK(contains(error_of([] { arch::validate(arch::network_setting{{64, 64}, {}, 64}); }), "no module"));

    // Valid settings that no code describes.
    s = arch::to_setting(all64);
    s.modules[1].blocks[0] = 3;
    CHECK(contains(error_of([&] { arch::to_code(s); }), "module 1 differs from module 0"));
    arch::network_setting skip{{64, 64}, {{1, {2}, {64}}, {3, {2, 2, 2}, {64, 64, 64}}}, 64};
    CHECK(contains(error_of([&] { arch::to_code(skip); }), "0 modules of 2 branch(es)"));
    s = arch::to_setting(all64);
    s.modules.push_back(s.modules[0]);
    CHECK(contains(error_of([&] { arch::to_code(s); }), "module 8 has 1 branch(es) after the 4-branch stage"));
    arch::network_setting five{{64, 64}, {}, 64};
    for (int m = 0; m < 5; ++m) five.modules.push_back({1, {2}, {64}});
    for (int b = 2; b <= 4; ++b) five.modules.push_back({b, {2, 2, 2, 2}, {64, 64, 64, 64}});
    CHECK(contains(error_of([&] { arch::to_code(five); }), "5 modules of 1 branch(es)"));
}

TEST_CASE("search bounds: channels [8, 128], counts [1, 4]") {
    int channels = 0;
    for (std::size_t i = 0; i < arch::code_size; ++i) {
        const bool is_channel = arch::kind_of(i) == arch::dimension_kind::channels;
        channels += is_channel;
        CHECK(arch::lower_bound(i) == (is_channel ? 8 : 1));
        CHECK(arch::upper_bound(i) == (is_channel ? 128 : 4));
    }
    CHECK(channels == 13);
    for (std::size_t i : {2, 3, 5, 6, 7, 10, 11, 12, 13, 17, 18, 19, 20, 21})
        CHECK(arch::kind_of(i) == arch::dimension_kind::count);
}

TEST_CASE("rounding: channels max(8, floor((v + 4) / 8) * 8), counts max(1, floor(v + 0.5)), within the bounds") {
    // A naive reference of the rule on a fine grid (inside the bounds, where the clamp does nothing).
    for (double v = 8.0; v <= 128.0; v += 0.0625) {
        const int expect = std::max(8, static_cast<int>(std::floor((v + 4.0) / 8.0)) * 8);
        CHECK(arch::round_dimension(0, v) == expect);
    }
    for (double v = 1.0; v <= 4.0; v += 0.03125) {
        const int expect = std::max(1, static_cast<int>(std::floor(v + 0.5)));
        CHECK(arch::round_dimension(2, v) == expect);
    }
    CHECK(arch::round_dimension(0, 11.99) == 8);
    CHECK(arch::round_dimension(0, 12.0) == 16);
    CHECK(arch::round_dimension(2, 2.49) == 2);
    CHECK(arch::round_dimension(2, 2.5) == 3);
    // Outside the bounds the value is clamped first, so the result is always valid.
    CHECK(arch::round_dimension(0, -50.0) == 8);
    CHECK(arch::round_dimension(0, 1e9) == 128);
    CHECK(arch::round_dimension(2, 0.2) == 1);
    CHECK(arch::round_dimension(2, 7.7) == 4);
    CHECK(arch::round_dimension(4, std::numeric_limits<double>::infinity()) == 128);
    CHECK(contains(error_of([] { arch::round_dimension(5, std::nan("")); }), "code[5]: it is NaN"));

    std::vector<double> continuous(all64.begin(), all64.end());
    continuous[0] = 67.9;
    continuous[2] = 2.6;
    arch::code expect = all64;
    expect[0] = 64;
    expect[2] = 3;
    CHECK(arch::round_code(continuous) == expect);
    continuous.pop_back();
    CHECK(contains(error_of([&] { arch::round_code(continuous); }), "26 values"));
}

TEST_CASE("exact codes from doubles must hold whole numbers") {
    std::vector<double> v(all64.begin(), all64.end());
    CHECK(arch::exact_code(v) == all64);
    v[3] = 2.5;
    CHECK(contains(error_of([&] { arch::exact_code(v); }), "code[3] = 2.500000 is not an integer"));
    v[3] = std::nan("");
    CHECK(contains(error_of([&] { arch::exact_code(v); }), "code[3]"));
    v[3] = 6;
    CHECK(contains(error_of([&] { arch::exact_code(v); }), "code[3] = 6"));
}

TEST_CASE("code lists skip blank lines and comments and keep line numbers") {
    const std::string text = "# codes\n\n  " + std::string(all64_string) + "  \r\n   # indented comment\nx\n\nlast";
    const auto lines = arch::code_lines(text);
    REQUIRE(lines.size() == 3);
    CHECK(lines[0].line == 3);
    CHECK(lines[0].text == all64_string);
    CHECK(lines[1].line == 5);
    CHECK(lines[1].text == "x");
    CHECK(lines[2].line == 7);
    CHECK(lines[2].text == "last");
    CHECK(arch::code_lines("").empty());
    CHECK(contains(error_of([] { arch::read_text("/nonexistent/codes.txt"); }), "/nonexistent/codes.txt"));
}

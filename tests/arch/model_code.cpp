/// Codes as users write them for a model of any dimension: both NAS-Bench-MR forms, NAS-Bench-201's string and
/// one-hot forms, plain numbers for other dimensions, and the messages for malformed or misfitting codes.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "ncp/arch/model_code.hpp"
#include "test_support.hpp"

using ncp::test::contains;
using ncp::test::error_of;

namespace arch = ncp::arch;

TEST_CASE("NAS-Bench-MR codes in either form give the 27 values") {
    const std::string text = "64_64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64";
    const auto v = arch::parse_model_code(text, 27);
    const auto c = arch::parse_code(text);
    CHECK(v == std::vector<double>(c.begin(), c.end()));
    CHECK(arch::parse_model_code(arch::to_ints_string(c), 27) == v);
    CHECK(contains(error_of([] { arch::parse_model_code("1,2,3", 27); }), "has 3 numbers; the model takes 27"));
}

TEST_CASE("NAS-Bench-201 cells as the benchmark's string or 30 one-hot values") {
    const std::string text = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|";
    const auto v = arch::parse_model_code(text, 30);
    REQUIRE(v.size() == 30);
    std::string ones;
    for (const double x : v) ones += (x == 1 ? "1," : "0,");
    ones.pop_back();
    CHECK(arch::parse_model_code(ones, 30) == v);
    for (std::size_t edge = 0; edge < 6; ++edge) {  // one op per edge
        double sum = 0;
        for (std::size_t op = 0; op < 5; ++op) sum += v[edge * 5 + op];
        CHECK(sum == 1);
    }
    std::string two_hot = "1,1";
    for (int i = 2; i < 30; ++i) two_hot += ",0";
    CHECK(contains(error_of([&] { arch::parse_model_code(two_hot, 30); }), "code \"1,1,0"));
}

TEST_CASE("other dimensions take comma-separated finite numbers") {
    CHECK(arch::parse_model_code("[1, 2.5, -3]", 3) == std::vector<double>{1, 2.5, -3});
    CHECK(contains(error_of([] { arch::parse_model_code("1,nan,3", 3); }), "value 1 (\"nan\") is not a finite number"));
    CHECK(contains(error_of([] { arch::parse_model_code("1,,3", 3); }), "value 1 (\"\") is not a finite number"));
    CHECK(contains(error_of([] { arch::parse_model_code("1,2", 3); }), "has 2 numbers; the model takes 3"));
}

TEST_CASE("code_dim_of tells the space from the text; code_string writes the canonical form of either") {
    const std::string mr = "64_64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64";
    const std::string cell = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|";
    CHECK(arch::code_dim_of(mr) == 27);
    CHECK(arch::code_dim_of(arch::to_ints_string(arch::parse_code(mr))) == 27);
    CHECK(arch::code_dim_of(cell) == 30);
    std::string ones = "1";
    for (int i = 1; i < 30; ++i) ones += i % 5 == 0 ? ",1" : ",0";
    CHECK(arch::code_dim_of(ones) == 30);
    CHECK(arch::code_dim_of("1,2,3") == 27);  // neither: the parser names the count
    for (const std::string& text : {mr, cell, ones}) {
        const auto values = arch::parse_model_code(text, arch::code_dim_of(text));
        const std::string canonical = arch::code_string(values);
        CHECK(arch::parse_model_code(canonical, arch::code_dim_of(canonical)) == values);
    }
    CHECK(arch::code_string(arch::parse_model_code(mr, 27)) == mr);
    CHECK(arch::code_string(arch::parse_model_code(cell, 30)) == cell);
    CHECK(contains(error_of([] { arch::code_string(std::vector<double>(5, 1.0)); }),
                   "a code has 27 values (NAS-Bench-MR) or 30 (NAS-Bench-201), not 5"));
    std::vector<double> bad(27, 64.0);
    CHECK(contains(error_of([&] { arch::code_string(bad); }), "invalid code"));
}

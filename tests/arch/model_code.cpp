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

/// FLOPs and params: the reference numbers of docs/algorithm.md section 3 (in constant expressions too), a naive
/// reference loop over the setting, and every record of the benchmark.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "ncp/arch/count.hpp"
#include "ncp/data/format.hpp"
#include "ncp/arch/synthetic.hpp"
#include "test_support.hpp"

namespace arch = ncp::arch;

namespace {

constexpr const char* first_record =
    "128_128-2_1_4_128-2_2_4_4_128_128-2_3_4_4_4_128_128_128-2_4_4_4_4_4_128_128_128_128-128";
constexpr const char* all64 = "64_64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64";

// The first record of every setting: 13.727426866 G, 28.290994 M, counted by the compiler.
static_assert(arch::count(arch::parse_code(first_record)) == arch::cost{13727426866, 28290994});
static_assert(arch::count(arch::parse_code(all64)) == arch::cost{1959638194, 4128754});

/// docs/algorithm.md section 3 turned into loops over the setting, with no graph: the reference the visitor must match.
arch::cost naive_count(const arch::network_setting& s, const arch::convention& c) {
    arch::cost total;
    const auto conv = [&](std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t side, bool bias) {
        total.flops += out * side * side * (in * k * k + (bias ? 1 : 0));
        total.params += out * (in * k * k + (bias ? 1 : 0));
    };
    const auto conv_bn = [&](std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t side) {
        conv(in, out, k, side, false);
        total.flops += 2 * out * side * side;
        total.params += 2 * out;
    };
    const auto side_of = [&](int branch) { return std::int64_t{c.input_side} / (4 << branch); };
    conv_bn(3, s.input_channel[0], 3, c.input_side / 2);
    conv_bn(s.input_channel[0], s.input_channel[1], 3, c.input_side / 4);
    std::vector<int> previous = {s.input_channel[1]};
    for (const arch::module_setting& m : s.modules) {
        const int in = static_cast<int>(previous.size());
        for (int i = 0; i < std::min(in, m.branches); ++i) {
            if (i - 1 >= 0) conv_bn(previous[i - 1], m.channels[i], 3, side_of(i));
            conv_bn(previous[i], m.channels[i], 3, side_of(i));
            if (i + 1 < in) conv_bn(previous[i + 1], m.channels[i], 1, side_of(i + 1));
        }
        for (int b = in; b < m.branches; ++b) conv_bn(m.channels[b - 1], m.channels[b], 3, side_of(b));
        for (int b = 0; b < m.branches; ++b)
            for (int k = 0; k < 2 * m.blocks[b]; ++k) conv_bn(m.channels[b], m.channels[b], 3, side_of(b));
        previous.assign(m.channels.begin(), m.channels.begin() + m.branches);
    }
    int concat = 0;
    for (int ch : previous) concat += ch;
    const bool cls = c.head == arch::head_kind::classification;
    const std::int64_t head_side = cls ? side_of(static_cast<int>(previous.size()) - 1) : side_of(0);
    conv_bn(concat, s.last_channel, 1, head_side);
    conv(s.last_channel, c.classes, 1, cls ? 1 : head_side, true);
    return total;
}

}  // namespace

TEST_CASE("the three reference numbers of docs/algorithm.md section 3") {
    CHECK(arch::count(arch::parse_code(first_record)) == arch::cost{13727426866, 28290994});
    const arch::cost a = arch::count(arch::parse_code(all64));
    CHECK(a == arch::cost{1959638194, 4128754});
    CHECK(a.flops_g() == doctest::Approx(1.959638194).epsilon(1e-12));
    CHECK(a.params_m() == doctest::Approx(4.128754).epsilon(1e-12));
    CHECK(arch::count(arch::parse_code(all64), {128, arch::head_kind::segmentation, 19}) ==
          arch::cost{1977543680, 4126739});
}

TEST_CASE("one conv-BN-ReLU and one BasicBlock by hand") {
    // 3x3 conv 64 -> 64 on 32x32: 32*32*64 outputs x 64*9; BN: 2 x 64*32*32; params 64*64*9 + 2*64.
    const auto unit = arch::conv_bn_act<3, 1>::make({64, 32, 32}, 64);
    CHECK(arch::count(unit) == arch::cost{32 * 32 * 64 * 64 * 9 + 2 * 64 * 32 * 32, 64 * 64 * 9 + 128});
    const auto block = arch::basic_block<>::make({64, 32, 32});
    CHECK(arch::count(block).flops == 2 * arch::count(unit).flops);
    // A conv with a bias adds one per output element and one parameter per output channel.
    const auto classifier = arch::conv2d<1, 1, true>::make({64, 1, 1}, 50);
    CHECK(arch::count(classifier) == arch::cost{50 * 65, 50 * 65});
    // Free operations.
    CHECK(arch::count(arch::relu{{64, 32, 32}}) == arch::cost{});
    CHECK(arch::count(arch::upsample_nearest{{64, 16, 16}, {64, 32, 32}}) == arch::cost{});
}

TEST_CASE("the visitor matches the naive loops for random codes under random conventions") {
    std::mt19937_64 rng(233);
    for (int n = 0; n < 3000; ++n) {
        const arch::code k = arch::detail::uniform_code(rng);
        const arch::convention c{32 * std::uniform_int_distribution(1, 16)(rng),
                                 n % 2 ? arch::head_kind::segmentation : arch::head_kind::classification,
                                 std::uniform_int_distribution(1, 1000)(rng)};
        CHECK(arch::count(k, c) == naive_count(arch::to_setting(k), c));
    }
    const arch::network_setting narrowing{{32, 32}, {{1, {1}, {32}}, {3, {1, 2, 1}, {32, 48, 64}}, {1, {2}, {40}}}, 16};
    CHECK(arch::count(narrowing) == naive_count(narrowing, {}));
}

TEST_CASE("fixed-point text of counts is exact") {
    CHECK(arch::fixed_string(13727426866, arch::flops_g_decimals) == "13.727426866");
    CHECK(arch::fixed_string(1977543680, arch::flops_g_decimals) == "1.977543680");
    CHECK(arch::fixed_string(4126739, arch::params_m_decimals) == "4.126739");
    CHECK(arch::fixed_string(5, arch::params_m_decimals) == "0.000005");
    CHECK(arch::fixed_string(-5, arch::params_m_decimals) == "-0.000005");
    CHECK(arch::fixed_string(0, arch::flops_g_decimals) == "0.000000000");
    CHECK(arch::fixed_string(INT64_MIN, 6) == "-9223372036854.775808");
}

TEST_CASE("every record of the 8 NAS-Bench-MR settings: counted = stored, to the stored digits") {
    for (const char* setting : {"seg", "seg-4x", "cls-10c", "cls-50-100", "cls-50-1000", "cls-10-1000", "video",
                                "video-p"}) {
        const auto bin = ncp::test::converted(setting);
        if (!bin) return;
        const ncp::data::benchmark b = ncp::data::load_benchmark(*bin);
        CAPTURE(setting);
        REQUIRE(b.size() == 2507);
        REQUIRE(b.code_dim() == arch::code_size);
        const std::size_t flops = b.metric_index("flops");
        const std::size_t params = b.metric_index("params");
        int mismatches = 0;
        for (std::size_t r = 0; r < b.size(); ++r) {
            const arch::code k = arch::exact_code(std::span<const double>(&b.codes(r, 0), b.code_dim()));
            // Stored as G and M with at most 9 and 6 decimals: whole units once scaled back.
            const arch::cost stored{std::llround(b.metrics(r, flops) * 1e9), std::llround(b.metrics(r, params) * 1e6)};
            if (arch::count(k) != stored) {
                ++mismatches;
                MESSAGE("record " << r << " " << arch::to_string(k) << ": counted " << arch::count(k).flops << " / "
                                  << arch::count(k).params << ", stored " << stored.flops << " / " << stored.params);
            }
        }
        CHECK(mismatches == 0);
    }
}

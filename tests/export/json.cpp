/// The JSON form: exactly the keys, the original's constructor arguments giving back the code, the totals of
/// the counter; read back by an independent parser (yaml-cpp reads JSON) for every tested network.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "export/networks.hpp"
#include "ncp/arch/describe.hpp"
#include "ncp/export/json.hpp"
#include "test_support.hpp"

using ncp::test::contains;

namespace arch = ncp::arch;
namespace exporting = ncp::exporting;

namespace {

/// The setting the constructor arguments of `j` hold.
arch::network_setting read_setting(const YAML::Node& j) {
    arch::network_setting s;
    s.input_channel = {j["input_channel"][0].as<int>(), j["input_channel"][1].as<int>()};
    for (const auto& m : j["network_setting"]) {
        arch::module_setting mod;
        mod.branches = m[0].as<int>();
        REQUIRE(m[1].size() == static_cast<std::size_t>(mod.branches));
        REQUIRE(m[2].size() == static_cast<std::size_t>(mod.branches));
        for (int b = 0; b < mod.branches; ++b) {
            mod.blocks[b] = m[1][b].as<int>();
            mod.channels[b] = m[2][b].as<int>();
        }
        s.modules.push_back(mod);
    }
    s.last_channel = j["last_channel"].as<int>();
    return s;
}

}  // namespace

TEST_CASE("the all-64 code: the exact text") {
    const arch::code k = arch::parse_code(ncp::test::all64);
    CHECK(exporting::network_json(k, {128, arch::head_kind::segmentation, 19}) ==
          "{\n"
          "  \"code\": \"" + std::string(ncp::test::all64) + "\",\n"
          "  \"input_channel\": [64, 64],\n"
          "  \"network_setting\": [[1, [2], [64]], [1, [2], [64]], [2, [2, 2], [64, 64]], [2, [2, 2], [64, 64]], "
          "[3, [2, 2, 2], [64, 64, 64]], [3, [2, 2, 2], [64, 64, 64]], [4, [2, 2, 2, 2], [64, 64, 64, 64]], "
          "[4, [2, 2, 2, 2], [64, 64, 64, 64]]],\n"
          "  \"last_channel\": 64,\n"
          "  \"head\": \"seg\",\n"
          "  \"classes\": 19,\n"
          "  \"input\": 128,\n"
          "  \"flops_g\": 1.977543680,\n"
          "  \"params_m\": 4.126739\n"
          "}\n");
    // The constructor arguments are ncp describe --json's, written by the same code.
    CHECK(contains(arch::setting_json(k), arch::setting_members(arch::to_setting(k))));
}

TEST_CASE("round trip: every tested network's JSON reads back to its code, convention and counts") {
    for (const auto& [k, c, source] : ncp::test::test_networks()) {
        const std::string text = exporting::network_json(k, c);
        const YAML::Node j = YAML::Load(text);
        INFO(text);
        std::vector<std::string> keys;
        for (const auto& member : j) keys.push_back(member.first.as<std::string>());
        CHECK(keys == std::vector<std::string>{"code", "input_channel", "network_setting", "last_channel", "head",
                                               "classes", "input", "flops_g", "params_m"});
        CHECK(arch::parse_code(j["code"].as<std::string>()) == k);
        CHECK(arch::to_code(read_setting(j)) == k);
        const arch::convention back{j["input"].as<int>(), arch::parse_head_kind(j["head"].as<std::string>()),
                                    j["classes"].as<int>()};
        CHECK(back == c);
        const arch::cost total = arch::count(k, c);
        // The numbers as written, digit for digit.
        CHECK(contains(text, "\"flops_g\": " + arch::fixed_string(total.flops, 9) + ",\n"));
        CHECK(contains(text, "\"params_m\": " + arch::fixed_string(total.params, 6) + "\n"));
        CHECK(j["flops_g"].as<double>() == doctest::Approx(total.flops_g()).epsilon(1e-15));
        CHECK(j["params_m"].as<double>() == doctest::Approx(total.params_m()).epsilon(1e-15));
    }
}

TEST_CASE("invalid input: the code's or the convention's error") {
    arch::code k = arch::parse_code(ncp::test::all64);
    CHECK(contains(ncp::test::error_of([&] { exporting::network_json(k, {128, arch::head_kind::segmentation, 0}); }),
                   "class count 0"));
    k[26] = 136;
    CHECK(contains(ncp::test::error_of([&] { exporting::network_json(k); }), "code[26] = 136"));
}

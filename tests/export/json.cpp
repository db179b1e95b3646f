/// The JSON form: exactly the keys, the original's constructor arguments giving back the code, the totals of
/// the counter; read back by an independent parser (yaml-cpp reads JSON) for every tested network.

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "export/networks.hpp"
#include "ncp/arch/describe.hpp"
#include "ncp/export/json.hpp"
#include "ncp/io/atomic.hpp"
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

TEST_CASE("check_export.py: a JSON file is exact, and each kind of wrong one fails with a line naming it") {
    if (!ncp::test::python_imports({"json"}, "the JSON files in Python")) return;
    const ncp::test::scratch_dir dir("export-json-check");
    const arch::code k = arch::parse_code(ncp::test::all64);
    const std::string good = exporting::network_json(k);
    const auto replaced = [&](const std::string& from, const std::string& to) {
        std::string t = good;
        t.replace(t.find(from), from.size(), to);
        return t;
    };
    const std::vector<std::pair<std::string, std::string>> files = {
        {good, ""},
        {replaced("1.959638194", "1.959638195"), "flops_g 1.959638195, expected 1959638194 x 1e-9"},
        {replaced("4.128754", "4.128755"), "params_m 4.128755"},
        {replaced("[4, [2, 2, 2, 2], [64, 64, 64, 64]]]", "[4, [2, 2, 2, 2], [64, 64, 64, 72]]]"),
         "the constructor arguments are no code: module 7 differs from module 6"},
        {replaced("\"last_channel\": 64", "\"last_channel\": 72"), "the constructor arguments give code"},
        {replaced("\"head\": \"cls\"", "\"head\": \"seg\""), "head 'seg', expected 'cls'"},
        {replaced("  \"input\": 128,\n", ""), "keys ["},
    };
    std::vector<ncp::test::manifest_row> rows;
    for (std::size_t i = 0; i < files.size(); ++i) {
        const auto path = dir / (std::to_string(i) + ".json");
        ncp::io::atomic_write(path, files[i].first);
        rows.push_back({{k, {}, ncp::test::code_source::all64}, "", path.string(), ""});
    }
    ncp::test::write_manifest(dir / "manifest.csv", rows);
    const auto r = ncp::test::check_export(dir / "manifest.csv");
    INFO(r.out, r.err);
    CHECK(r.status == 1);
    CHECK(contains(r.out, std::to_string(files.size() - 1) + " failures"));
    CHECK(!contains(r.out, "0.json"));
    for (std::size_t i = 1; i < files.size(); ++i) {
        CHECK(contains(r.out, std::to_string(i) + ".json: "));
        CHECK(contains(r.out, files[i].second));
    }
}

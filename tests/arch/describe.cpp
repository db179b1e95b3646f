/// The block table and the setting JSON.

#include <doctest/doctest.h>

#include <string>

#include "ncp/arch/describe.hpp"
#include "test_support.hpp"

using ncp::test::contains;

namespace arch = ncp::arch;

namespace {

constexpr const char* all64 = "64_64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64";

}  // namespace

TEST_CASE("block rows: the network first, children summing to their parent, conv units as the finest rows") {
    const arch::network net = arch::build_network(arch::parse_code(all64));
    const auto rows = arch::block_rows(net);
    REQUIRE(!rows.empty());
    CHECK(rows[0].type == "network");
    CHECK(rows[0].depth == 0);
    CHECK(rows[0].total == arch::cost{1959638194, 4128754});
    CHECK(rows[0].input == "3x128x128");
    CHECK(rows[0].output == "50x1x1");
    // Each row's cost is the sum of its direct children's rows (the free operations have none).
    for (std::size_t r = 0; r < rows.size(); ++r) {
        arch::cost children;
        bool any = false;
        for (std::size_t c = r + 1; c < rows.size() && rows[c].depth > rows[r].depth; ++c)
            if (rows[c].depth == rows[r].depth + 1) {
                children += rows[c].total;
                any = true;
            }
        if (any) CHECK(children == rows[r].total);
    }
    int depth1 = 0;
    for (const auto& r : rows) depth1 += r.depth == 1;
    CHECK(depth1 == 1 + 8 + 1);  // stem, 8 modules, head
    CHECK(rows[1].type == "stem");
    CHECK(rows[2].type == "conv3x3/2-bn-relu");
    CHECK(rows[2].output == "64x64x64");
    CHECK(rows.back().type == "conv1x1+bias");
    CHECK(rows.back().output == "50x1x1");
    for (const auto& r : rows)
        if (r.type == "branch" || r.type == "basic-block" || r.type == "fuse" || r.type == "new-branch")
            CHECK(r.branch.has_value());
    // The fuse into branch 1 of the last module takes branches 0, 1 and 2.
    bool seen = false;
    for (const auto& r : rows)
        if (r.type == "fuse" && r.branch == 1 && r.input == "64x32x32,64x16x16,64x8x8") seen = true;
    CHECK(seen);
}

TEST_CASE("the table indents by depth and ends with the totals and the convention") {
    const std::string table =
        arch::block_table(arch::build_network(arch::parse_code(all64), {128, arch::head_kind::segmentation, 19}));
    CHECK(table.starts_with("block "));
    CHECK(contains(table, "\nnetwork "));
    CHECK(contains(table, "\n  stem "));
    CHECK(contains(table, "\n    conv3x3/2-bn-relu "));
    CHECK(contains(table, "head seg"));
    CHECK(contains(table, "19x32x32"));
    CHECK(table.ends_with("total: 1.977543680 G FLOPs, 4.126739 M params (input 128, head seg, classes 19)\n"));
}

TEST_CASE("the JSON holds what MultiResolutionNet takes, the convention and the totals") {
    const std::string json = arch::setting_json(arch::parse_code(all64));
    CHECK(contains(json, "\"input_channel\": [64, 64],"));
    CHECK(contains(json, "\"network_setting\": [[1, [2], [64]], [1, [2], [64]], [2, [2, 2], [64, 64]], [2, [2, 2], "
                         "[64, 64]], [3, [2, 2, 2], [64, 64, 64]], [3, [2, 2, 2], [64, 64, 64]], [4, [2, 2, 2, 2], "
                         "[64, 64, 64, 64]], [4, [2, 2, 2, 2], [64, 64, 64, 64]]],"));
    CHECK(contains(json, "\"last_channel\": 64,"));
    CHECK(contains(json, std::string("\"code\": \"") + all64 + "\","));
    CHECK(contains(json, "\"convention\": {\"input_side\": 128, \"head\": \"cls\", \"classes\": 50},"));
    CHECK(contains(json, "\"flops\": 1959638194,"));
    CHECK(contains(json, "\"params_m\": 4.128754\n}"));
}

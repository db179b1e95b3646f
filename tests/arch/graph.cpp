/// The block graph: shape inference for any input side divisible by 32, both heads, any class count, and the
/// generic walk over it.

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "ncp/arch/graph.hpp"
#include "ncp/arch/synthetic.hpp"
#include "test_support.hpp"

using ncp::test::error_of;
using ncp::test::contains;

namespace arch = ncp::arch;

namespace {

/// Every leaf convolution met by walk(), in order: its input and output shapes.
struct conv_recorder {
    std::vector<std::pair<arch::shape, arch::shape>> convs;
    int blocks = 0;
    template <int K, int S, bool B>
    void operator()(const arch::conv2d<K, S, B>& c, int) {
        convs.emplace_back(c.in, c.out());
    }
    template <class Node>
    void operator()(const Node&, int) {
        blocks += arch::block<Node>;
    }
};

/// Side of branch b for input side `side`.
int branch_side(int side, int b) { return side / (4 << b); }

}  // namespace

TEST_CASE("shapes of every module, branch and head follow the setting for any side divisible by 32") {
    std::mt19937_64 rng(7);
    for (int side : {32, 64, 96, 128, 160, 224, 512}) {
        for (int n = 0; n < 20; ++n) {
            const arch::code k = arch::detail::uniform_code(rng);
            const arch::network_setting s = arch::to_setting(k);
            const int classes = std::uniform_int_distribution(1, 1000)(rng);
            for (arch::head_kind kind : {arch::head_kind::classification, arch::head_kind::segmentation}) {
                const arch::network net = arch::build_network(k, {side, kind, classes});
                CHECK(net.in() == arch::shape{3, side, side});
                CHECK(net.stem.first.out() == arch::shape{k[0], side / 2, side / 2});
                CHECK(net.stem.out() == arch::shape{k[1], side / 4, side / 4});
                REQUIRE(net.modules.size() == s.modules.size());
                for (std::size_t m = 0; m < s.modules.size(); ++m) {
                    const arch::module_setting& ms = s.modules[m];
                    const arch::branch_shapes out = net.modules[m].out();
                    REQUIRE(out.size() == static_cast<std::size_t>(ms.branches));
                    for (int b = 0; b < ms.branches; ++b) {
                        const int at = branch_side(side, b);
                        CHECK(out[b] == arch::shape{ms.channels[b], at, at});
                        CHECK(net.modules[m].fuse.out()[b] == out[b]);
                        CHECK(net.modules[m].parallel.branches[b].blocks.size() ==
                              static_cast<std::size_t>(ms.blocks[b]));
                    }
                }
                const int last_branches = s.modules.back().branches;
                int concat = 0;
                for (int b = 0; b < last_branches; ++b) concat += s.modules.back().channels[b];
                const int head_side =
                    kind == arch::head_kind::classification ? branch_side(side, last_branches - 1) : side / 4;
                CHECK(net.head.transform.in() == arch::shape{concat, head_side, head_side});
                CHECK(net.head.transform.out() == arch::shape{k[26], head_side, head_side});
                const arch::shape expect_out = kind == arch::head_kind::classification
                                                   ? arch::shape{classes, 1, 1}
                                                   : arch::shape{classes, side / 4, side / 4};
                CHECK(net.out() == expect_out);
            }
        }
    }
}

TEST_CASE("the walk meets every convolution in forward order, chained shape to shape within a branch") {
    const arch::code k =
        arch::parse_code("16_32-1_1_2_24-1_2_1_3_40_48-1_3_1_1_2_56_64_72-1_4_1_1_1_1_80_88_96_104-112");
    const arch::network net = arch::build_network(k);
    conv_recorder rec;
    arch::walk(net, rec);
    // Stem 2; module 0: 1 fuse conv + 2x2 block convs; module 1: fuse 1 + new branch 1, blocks 2 + 6;
    // module 2: fuse (same, up) + (down, same) + new 1, blocks 2 + 2 + 4; module 3: fuse (s,u) (d,s,u) (d,s) + new 1,
    // blocks 2 x 4; head 2.
    CHECK(rec.convs.size() == 2 + (1 + 4) + (2 + 8) + (5 + 8) + (8 + 8) + 2);
    CHECK(rec.convs[0] == std::pair{arch::shape{3, 128, 128}, arch::shape{16, 64, 64}});
    CHECK(rec.convs[1] == std::pair{arch::shape{16, 64, 64}, arch::shape{32, 32, 32}});
    CHECK(rec.convs[2] == std::pair{arch::shape{32, 32, 32}, arch::shape{24, 32, 32}});   // fuse, same branch
    CHECK(rec.convs[3] == std::pair{arch::shape{24, 32, 32}, arch::shape{24, 32, 32}});   // block 1
    CHECK(rec.convs[6] == std::pair{arch::shape{24, 32, 32}, arch::shape{24, 32, 32}});   // block 2, second conv
    CHECK(rec.convs[7] == std::pair{arch::shape{24, 32, 32}, arch::shape{40, 32, 32}});   // module 1 fuse
    CHECK(rec.convs[8] == std::pair{arch::shape{40, 32, 32}, arch::shape{48, 16, 16}});   // new branch
    CHECK(rec.convs.back() == std::pair{arch::shape{112, 1, 1}, arch::shape{50, 1, 1}});  // classifier
    CHECK(rec.convs[rec.convs.size() - 2] ==
          std::pair{arch::shape{80 + 88 + 96 + 104, 4, 4}, arch::shape{112, 4, 4}});      // head transform
    CHECK(rec.blocks > 0);
}

TEST_CASE("fuse contributions: same always, down from the branch above, 1x1 up from the branch below") {
    const arch::code k = arch::parse_code("64_64-1_1_1_64-1_2_1_1_64_64-1_3_1_1_1_64_64_64-1_4_1_1_1_1_64_64_64_64-64");
    const arch::network net = arch::build_network(k);
    const auto& fuse = net.modules[3].fuse;  // 3 -> 4 branches
    REQUIRE(fuse.targets.size() == 3);
    REQUIRE(fuse.spawned.size() == 1);
    CHECK(!fuse.targets[0].has_down);
    CHECK(fuse.targets[0].has_up);
    CHECK(fuse.targets[1].has_down);
    CHECK(fuse.targets[1].has_up);
    CHECK(fuse.targets[2].has_down);
    CHECK(!fuse.targets[2].has_up);
    CHECK(fuse.targets[0].up.in() == arch::shape{64, 16, 16});
    CHECK(fuse.targets[0].up.unit.out() == arch::shape{64, 16, 16});  // 1x1 conv at the lower resolution
    CHECK(fuse.targets[0].up.out() == arch::shape{64, 32, 32});       // then upsampled
    CHECK(fuse.spawned[0].branch == 3);
    CHECK(fuse.spawned[0].in() == arch::shape{64, 8, 8});
    CHECK(fuse.spawned[0].out() == arch::shape{64, 4, 4});
}

TEST_CASE("a setting may also lower its branch count: the dropped branches feed only their upper neighbour") {
    const arch::network_setting s{{32, 32}, {{1, {1}, {32}}, {3, {1, 1, 1}, {32, 48, 64}}, {1, {2}, {40}}}, 16};
    const arch::network net = arch::build_network(s, {64, arch::head_kind::classification, 10});
    const auto& fuse = net.modules[2].fuse;
    REQUIRE(fuse.targets.size() == 1);
    CHECK(fuse.targets[0].up.in() == arch::shape{48, 8, 8});
    CHECK(net.modules[2].out().size() == 1);
    CHECK(net.out() == arch::shape{10, 1, 1});
}

TEST_CASE("conventions: sides not divisible by 32, non-positive sides and class counts are rejected") {
    const arch::code k = arch::parse_code("64,64,2,2,64,2,2,2,64,64,2,2,2,2,64,64,64,2,2,2,2,2,64,64,64,64,64");
    for (int side : {0, -32, 16, 100, 240, 20000})
        CHECK(contains(error_of([&] { arch::build_network(k, {side, arch::head_kind::classification, 50}); }),
                       "input side " + std::to_string(side)));
    for (int classes : {0, -1, 2000000})
        CHECK(contains(error_of([&] { arch::build_network(k, {128, arch::head_kind::segmentation, classes}); }),
                       "class count " + std::to_string(classes)));
    CHECK(arch::parse_head_kind("cls") == arch::head_kind::classification);
    CHECK(arch::parse_head_kind("seg") == arch::head_kind::segmentation);
    CHECK(contains(error_of([] { arch::parse_head_kind("det"); }), "unknown head 'det'"));
    CHECK(arch::to_string(arch::convention{}) == "input 128, head cls, classes 50");
}

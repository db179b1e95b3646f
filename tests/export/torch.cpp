/// The PyTorch module file: its text follows the block graph, and PyTorch itself (one /usr/bin/python3 process for
/// every tested network) finds exactly the counted parameters and hook FLOPs and the head's output shape.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "export/networks.hpp"
#include "ncp/export/json.hpp"
#include "ncp/export/torch.hpp"
#include "ncp/io/atomic.hpp"
#include "test_support.hpp"

using ncp::test::contains;

namespace arch = ncp::arch;
namespace exporting = ncp::exporting;

namespace {

/// How often `part` occurs in `text`.
std::size_t occurrences(const std::string& text, const std::string& part) {
    std::size_t n = 0;
    for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) ++n;
    return n;
}

template <class Node>
constexpr bool is_unit = false;
template <int K, int S, bool Relu>
constexpr bool is_unit<arch::conv_bn_act<K, S, Relu>> = true;
template <class Node>
constexpr bool is_block = false;
template <class First, class Second>
constexpr bool is_block<arch::basic_block<First, Second>> = true;

/// Counts the conv units and BasicBlocks of a graph as walk() meets them.
struct unit_counter {
    std::size_t units = 0;   ///< conv-BN(-ReLU) units
    std::size_t blocks = 0;  ///< BasicBlocks
    template <class Node>
    void operator()(const Node&, int) {
        units += is_unit<Node>;
        blocks += is_block<Node>;
    }
};

}  // namespace

TEST_CASE("the module text: a header line with the counts, the layer classes, Net composed as the graph is") {
    const arch::code k = arch::parse_code(ncp::test::all64);
    const std::string py = exporting::torch_module(k);
    CHECK(py.starts_with("# ncp export: " + std::string(ncp::test::all64) +
                         " | input 128, head cls, classes 50 | 1.959638194 G FLOPs, 4.128754 M params\n"));
    CHECK(contains(py, "\nimport torch\nimport torch.nn as nn\n"));
    CHECK(occurrences(py, "import ") == 2);
    CHECK(contains(py, "\nclass Net(nn.Module):\n"));
    CHECK(contains(py, "\nFLOPS = 1959638194\nPARAMS = 4128754\n"));
    CHECK(contains(py, "INPUT_SHAPE = (1, 3, 128, 128)"));
    CHECK(contains(py, "self.stem = nn.Sequential(ConvBN(3, 64, 3, 2), ConvBN(64, 64, 3, 2))"));
    CHECK(contains(py, "self.head = Head(pool=True, transform=ConvBN(256, 64, 1, 1), "
                       "classifier=nn.Conv2d(64, 50, 1))"));
    CHECK(contains(py, "Fuse(1, down=ConvBN(64, 64, 3, 2), same=ConvBN(64, 64, 3, 1), "
                       "up=Upsampled(ConvBN(64, 64, 1, 1), 2))"));
    // One ConvBN per conv unit of the graph and one BasicBlock per block, each written once in Net.
    unit_counter n;
    const arch::network net = arch::build_network(k);
    arch::walk(net, n);
    const std::string body = py.substr(py.find("class Net("));
    CHECK(n.blocks == 2 * (1 + 2 + 3 + 4) * 2);  // 2 modules per stage, 2 blocks per branch
    CHECK(occurrences(body, "BasicBlock(") == n.blocks);
    CHECK(occurrences(body, "ConvBN(") == n.units - 2 * n.blocks);  // a BasicBlock holds two
    CHECK(occurrences(body, "MultiResolutionModule(") == net.modules.size());

    const std::string seg = exporting::torch_module(k, {256, arch::head_kind::segmentation, 19});
    CHECK(contains(seg, "Head(pool=False, transform=ConvBN(256, 64, 1, 1), classifier=nn.Conv2d(64, 19, 1))"));
    CHECK(contains(seg, "per-pixel logits (batch, 19, 64, 64)"));
    CHECK(contains(seg, "INPUT_SHAPE = (1, 3, 256, 256)"));
}

TEST_CASE("invalid codes and conventions are refused with the usual messages") {
    arch::code k = arch::parse_code(ncp::test::all64);
    CHECK(contains(ncp::test::error_of([&] { exporting::torch_module(k, {100, arch::head_kind::classification, 50}); }),
                   "input side 100"));
    CHECK(contains(ncp::test::error_of([&] { exporting::torch_module(k, {128, arch::head_kind::classification, 0}); }),
                   "class count 0"));
    k[3] = 9;
    CHECK(contains(ncp::test::error_of([&] { exporting::torch_module(k); }), "code[3] = 9"));
}

TEST_CASE("PyTorch: exact params and hook FLOPs, the head's output shape, JSON describing the module") {
    if (!ncp::test::python_imports({"torch"}, "the exported modules in PyTorch")) return;
    const ncp::test::scratch_dir dir("export-torch");
    std::vector<ncp::test::manifest_row> rows;
    const auto networks = ncp::test::test_networks();
    for (std::size_t i = 0; i < networks.size(); ++i) {
        const auto& [k, c, source] = networks[i];
        const auto py = dir / (std::to_string(i) + ".py");
        const auto json = dir / (std::to_string(i) + ".json");
        ncp::io::atomic_write(py, exporting::torch_module(k, c));
        ncp::io::atomic_write(json, exporting::network_json(k, c));
        rows.push_back({networks[i], py.string(), json.string(), ""});
    }
    ncp::test::write_manifest(dir / "manifest.csv", rows);
    const auto r = ncp::test::check_export(dir / "manifest.csv");
    INFO(r.out, r.err);
    CHECK(r.status == 0);
    CHECK(contains(r.out, "networks (torch " + std::to_string(rows.size()) + ", json " + std::to_string(rows.size())));
    CHECK(contains(r.out, "all exact"));
    MESSAGE(r.out);
}

TEST_CASE("the checker fails a module whose counts differ") {
    if (!ncp::test::python_imports({"torch"}, "the checker against a wrong count")) return;
    const ncp::test::scratch_dir dir("export-torch-wrong");
    const arch::code k = arch::parse_code(ncp::test::all64);
    // The module with one more import, then a manifest with the right code and input, one more multiply-accumulate
    // and parameter than counted, and 11 classes.
    ncp::io::atomic_write(dir / "net.py",
                          exporting::torch_module(k, {64, arch::head_kind::classification, 10}) + "import os\n");
    const arch::cost c = arch::count(k, {64, arch::head_kind::classification, 10});
    ncp::io::atomic_write(dir / "manifest.csv", "code,head,classes,input,flops,params,torch,json,onnx\n" +
                                                    std::string(ncp::test::all64) + ",cls,11,64," +
                                                    std::to_string(c.flops + 1) + "," + std::to_string(c.params + 1) +
                                                    "," + (dir / "net.py").string() + ",,\n");
    const auto r = ncp::test::check_export(dir / "manifest.csv");
    CHECK(r.status == 1);
    CHECK(contains(r.out, "parameters, expected " + std::to_string(c.params + 1)));
    CHECK(contains(r.out, "multiply-accumulates, expected " + std::to_string(c.flops + 1)));
    CHECK(contains(r.out, "output shape (1, 10), expected (1, 11)"));
    CHECK(contains(r.out, "imports ['os'] besides torch and torch.nn"));
}

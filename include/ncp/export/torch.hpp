#pragma once
/// The PyTorch form of an exported network: one self-contained Python file (it imports only torch and torch.nn)
/// defining `class Net(torch.nn.Module)`, built with no arguments, in plain layers: a stem, multi-resolution
/// modules (a fuse step, then BasicBlocks per branch) and a head. Every number in it comes from the block graph that
/// arch::count prices, and every layer of the graph is one PyTorch layer, so the module has exactly the counted
/// parameters, and forward hooks counting convolution multiply-accumulates (+1 per output element with a bias) and 2
/// per batch-norm element count exactly the counted FLOPs.

#include <string>

#include "ncp/arch/blocks.hpp"
#include "ncp/arch/code.hpp"
#include "ncp/arch/count.hpp"
#include "ncp/arch/describe.hpp"
#include "ncp/arch/graph.hpp"
#include "ncp/config.hpp"

namespace ncp::exporting {

namespace detail {

/// The layer classes every exported file defines; Net's constructor composes them. The semantics follow the block
/// graph (arch/blocks.hpp): conv units, nearest upsampling, identity-residual BasicBlocks, fuse sums in the order
/// down + same + up, new branches from the branch before, a head resizing bilinearly (align_corners=False).
inline constexpr const char* torch_layers = R"(import torch
import torch.nn as nn


class ConvBN(nn.Module):
    """Convolution without bias (padding (kernel - 1) // 2), batch norm, then ReLU unless relu=False."""

    def __init__(self, cin, cout, kernel, stride, relu=True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.relu = relu

    def forward(self, x):
        x = self.bn(self.conv(x))
        return torch.relu(x) if self.relu else x


class Upsampled(nn.Module):
    """`unit`, then nearest-neighbour upsampling by `factor`."""

    def __init__(self, unit, factor):
        super().__init__()
        self.unit = unit
        self.factor = factor

    def forward(self, x):
        return nn.functional.interpolate(self.unit(x), scale_factor=self.factor, mode='nearest')


class BasicBlock(nn.Module):
    """ResNet's basic block on `channels` feature maps: two 3x3 ConvBN (the second without ReLU), the input added
    back, ReLU."""

    def __init__(self, channels):
        super().__init__()
        self.first = ConvBN(channels, channels, 3, 1)
        self.second = ConvBN(channels, channels, 3, 1, relu=False)

    def forward(self, x):
        return torch.relu(self.second(self.first(x)) + x)


class Fuse(nn.Module):
    """Output branch `branch` of a fuse step: the sum of `down` (from the higher-resolution branch - 1), `same` (from
    the same branch) and `up` (from the lower-resolution branch + 1), those given, then ReLU."""

    def __init__(self, branch, same, down=None, up=None):
        super().__init__()
        self.branch = branch
        self.down = down
        self.same = same
        self.up = up

    def forward(self, xs):
        i = self.branch
        y = self.same(xs[i])
        if self.down is not None:
            y = self.down(xs[i - 1]) + y
        if self.up is not None:
            y = y + self.up(xs[i + 1])
        return torch.relu(y)


class MultiResolutionModule(nn.Module):
    """A fuse step (`fuse`: one Fuse per output branch fed by the previous module; `spawn`: each further branch, made
    by a stride-2 ConvBN of the branch before it), then `branches`: the BasicBlocks of every branch."""

    def __init__(self, fuse, spawn, branches):
        super().__init__()
        self.fuse = nn.ModuleList(fuse)
        self.spawn = nn.ModuleList(spawn)
        self.branches = nn.ModuleList(branches)

    def forward(self, xs):
        ys = [fuse(xs) for fuse in self.fuse]
        for spawn in self.spawn:
            ys.append(spawn(ys[-1]))
        return [branch(y) for branch, y in zip(self.branches, ys)]


class Head(nn.Module):
    """Every branch resized (bilinear) to the lowest resolution when `pool` (classification) or to the highest
    (segmentation), concatenated, `transform`, global average pooling when `pool`, then `classifier`."""

    def __init__(self, pool, transform, classifier):
        super().__init__()
        self.pool = pool
        self.transform = transform
        self.classifier = classifier

    def forward(self, xs):
        size = (xs[-1] if self.pool else xs[0]).shape[-2:]
        x = torch.cat([x if x.shape[-2:] == size else
                       nn.functional.interpolate(x, size=size, mode='bilinear', align_corners=False) for x in xs], 1)
        x = self.transform(x)
        if self.pool:
            return self.classifier(nn.functional.adaptive_avg_pool2d(x, 1)).flatten(1)
        return self.classifier(x)
)";

/// A conv unit as `ConvBN(cin, cout, kernel, stride[, relu=False])`.
template <int K, int S, bool Relu>
std::string torch_layer(const arch::conv_bn_act<K, S, Relu>& u) {
    return "ConvBN(" + std::to_string(u.in().channels) + ", " + std::to_string(u.out().channels) + ", " +
           std::to_string(K) + ", " + std::to_string(S) + (Relu ? "" : ", relu=False") + ")";
}

/// A plain convolution (the classifier) as `nn.Conv2d(...)`, stride and padding spelled out only where not 1 and 0.
template <int K, int S, bool B>
std::string torch_layer(const arch::conv2d<K, S, B>& c) {
    const bool plain = K == 1 && S == 1;
    return "nn.Conv2d(" + std::to_string(c.in.channels) + ", " + std::to_string(c.out_channels) + ", " +
           std::to_string(K) + (plain ? "" : ", " + std::to_string(S) + ", " + std::to_string((K - 1) / 2)) +
           (B ? "" : ", bias=False") + ")";
}

template <class Unit, int Factor>
std::string torch_layer(const arch::upsampled<Unit, Factor>& u) {
    return "Upsampled(" + torch_layer(u.unit) + ", " + std::to_string(Factor) + ")";
}

/// BasicBlock (the Python class) is the graph's default block: two 3x3 units, the second without ReLU.
inline std::string torch_layer(const arch::basic_block<>& b) {
    return "BasicBlock(" + std::to_string(b.in().channels) + ")";
}

inline std::string torch_layer(const arch::fuse_target<>& t) {
    return "Fuse(" + std::to_string(t.branch) + (t.has_down ? ", down=" + torch_layer(t.down) : "") +
           ", same=" + torch_layer(t.same) + (t.has_up ? ", up=" + torch_layer(t.up) : "") + ")";
}

inline std::string torch_layer(const arch::spawn<>& s) { return torch_layer(s.unit); }

inline std::string torch_layer(const arch::parallel_branch<>& b) {
    std::string t = "nn.Sequential(";
    for (std::size_t k = 0; k < b.blocks.size(); ++k) t += (k > 0 ? ", " : "") + torch_layer(b.blocks[k]);
    return t + ")";
}

/// `items` as a Python list, one per line indented one level past `indent` (the closing bracket at `indent`).
template <class Items>
std::string torch_list(const Items& items, const std::string& indent) {
    if (items.empty()) return "[]";
    std::string t = "[\n";
    for (const auto& item : items) t += indent + "    " + torch_layer(item) + ",\n";
    return t + indent + "]";
}

inline std::string torch_layer(const arch::module_block<>& m) {
    const std::string in = "                ";
    return "MultiResolutionModule(\n" + in + "fuse=" + torch_list(m.fuse.targets, in) + ",\n" + in +
           "spawn=" + torch_list(m.fuse.spawned, in) + ",\n" + in + "branches=" + torch_list(m.parallel.branches, in) +
           ")";
}

inline std::string torch_layer(const arch::stem<>& s) {
    return "nn.Sequential(" + torch_layer(s.first) + ", " + torch_layer(s.second) + ")";
}

inline std::string torch_layer(const arch::head<>& h) {
    return std::string("Head(pool=") + (h.kind == arch::head_kind::classification ? "True" : "False") +
           ", transform=" + torch_layer(h.transform) + ", classifier=" + torch_layer(h.classifier) + ")";
}

/// "0.123456789 G FLOPs, 1.234567 M params".
inline std::string cost_text(const arch::cost& c) {
    return arch::fixed_string(c.flops, arch::flops_g_decimals) + " G FLOPs, " +
           arch::fixed_string(c.params, arch::params_m_decimals) + " M params";
}

}  // namespace detail

/// The Python file of code `k` (validated) under convention `c` (validated): a first comment line with the code, the
/// convention and its FLOPs/params, the layer classes, constants (CODE, INPUT_SHAPE, FLOPS, PARAMS) and
/// `class Net(nn.Module)`. Net() maps images (batch, 3, side, side) to (batch, classes) with the cls head and to
/// (batch, classes, side / 4, side / 4) with the seg head; its convolutions start as the original release's do
/// (He-normal, fan out), batch norm at PyTorch's defaults.
inline std::string torch_module(const arch::code& k, const arch::convention& c = {}) {
    const arch::network net = arch::build_network(k, c);
    const std::string code = arch::to_string(k);
    const arch::cost total = arch::count(net);
    const arch::shape out = net.out();
    const bool pooled = c.head == arch::head_kind::classification;
    std::string t = "# ncp export: " + code + " | " + arch::to_string(c) + " | " + detail::cost_text(total) + "\n";
    t += "\"\"\"The NAS-Bench-MR network of code " + code + ", as a PyTorch module (written by ncp " + version +
         ").\n\nNet() maps images (batch, 3, " + std::to_string(c.input_side) + ", " +
         std::to_string(c.input_side) + ") to " +
         (pooled ? "logits (batch, " + std::to_string(out.channels) + ")"
                 : "per-pixel logits (batch, " + std::to_string(out.channels) + ", " +
                       std::to_string(out.height) + ", " + std::to_string(out.width) + ")") +
         ". Counting convolution multiply-accumulates\n(+1 per output element with a bias) and 2 per batch-norm "
         "element gives FLOPS; PARAMS is its parameter count.\n\"\"\"\n";
    t += detail::torch_layers;
    t += "\n\nCODE = '" + code + "'\nINPUT_SHAPE = (1, 3, " + std::to_string(c.input_side) + ", " +
         std::to_string(c.input_side) + ")\nFLOPS = " + std::to_string(total.flops) +
         "\nPARAMS = " + std::to_string(total.params) + "\n\n\n";
    t += "class Net(nn.Module):\n"
         "    \"\"\"Code " + code + " (" + arch::to_string(c) + "): " + detail::cost_text(total) + ".\"\"\"\n\n"
         "    def __init__(self):\n"
         "        super().__init__()\n"
         "        # " + arch::detail::shape_text(net.stem.in()) + " -> " + arch::detail::shape_text(net.stem.out()) +
         "\n        self.stem = " + detail::torch_layer(net.stem) + "\n"
         "        self.features = nn.Sequential(\n";
    for (const auto& m : net.modules) {
        const arch::cost part = arch::count(m);
        t += "            # module " + std::to_string(m.index) + ": " + arch::detail::shape_text(m.in()) + " -> " +
             arch::detail::shape_text(m.out()) + " (" + detail::cost_text(part) + ")\n            " +
             detail::torch_layer(m) + ",\n";
    }
    t += "        )\n"
         "        # " + arch::detail::shape_text(net.head.in()) + " -> " + arch::detail::shape_text(out) +
         (pooled ? " (flattened)" : "") + "\n        self.head = " + detail::torch_layer(net.head) + "\n"
         "        # The original release's initialisation: He-normal convolution weights (fan out); batch norm\n"
         "        # starts at PyTorch's defaults (scale 1, shift 0).\n"
         "        for m in self.modules():\n"
         "            if isinstance(m, nn.Conv2d):\n"
         "                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')\n\n"
         "    def forward(self, x):\n"
         "        return self.head(self.features([self.stem(x)]))\n\n\n"
         "if __name__ == '__main__':\n"
         "    net = Net().eval()\n"
         "    with torch.no_grad():\n"
         "        y = net(torch.randn(INPUT_SHAPE))\n"
         "    print(CODE, 'output', tuple(y.shape), 'params', sum(p.numel() for p in net.parameters()))\n";
    return t;
}

}  // namespace ncp::exporting

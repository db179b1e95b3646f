#pragma once
/// The nodes of the block graph: leaf operations, and block templates composed from them at compile time.
///
/// A block holds its children and exposes them in forward order through `for_each_child(f)`; a leaf has no
/// children. Shapes are inferred when a block is made: each convolution stores its input shape and output
/// channels, from which its output shape follows; leaves that own nothing but a shape (batch norm, ReLU, add,
/// upsampling, ...) are handed to the visitor by their block. So a visitor (walk()) sees every tensor's shape, and
/// a forward pass could run the same graph. Small blocks are values (`make` returns one); blocks holding lists of
/// blocks are filled in place (`assign`). Both choices keep building a graph cheap: it is most of the cost of
/// counting.

#include <array>
#include <cstdint>
#include <string_view>

#include "ncp/arch/code.hpp"
#include "ncp/arch/static_vector.hpp"

namespace ncp::arch {

/// Shape of one tensor of batch 1: channels x height x width.
struct shape {
    int channels;  ///< feature maps
    int height;    ///< rows
    int width;     ///< columns
    /// Number of elements.
    constexpr std::int64_t elements() const { return std::int64_t{channels} * height * width; }
    friend constexpr bool operator==(const shape&, const shape&) = default;
};

/// The shapes of the parallel branches at one point of the network, branch 0 first.
using branch_shapes = detail::static_vector<shape, max_branches>;

// ---- leaves ---------------------------------------------------------------------------------------------------

/// Convolution Kernel x Kernel, stride Stride, padding (Kernel - 1) / 2, with a bias when Bias.
template <int Kernel, int Stride, bool Bias = false>
struct conv2d {
    static constexpr int kernel = Kernel;  ///< kernel side
    static constexpr int stride = Stride;  ///< stride
    static constexpr bool bias = Bias;     ///< whether it adds a bias
    shape in;          ///< input tensor
    int out_channels;  ///< output feature maps

    /// The convolution from `in` to `out_channels` feature maps.
    static constexpr conv2d make(shape in, int out_channels) { return {in, out_channels}; }
    /// The output tensor.
    constexpr shape out() const {
        constexpr int pad = (Kernel - 1) / 2;
        return {out_channels, (in.height + 2 * pad - Kernel) / Stride + 1,
                (in.width + 2 * pad - Kernel) / Stride + 1};
    }
};

/// Batch normalisation (affine); output shape = input shape.
struct batch_norm {
    shape in;  ///< input (and output) tensor
};

/// ReLU; output shape = input shape.
struct relu {
    shape in;  ///< input (and output) tensor
};

/// Element-wise sum of two tensors of the same shape.
struct add {
    shape in;  ///< each operand's (and the output's) shape
};

/// Nearest-neighbour upsampling.
struct upsample_nearest {
    shape in;   ///< input tensor
    shape out;  ///< output tensor
};

/// Bilinear resizing (align_corners false).
struct resize_bilinear {
    shape in;   ///< input tensor
    shape out;  ///< output tensor
};

/// Concatenation along channels of tensors of the same height and width.
struct concat {
    shape out;  ///< the concatenated tensor
};

/// Average over height and width, to channels x 1 x 1.
struct global_avg_pool {
    shape in;  ///< input tensor
};

// ---- blocks ---------------------------------------------------------------------------------------------------

/// Conv (no bias) -> batch norm -> ReLU when Relu.
template <int Kernel, int Stride, bool Relu = true>
struct conv_bn_act {
    /// Its name in tables.
    static constexpr std::string_view name = Relu ? "conv-bn-relu" : "conv-bn";
    conv2d<Kernel, Stride> conv;  ///< the convolution

    /// The unit from `in` to `out_channels` feature maps.
    static constexpr conv_bn_act make(shape in, int out_channels) {
        return {conv2d<Kernel, Stride>::make(in, out_channels)};
    }
    /// Input shape.
    constexpr shape in() const { return conv.in; }
    /// Output shape.
    constexpr shape out() const { return conv.out(); }
    /// Calls `f` on each child in forward order.
    template <class F>
    constexpr void for_each_child(F&& f) const {
        f(conv);
        f(batch_norm{out()});
        if constexpr (Relu) f(relu{out()});
    }
};

/// `Unit`, then nearest upsampling by Factor (a fuse contribution from the next lower resolution).
template <class Unit, int Factor = 2>
struct upsampled {
    /// Its name in tables.
    static constexpr std::string_view name = "upsampled";
    Unit unit;  ///< the unit before upsampling

    /// `Unit::make(in, out_channels)` followed by the upsampling.
    static constexpr upsampled make(shape in, int out_channels) { return {Unit::make(in, out_channels)}; }
    /// Input shape.
    constexpr shape in() const { return unit.in(); }
    /// Output shape.
    constexpr shape out() const {
        const shape u = unit.out();
        return {u.channels, u.height * Factor, u.width * Factor};
    }
    /// Calls `f` on each child in forward order.
    template <class F>
    constexpr void for_each_child(F&& f) const {
        f(unit);
        f(upsample_nearest{unit.out(), out()});
    }
};

/// ResNet's BasicBlock with an identity residual: First (3x3 conv-BN-ReLU), Second (3x3 conv-BN), add, ReLU.
template <class First = conv_bn_act<3, 1, true>, class Second = conv_bn_act<3, 1, false>>
struct basic_block {
    /// Its name in tables.
    static constexpr std::string_view name = "basic-block";
    First first;    ///< first unit
    Second second;  ///< second unit, before the residual

    /// The block on `in`, keeping its channels.
    static constexpr basic_block make(shape in) {
        const First f = First::make(in, in.channels);
        return {f, Second::make(f.out(), in.channels)};
    }
    /// Input shape.
    constexpr shape in() const { return first.in(); }
    /// Output shape.
    constexpr shape out() const { return second.out(); }
    /// Calls `f` on each child in forward order.
    template <class F>
    constexpr void for_each_child(F&& f) const {
        f(first);
        f(second);
        f(add{second.out()});
        f(relu{second.out()});
    }
};

/// One output branch of a fuse step: the sum of Down (from branch - 1), Same (from branch) and Up (from
/// branch + 1), those that exist, then ReLU. Presence is a flag beside an always-initialised member rather than a
/// std::optional, whose default constructor would write into every unused slot of a network.
template <class Down = conv_bn_act<3, 2>, class Same = conv_bn_act<3, 1>, class Up = upsampled<conv_bn_act<1, 1>>>
struct fuse_target {
    /// Its name in tables.
    static constexpr std::string_view name = "fuse";
    int branch;     ///< output branch
    bool has_down;  ///< whether `down` contributes (branch > 0)
    bool has_up;    ///< whether `up` contributes (branch + 1 is an input)
    Down down;      ///< from the higher-resolution neighbour, when has_down
    Same same;      ///< from the same branch (always a conv, even when the channels agree)
    Up up;          ///< from the lower-resolution neighbour, when has_up

    /// Output branch `i` (< inputs.size()) with `out_channels` channels.
    static constexpr fuse_target make(int i, const branch_shapes& inputs, int out_channels) {
        const bool d = i > 0;
        const bool u = static_cast<std::size_t>(i + 1) < inputs.size();
        return {i, d, u, d ? Down::make(inputs[i - 1], out_channels) : Down{}, Same::make(inputs[i], out_channels),
                u ? Up::make(inputs[i + 1], out_channels) : Up{}};
    }
    /// Input shapes, per branch.
    constexpr branch_shapes in() const {
        branch_shapes s;
        if (has_down) s.push_back(down.in());
        s.push_back(same.in());
        if (has_up) s.push_back(up.in());
        return s;
    }
    /// Output shape.
    constexpr shape out() const { return same.out(); }
    /// Calls `f` on each child in forward order.
    template <class F>
    constexpr void for_each_child(F&& f) const {
        if (has_down) f(down);
        f(same);
        if (has_up) f(up);
        for (int k = 1; k < 1 + has_down + has_up; ++k) f(add{out()});
        f(relu{out()});
    }
};

/// A new branch of a fuse step, made from the fused branch above it by Unit (3x3 stride-2 conv-BN-ReLU).
template <class Unit = conv_bn_act<3, 2>>
struct spawn {
    /// Its name in tables.
    static constexpr std::string_view name = "new-branch";
    int branch;  ///< the new branch
    Unit unit;   ///< from branch - 1

    /// Branch `b` from the fused branch b - 1 of shape `from`.
    static constexpr spawn make(int b, shape from, int out_channels) { return {b, Unit::make(from, out_channels)}; }
    /// Input shape.
    constexpr shape in() const { return unit.in(); }
    /// Output shape.
    constexpr shape out() const { return unit.out(); }
    /// Calls `f` on each child in forward order.
    template <class F>
    constexpr void for_each_child(F&& f) const {
        f(unit);
    }
};

/// Fuse step of a module: from the previous branches to this module's branches and channels.
template <class Target = fuse_target<>, class Spawn = spawn<>>
struct fuse_step {
    /// Its name in tables.
    static constexpr std::string_view name = "fuse-step";
    branch_shapes inputs;                                    ///< the previous module's outputs
    detail::static_vector<Target, max_branches> targets;     ///< output branches fed by inputs
    detail::static_vector<Spawn, max_branches - 1> spawned;  ///< output branches beyond the inputs

    /// Becomes the fuse step from `in` to module `m`'s branches.
    constexpr void assign(const branch_shapes& in, const module_setting& m) {
        inputs = in;
        const int kept = m.branches < static_cast<int>(in.size()) ? m.branches : static_cast<int>(in.size());
        targets.clear();
        for (int i = 0; i < kept; ++i) targets.push_back(Target::make(i, in, m.channels[i]));
        spawned.clear();
        for (int b = kept; b < m.branches; ++b)
            spawned.push_back(
                Spawn::make(b, spawned.empty() ? targets.back().out() : spawned.back().out(), m.channels[b]));
    }
    /// Input shapes, per branch.
    constexpr branch_shapes in() const { return inputs; }
    /// Output shapes, per branch.
    constexpr branch_shapes out() const {
        branch_shapes s;
        for (const auto& t : targets) s.push_back(t.out());
        for (const auto& n : spawned) s.push_back(n.out());
        return s;
    }
    /// Calls `f` on each child in forward order.
    template <class F>
    constexpr void for_each_child(F&& f) const {
        for (const auto& t : targets) f(t);
        for (const auto& n : spawned) f(n);
    }
};

/// The blocks of one branch of a parallel step.
template <class Block = basic_block<>>
struct parallel_branch {
    /// Its name in tables.
    static constexpr std::string_view name = "branch";
    int branch;                                         ///< which branch
    detail::static_vector<Block, max_branches> blocks;  ///< in order (a module has 1..4 per branch)

    /// Becomes `count` blocks on branch `b` of shape `in`.
    constexpr void assign(int b, shape in, int count) {
        branch = b;
        blocks.clear();
        for (int k = 0; k < count; ++k) blocks.push_back(Block::make(k == 0 ? in : blocks.back().out()));
    }
    /// Input shape.
    constexpr shape in() const { return blocks[0].in(); }
    /// Output shape.
    constexpr shape out() const { return blocks.back().out(); }
    /// Calls `f` on each child in forward order.
    template <class F>
    constexpr void for_each_child(F&& f) const {
        for (const auto& b : blocks) f(b);
    }
};

/// Parallel step of a module: each branch through its own blocks.
template <class Branch = parallel_branch<>>
struct parallel_step {
    /// Its name in tables.
    static constexpr std::string_view name = "parallel-step";
    detail::static_vector<Branch, max_branches> branches;  ///< branch 0 first

    /// Becomes the step on `in` (the fuse step's outputs) for module `m`.
    constexpr void assign(const branch_shapes& in, const module_setting& m) {
        branches.clear();
        for (int b = 0; b < m.branches; ++b) branches.emplace_back().assign(b, in[b], m.blocks[b]);
    }
    /// Input shapes, per branch.
    constexpr branch_shapes in() const {
        branch_shapes s;
        for (const auto& b : branches) s.push_back(b.in());
        return s;
    }
    /// Output shapes, per branch.
    constexpr branch_shapes out() const {
        branch_shapes s;
        for (const auto& b : branches) s.push_back(b.out());
        return s;
    }
    /// Calls `f` on each child in forward order.
    template <class F>
    constexpr void for_each_child(F&& f) const {
        for (const auto& b : branches) f(b);
    }
};

/// One module: a fuse step, then a parallel step.
template <class Fuse = fuse_step<>, class Parallel = parallel_step<>>
struct module_block {
    /// Its name in tables.
    static constexpr std::string_view name = "module";
    int index;          ///< position in the network (0-based)
    Fuse fuse;          ///< fuse step
    Parallel parallel;  ///< parallel step

    /// Becomes module `i` (setting `m`) on the branches `in`.
    constexpr void assign(int i, const branch_shapes& in, const module_setting& m) {
        index = i;
        fuse.assign(in, m);
        parallel.assign(fuse.out(), m);
    }
    /// Input shapes, per branch.
    constexpr branch_shapes in() const { return fuse.in(); }
    /// Output shapes, per branch.
    constexpr branch_shapes out() const { return parallel.out(); }
    /// Calls `f` on each child in forward order.
    template <class F>
    constexpr void for_each_child(F&& f) const {
        f(fuse);
        f(parallel);
    }
};

/// The stem: two 3x3 stride-2 conv-BN-ReLU, 3 -> c0 -> c1.
template <class First = conv_bn_act<3, 2>, class Second = conv_bn_act<3, 2>>
struct stem {
    /// Its name in tables.
    static constexpr std::string_view name = "stem";
    First first;    ///< 3 -> c0
    Second second;  ///< c0 -> c1

    /// The stem on `in` with channels {c0, c1}.
    static constexpr stem make(shape in, std::array<int, 2> channels) {
        const First f = First::make(in, channels[0]);
        return {f, Second::make(f.out(), channels[1])};
    }
    /// Input shape.
    constexpr shape in() const { return first.in(); }
    /// Output shape.
    constexpr shape out() const { return second.out(); }
    /// Calls `f` on each child in forward order.
    template <class F>
    constexpr void for_each_child(F&& f) const {
        f(first);
        f(second);
    }
};

/// The two head forms.
enum class head_kind {
    classification,  ///< at the lowest resolution, pooled, one prediction per image
    segmentation     ///< at the highest resolution, one prediction per pixel of branch 0
};

/// The head: every branch resized to one resolution and concatenated, Transform (1x1 conv-BN-ReLU) to the last
/// channel, global average pooling for classification, and Classifier (1x1 conv with bias) to the classes.
template <class Transform = conv_bn_act<1, 1>, class Classifier = conv2d<1, 1, true>>
struct head {
    /// Its name in tables.
    static constexpr std::string_view name = "head";
    head_kind kind;         ///< which form
    branch_shapes inputs;   ///< the last module's outputs
    Transform transform;    ///< on the concatenation
    Classifier classifier;  ///< to the classes

    /// The head of form `kind` on `in`, with `last_channel` and `classes`.
    static constexpr head make(const branch_shapes& in, int last_channel, head_kind kind, int classes) {
        const shape target = kind == head_kind::classification ? in.back() : in[0];
        int channels = 0;
        for (const shape& s : in) channels += s.channels;
        const Transform t = Transform::make({channels, target.height, target.width}, last_channel);
        const shape pooled = kind == head_kind::classification ? shape{last_channel, 1, 1} : t.out();
        return {kind, in, t, Classifier::make(pooled, classes)};
    }
    /// Input shapes, per branch.
    constexpr branch_shapes in() const { return inputs; }
    /// Output shape.
    constexpr shape out() const { return classifier.out(); }
    /// Calls `f` on each child in forward order.
    template <class F>
    constexpr void for_each_child(F&& f) const {
        const shape target = transform.in();
        for (const shape& s : inputs)
            if (s.height != target.height || s.width != target.width)
                f(resize_bilinear{s, {s.channels, target.height, target.width}});
        f(concat{target});
        f(transform);
        if (kind == head_kind::classification) f(global_avg_pool{transform.out()});
        f(classifier);
    }
};

namespace detail {
/// Accepts any child; used to detect for_each_child.
struct ignore_child {
    template <class T>
    constexpr void operator()(const T&) const {}
};
}  // namespace detail

/// A node with children (a block), as opposed to a leaf operation.
template <class Node>
concept block = requires(const Node& n) { n.for_each_child(detail::ignore_child{}); };

/// Calls `visitor(node, depth)` on `node` and on everything below it, depth first in forward order.
template <class Node, class Visitor>
constexpr void walk(const Node& node, Visitor& visitor, int depth = 0) {
    visitor(node, depth);
    if constexpr (block<Node>) node.for_each_child([&](const auto& child) { walk(child, visitor, depth + 1); });
}

}  // namespace ncp::arch

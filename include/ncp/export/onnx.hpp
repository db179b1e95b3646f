#pragma once
/// The ONNX form of an exported network, built with the ONNX and protobuf C++ libraries: opset 13, one graph from
/// input `image` (1 x 3 x side x side) to output `logits` ((1, classes) with the cls head, (1, classes, side / 4,
/// side / 4) with the seg head), one node per layer of the block graph. Initializers are the weights, named as the
/// PyTorch module of export/torch.hpp names its state_dict entries (`stem.0.conv.weight`, ...), so its
/// load_state_dict takes them; besides batch-norm running statistics (mean 0, variance 1) they hold exactly the
/// counted parameters. Weights are drawn from a seed as the original release initialises them: He-normal
/// convolution weights (fan out), the classifier's bias uniform in +-1/sqrt(fan in), batch norm scale 1, shift 0.
///
/// Use it through the CMake target ncp::onnx (which defines NCP_WITH_ONNX and links libonnx and protobuf).

#if !defined(NCP_WITH_ONNX)
#error "ncp/export/onnx.hpp: the ONNX export is not enabled here. Link the CMake target ncp::onnx (configure ncp where the ONNX and protobuf C++ libraries are installed, Debian: libonnx-dev libprotobuf-dev; consumers: find_package(ncp COMPONENTS onnx)), which defines NCP_WITH_ONNX and links them."
#endif

#include <onnx/onnx_pb.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <ostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "ncp/arch/blocks.hpp"
#include "ncp/arch/code.hpp"
#include "ncp/arch/count.hpp"
#include "ncp/arch/graph.hpp"
#include "ncp/arch/synthetic.hpp"
#include "ncp/config.hpp"
#include "ncp/io/atomic.hpp"

namespace ncp::exporting {

static_assert(std::endian::native == std::endian::little,
              "ONNX stores raw tensor data little-endian, and ncp writes it by memcpy: little-endian hosts only");

/// The ONNX operator set the models import.
inline constexpr int onnx_opset = 13;

namespace detail {

/// Standard normal deviates by Marsaglia's polar method, in pairs from uniform draws of the top 53 bits of a
/// std::mt19937_64 (the same draws on every standard library, unlike std::normal_distribution's). A network has up
/// to tens of millions of weights: this spends one logarithm and square root per two deviates and no trigonometry,
/// which halves the time of a model against arch::detail::standard_normal's Box-Muller draw.
class normal_stream {
public:
    /// Deviates from std::mt19937_64(seed).
    explicit normal_stream(std::uint64_t seed) : m_gen(seed) {}
    /// The next deviate.
    double operator()() {
        if (m_has_spare) {
            m_has_spare = false;
            return m_spare;
        }
        double x = 0, y = 0, s = 0;
        do {
            x = 2 * arch::detail::uniform_unit(m_gen) - 1;
            y = 2 * arch::detail::uniform_unit(m_gen) - 1;
            s = x * x + y * y;
        } while (s >= 1 || s == 0);
        const double f = std::sqrt(-2 * std::log(s) / s);
        m_spare = y * f;
        m_has_spare = true;
        return x * f;
    }
    /// A uniform draw in [0, 1) from the same engine.
    double uniform() { return arch::detail::uniform_unit(m_gen); }

private:
    std::mt19937_64 m_gen;     ///< the engine
    double m_spare = 0;        ///< the second deviate of the last pair
    bool m_has_spare = false;  ///< whether m_spare is still to be returned
};

/// Adds the nodes and initializers of block-graph nodes to an ONNX graph. Each add() takes the node, the path of
/// its PyTorch counterpart (which names its weights and output) and its input tensor name(s), and returns the name
/// of its output tensor. Weights are drawn in graph order from one generator.
class onnx_builder {
public:
    /// Builds into `graph`, drawing weights from `seed`.
    onnx_builder(onnx::GraphProto& graph, std::uint64_t seed) : m_graph(graph), m_draw(seed) {}

    /// Convolution with padding (K - 1) / 2; weights He-normal (fan out), the bias uniform in +-1/sqrt(fan in).
    template <int K, int S, bool B>
    std::string add(const arch::conv2d<K, S, B>& c, const std::string& path, const std::string& x) {
        const int in = c.in.channels;
        const int out = c.out_channels;
        const double std_dev = std::sqrt(2.0 / (static_cast<double>(out) * K * K));
        std::vector<std::string> inputs{x, weight(path + ".weight", {out, in, K, K}, [&] {
                                             return std_dev * m_draw();
                                         })};
        if constexpr (B) {
            const double bound = 1.0 / std::sqrt(static_cast<double>(in) * K * K);
            inputs.push_back(weight(path + ".bias", {out}, [&] {
                return (2 * m_draw.uniform() - 1) * bound;
            }));
        }
        onnx::NodeProto& n = node("Conv", inputs, path);
        ints(n, "kernel_shape", {K, K});
        ints(n, "strides", {S, S});
        constexpr int pad = (K - 1) / 2;
        ints(n, "pads", {pad, pad, pad, pad});
        return path;
    }

    /// Convolution, batch norm (scale 1, shift 0, running mean 0, variance 1), ReLU when Relu.
    template <int K, int S, bool Relu>
    std::string add(const arch::conv_bn_act<K, S, Relu>& u, const std::string& path, const std::string& x) {
        const std::string y = add(u.conv, path + ".conv", x);
        const int channels = u.out().channels;
        const std::string bn = path + ".bn";
        std::vector<std::string> inputs{y};
        for (const auto& [name, value] : {std::pair{".weight", 1.0}, std::pair{".bias", 0.0},
                                          std::pair{".running_mean", 0.0}, std::pair{".running_var", 1.0}})
            inputs.push_back(weight(bn + name, {channels}, [v = value] { return v; }));
        onnx::NodeProto& n = node("BatchNormalization", inputs, bn);
        real(n, "epsilon", 1e-5f);
        return Relu ? node("Relu", {bn}, path + ".relu").output(0) : bn;
    }

    /// The unit, then nearest upsampling by Factor (floor of the asymmetric source coordinate, as PyTorch's
    /// 'nearest').
    template <class Unit, int Factor>
    std::string add(const arch::upsampled<Unit, Factor>& u, const std::string& path, const std::string& x) {
        const std::string y = add(u.unit, path + ".unit", x);
        onnx::NodeProto& n = resize(y, path + ".upsample", static_cast<float>(Factor));
        text(n, "mode", "nearest");
        text(n, "coordinate_transformation_mode", "asymmetric");
        text(n, "nearest_mode", "floor");
        return n.output(0);
    }

    /// first, second, the input added, ReLU.
    template <class First, class Second>
    std::string add(const arch::basic_block<First, Second>& b, const std::string& path, const std::string& x) {
        const std::string y = add(b.second, path + ".second", add(b.first, path + ".first", x));
        return node("Relu", {node("Add", {y, x}, path + ".add").output(0)}, path + ".relu").output(0);
    }

    /// down + same, + up, those present, then ReLU; `xs` are the fuse step's inputs.
    template <class Down, class Same, class Up>
    std::string add(const arch::fuse_target<Down, Same, Up>& t, const std::string& path,
                    const std::vector<std::string>& xs) {
        const auto i = static_cast<std::size_t>(t.branch);
        std::string y = add(t.same, path + ".same", xs[i]);
        if (t.has_down) y = node("Add", {add(t.down, path + ".down", xs[i - 1]), y}, path + ".add_down").output(0);
        if (t.has_up) y = node("Add", {y, add(t.up, path + ".up", xs[i + 1])}, path + ".add_up").output(0);
        return node("Relu", {y}, path + ".relu").output(0);
    }

    /// The fuse step (targets, then each new branch from the one before), then every branch's blocks.
    template <class Fuse, class Parallel>
    std::vector<std::string> add(const arch::module_block<Fuse, Parallel>& m, const std::string& path,
                                 const std::vector<std::string>& xs) {
        std::vector<std::string> ys;
        for (std::size_t j = 0; j < m.fuse.targets.size(); ++j)
            ys.push_back(add(m.fuse.targets[j], path + ".fuse." + std::to_string(j), xs));
        for (std::size_t j = 0; j < m.fuse.spawned.size(); ++j)
            ys.push_back(add(m.fuse.spawned[j].unit, path + ".spawn." + std::to_string(j), ys.back()));
        for (std::size_t b = 0; b < m.parallel.branches.size(); ++b) {
            const auto& blocks = m.parallel.branches[b].blocks;
            for (std::size_t k = 0; k < blocks.size(); ++k)
                ys[b] = add(blocks[k], path + ".branches." + std::to_string(b) + "." + std::to_string(k), ys[b]);
        }
        return ys;
    }

    /// Every branch resized (bilinear, half-pixel centres: PyTorch's align_corners=False) to the transform's
    /// resolution, concatenated, the transform, global average pooling and flattening for classification, the
    /// classifier; the output is named `output`.
    template <class Transform, class Classifier>
    std::string add(const arch::head<Transform, Classifier>& h, const std::string& path,
                    const std::vector<std::string>& xs, const std::string& output) {
        const arch::shape target = h.transform.in();
        std::vector<std::string> parts;
        for (std::size_t b = 0; b < xs.size(); ++b) {
            const arch::shape s = h.inputs[b];
            if (s.height == target.height && s.width == target.width) {
                parts.push_back(xs[b]);
                continue;
            }
            // Branches halve exactly, so the scale is a power of two and the output size exact.
            onnx::NodeProto& n = resize(xs[b], path + ".resize." + std::to_string(b),
                                        static_cast<float>(target.height) / static_cast<float>(s.height));
            text(n, "mode", "linear");
            text(n, "coordinate_transformation_mode", "half_pixel");
            parts.push_back(n.output(0));
        }
        onnx::NodeProto& cat = node("Concat", parts, path + ".concat");
        integer(cat, "axis", 1);
        std::string y = add(h.transform, path + ".transform", cat.output(0));
        if (h.kind == arch::head_kind::classification) {
            y = add(h.classifier, path + ".classifier", node("GlobalAveragePool", {y}, path + ".pool").output(0));
            onnx::NodeProto& flat = node("Flatten", {y}, output);
            integer(flat, "axis", 1);
            return output;
        }
        const std::string z = add(h.classifier, path + ".classifier", y);
        return node("Identity", {z}, output).output(0);
    }

private:
    /// Adds a float initializer `name` of shape `dims` holding draw() for each element in order; returns `name`.
    /// The values go to raw_data (little-endian, as ONNX stores it, and as this host is), which readers load far
    /// faster than float_data.
    template <class Draw>
    std::string weight(const std::string& name, std::initializer_list<std::int64_t> dims, Draw&& draw) {
        onnx::TensorProto& t = *m_graph.add_initializer();
        t.set_name(name);
        t.set_data_type(onnx::TensorProto::FLOAT);
        std::int64_t n = 1;
        for (std::int64_t d : dims) {
            t.add_dims(d);
            n *= d;
        }
        std::string& raw = *t.mutable_raw_data();
        raw.resize(static_cast<std::size_t>(n) * sizeof(float));
        char* out = raw.data();
        for (std::int64_t i = 0; i < n; ++i, out += sizeof(float)) {
            const auto value = static_cast<float>(draw());
            std::memcpy(out, &value, sizeof value);
        }
        return name;
    }

    /// A node `op` from `inputs` to the one output `output` (the node takes its name).
    onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs, const std::string& output) {
        onnx::NodeProto& n = *m_graph.add_node();
        n.set_op_type(op);
        n.set_name(output);
        for (const auto& i : inputs) n.add_input(i);
        n.add_output(output);
        return n;
    }

    /// Resize of `x` by `scale` in height and width (a Constant node holds the scales: they are not weights).
    onnx::NodeProto& resize(const std::string& x, const std::string& output, float scale) {
        onnx::NodeProto& c = node("Constant", {}, output + ".scales");
        onnx::AttributeProto& a = *c.add_attribute();
        a.set_name("value");
        a.set_type(onnx::AttributeProto::TENSOR);
        onnx::TensorProto& t = *a.mutable_t();
        t.set_data_type(onnx::TensorProto::FLOAT);
        t.add_dims(4);
        for (float v : {1.0f, 1.0f, scale, scale}) t.add_float_data(v);
        return node("Resize", {x, "", c.output(0)}, output);
    }

    static void integer(onnx::NodeProto& n, const std::string& name, std::int64_t value) {
        onnx::AttributeProto& a = *n.add_attribute();
        a.set_name(name);
        a.set_type(onnx::AttributeProto::INT);
        a.set_i(value);
    }

    static void ints(onnx::NodeProto& n, const std::string& name, std::initializer_list<std::int64_t> values) {
        onnx::AttributeProto& a = *n.add_attribute();
        a.set_name(name);
        a.set_type(onnx::AttributeProto::INTS);
        for (std::int64_t v : values) a.add_ints(v);
    }

    static void real(onnx::NodeProto& n, const std::string& name, float value) {
        onnx::AttributeProto& a = *n.add_attribute();
        a.set_name(name);
        a.set_type(onnx::AttributeProto::FLOAT);
        a.set_f(value);
    }

    static void text(onnx::NodeProto& n, const std::string& name, const std::string& value) {
        onnx::AttributeProto& a = *n.add_attribute();
        a.set_name(name);
        a.set_type(onnx::AttributeProto::STRING);
        a.set_s(value);
    }

    onnx::GraphProto& m_graph;  ///< what is built
    normal_stream m_draw;       ///< the weights' draws
};

/// A float tensor value `name` of batch-1 shape `dims`.
inline void tensor_value(onnx::ValueInfoProto& v, const std::string& name, std::initializer_list<std::int64_t> dims) {
    v.set_name(name);
    onnx::TypeProto::Tensor& t = *v.mutable_type()->mutable_tensor_type();
    t.set_elem_type(onnx::TensorProto::FLOAT);
    for (std::int64_t d : dims) t.mutable_shape()->add_dim()->set_dim_value(d);
}

}  // namespace detail

/// The ONNX model of code `k` (validated) under convention `c` (validated), weights drawn from `seed`; metadata
/// `code`, `input`, `head`, `classes`, `flops` and `params` (integers: multiply-accumulates and parameters).
inline onnx::ModelProto onnx_model(const arch::code& k, const arch::convention& c = {}, std::uint64_t seed = 0) {
    const arch::network net = arch::build_network(k, c);
    const arch::cost total = arch::count(net);
    onnx::ModelProto model;
    model.set_ir_version(onnx::IR_VERSION);
    model.set_producer_name("ncp");
    model.set_producer_version(version);
    model.set_doc_string("NAS-Bench-MR code " + arch::to_string(k) + " (" + arch::to_string(c) + "): " +
                         arch::fixed_string(total.flops, arch::flops_g_decimals) + " G FLOPs, " +
                         arch::fixed_string(total.params, arch::params_m_decimals) + " M params; weights from seed " +
                         std::to_string(seed));
    onnx::OperatorSetIdProto& opset = *model.add_opset_import();
    opset.set_domain("");
    opset.set_version(onnx_opset);
    for (const auto& [key, value] : {std::pair<std::string, std::string>{"code", arch::to_string(k)},
                                     {"input", std::to_string(c.input_side)},
                                     {"head", std::string(arch::head_name(c.head))},
                                     {"classes", std::to_string(c.classes)},
                                     {"flops", std::to_string(total.flops)},
                                     {"params", std::to_string(total.params)}}) {
        onnx::StringStringEntryProto& p = *model.add_metadata_props();
        p.set_key(key);
        p.set_value(value);
    }

    onnx::GraphProto& graph = *model.mutable_graph();
    graph.set_name("ncp_net");
    const arch::shape in = net.in();
    const arch::shape out = net.out();
    detail::tensor_value(*graph.add_input(), "image", {1, in.channels, in.height, in.width});
    if (c.head == arch::head_kind::classification)
        detail::tensor_value(*graph.add_output(), "logits", {1, out.channels});
    else
        detail::tensor_value(*graph.add_output(), "logits", {1, out.channels, out.height, out.width});

    detail::onnx_builder b(graph, seed);
    std::vector<std::string> xs{b.add(net.stem.second, "stem.1", b.add(net.stem.first, "stem.0", "image"))};
    for (const auto& m : net.modules) xs = b.add(m, "features." + std::to_string(m.index), xs);
    b.add(net.head, "head", xs, "logits");
    return model;
}

/// Writes onnx_model(k, c, seed) to `path` atomically; throws ncp::error naming `path` when it cannot.
inline void write_onnx(const std::filesystem::path& path, const arch::code& k, const arch::convention& c = {},
                       std::uint64_t seed = 0) {
    const onnx::ModelProto model = onnx_model(k, c, seed);
    io::atomic_write(path, [&](std::ostream& out) {
        if (!model.SerializeToOstream(&out)) throw error(path.string() + ": cannot write the ONNX model");
    });
}

}  // namespace ncp::exporting

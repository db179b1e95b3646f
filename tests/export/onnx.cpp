/// The ONNX form: for every tested network, the ONNX library's checker and shape inference accept the model (in C++
/// here, and through python3-onnx with its initializers loaded into the PyTorch module and the graph evaluated
/// against it), the initializers hold exactly the counted parameters, and the weights follow the seeded
/// initialisation.

#include <doctest/doctest.h>

#include <iostream>

#if defined(NCP_WITH_ONNX)

#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "export/networks.hpp"
#include "ncp/export/onnx.hpp"
#include "ncp/export/torch.hpp"
#include "ncp/io/atomic.hpp"
#include "test_support.hpp"

using ncp::test::contains;

namespace arch = ncp::arch;
namespace exporting = ncp::exporting;

namespace {

/// The float values of an initializer (raw_data, little-endian).
std::vector<float> values(const onnx::TensorProto& t) {
    const std::string& raw = t.raw_data();
    std::vector<float> v(raw.size() / 4);
    for (std::size_t i = 0; i < v.size(); ++i) {
        std::uint32_t bits = 0;
        for (std::size_t b = 0; b < 4; ++b)
            bits |= std::uint32_t{static_cast<unsigned char>(raw[4 * i + b])} << (8 * b);
        v[i] = std::bit_cast<float>(bits);
    }
    return v;
}

std::int64_t elements(const onnx::TensorProto& t) {
    std::int64_t n = 1;
    for (std::int64_t d : t.dims()) n *= d;
    return n;
}

bool running_statistic(const std::string& name) {
    return name.ends_with(".running_mean") || name.ends_with(".running_var");
}

/// The output dims shape inference finds when the declared output shape is removed.
std::vector<std::int64_t> inferred_output(const onnx::ModelProto& model) {
    onnx::ModelProto bare = model;
    bare.mutable_graph()->mutable_output(0)->mutable_type()->mutable_tensor_type()->clear_shape();
    onnx::ShapeInferenceOptions options{true, 1, false};  // check types, strict errors, no data propagation
    onnx::shape_inference::InferShapes(bare, onnx::OpSchemaRegistry::Instance(), options);
    std::vector<std::int64_t> dims;
    for (const auto& d : bare.graph().output(0).type().tensor_type().shape().dim()) dims.push_back(d.dim_value());
    return dims;
}

}  // namespace

TEST_CASE("every tested network: checker, shape inference, opset, names, the counted parameters") {
    for (const auto& [k, c, source] : ncp::test::test_networks()) {
        const onnx::ModelProto model = exporting::onnx_model(k, c, 0);
        INFO(arch::to_string(k), " ", arch::to_string(c));
        CHECK_NOTHROW(onnx::checker::check_model(model));
        const arch::shape out = arch::build_network(k, c).out();
        const std::vector<std::int64_t> want =
            c.head == arch::head_kind::classification
                ? std::vector<std::int64_t>{1, out.channels}
                : std::vector<std::int64_t>{1, out.channels, c.input_side / 4, c.input_side / 4};
        CHECK(inferred_output(model) == want);
        REQUIRE(model.opset_import_size() == 1);
        CHECK(model.opset_import(0).version() >= 13);
        CHECK(model.graph().input(0).name() == "image");
        CHECK(model.graph().output(0).name() == "logits");
        std::int64_t weights = 0;
        std::set<std::string> names;
        for (const auto& t : model.graph().initializer()) {
            CHECK(names.insert(t.name()).second);
            CHECK(t.raw_data().size() == static_cast<std::size_t>(4 * elements(t)));
            if (!running_statistic(t.name())) weights += elements(t);
        }
        CHECK(weights == arch::count(k, c).params);
        std::map<std::string, std::string> meta;
        for (const auto& p : model.metadata_props()) meta[p.key()] = p.value();
        CHECK(meta["code"] == arch::to_string(k));
        CHECK(meta["flops"] == std::to_string(arch::count(k, c).flops));
    }
}

TEST_CASE("normal_stream: standard normal deviates (moments and the CDF of 200000 draws), fixed by the seed") {
    exporting::detail::normal_stream a(7), b(7), c(8);
    constexpr int n = 200000;
    std::vector<double> x(n);
    double sum = 0, squares = 0;
    bool same = true, other = false;
    for (double& v : x) {
        v = a();
        sum += v;
        squares += v * v;
        const double w = b();
        same = same && w == v;
        other = other || c() != v;
    }
    CHECK(same);
    CHECK(other);
    const double mean = sum / n;
    CHECK(std::abs(mean) < 5 / std::sqrt(double{n}));
    CHECK(squares / n - mean * mean == doctest::Approx(1).epsilon(0.02));
    // The empirical CDF against Phi(t) = erfc(-t / sqrt 2) / 2, within 5 standard errors.
    for (double t : {-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0}) {
        const double p = 0.5 * std::erfc(-t / std::sqrt(2.0));
        double below = 0;
        for (double v : x) below += v < t;
        CHECK(std::abs(below / n - p) < 5 * std::sqrt(p * (1 - p) / n));
    }
}

TEST_CASE("weights: He-normal convolutions, the classifier's uniform bias, batch norm at 1/0/0/1, from the seed") {
    const arch::code k = arch::parse_code(ncp::test::all64);
    const onnx::ModelProto a = exporting::onnx_model(k, {}, 0);
    const onnx::ModelProto b = exporting::onnx_model(k, {}, 0);
    const onnx::ModelProto other = exporting::onnx_model(k, {}, 1);
    CHECK(a.SerializeAsString() == b.SerializeAsString());
    CHECK(a.SerializeAsString() != other.SerializeAsString());
    std::map<std::string, const onnx::TensorProto*> init;
    for (const auto& t : a.graph().initializer()) init[t.name()] = &t;
    // A 3x3 convolution of 64 -> 64 channels: mean 0 and variance 2 / fan_out = 2 / (64 x 9), over 36864 draws.
    const std::vector<float> w = values(*init.at("features.7.branches.3.1.second.conv.weight"));
    REQUIRE(w.size() == 64 * 64 * 9);
    double sum = 0, squares = 0;
    for (float v : w) {
        sum += v;
        squares += double{v} * v;
    }
    const double mean = sum / static_cast<double>(w.size());
    const double variance = squares / static_cast<double>(w.size()) - mean * mean;
    const double expected = 2.0 / (64 * 9);
    CHECK(std::abs(mean) < 5 * std::sqrt(expected / static_cast<double>(w.size())));
    CHECK(variance == doctest::Approx(expected).epsilon(0.03));
    // The classifier's bias: uniform in +-1/sqrt(64), spread over the range.
    const std::vector<float> bias = values(*init.at("head.classifier.bias"));
    REQUIRE(bias.size() == 50);
    float lo = 1, hi = -1;
    for (float v : bias) {
        CHECK(std::abs(v) <= 0.125f);
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
    CHECK(hi - lo > 0.15f);
    for (const auto& [suffix, value] : {std::pair{".weight", 1.0f}, std::pair{".bias", 0.0f},
                                        std::pair{".running_mean", 0.0f}, std::pair{".running_var", 1.0f}})
        for (float v : values(*init.at("stem.0.bn" + std::string(suffix)))) CHECK(v == value);
}

TEST_CASE("python3-onnx: checker, shape inference and counts; the graph computes what the PyTorch module does") {
    if (!ncp::test::python_imports({"onnx"}, "the ONNX models in python3-onnx")) return;
    const bool torch = ncp::test::python_imports({"torch"}, "ONNX graphs against their PyTorch modules");
    const ncp::test::scratch_dir dir("export-onnx");
    // The all-64 code and two random codes, both heads: the C++ case above checks every tested network with the
    // same ONNX library; here files go through Python's readers, and the graph's arithmetic is compared.
    std::vector<ncp::test::manifest_row> rows;
    int random = 0;
    for (const auto& n : ncp::test::test_networks()) {
        if (n.source == ncp::test::code_source::first_record) continue;
        if (n.source == ncp::test::code_source::random && random++ >= 4) break;
        const std::string stem = (dir / std::to_string(rows.size())).string();
        exporting::write_onnx(stem + ".onnx", n.code, n.convention, rows.size());
        if (torch) ncp::io::atomic_write(stem + ".py", exporting::torch_module(n.code, n.convention));
        rows.push_back({n, torch ? stem + ".py" : "", "", stem + ".onnx"});
    }
    REQUIRE(rows.size() == 6);
    ncp::test::write_manifest(dir / "manifest.csv", rows);
    const auto r = ncp::test::check_export(dir / "manifest.csv");
    INFO(r.out, r.err);
    CHECK(r.status == 0);
    CHECK(contains(r.out, "onnx 6, " + std::string(torch ? "6" : "0") + " ONNX graphs evaluated"));
    CHECK(contains(r.out, "all exact"));
    MESSAGE(r.out);

    // The first model claimed to hold one parameter more and to have one class more: both noticed.
    const auto& first = rows[0].network;
    const arch::cost c = arch::count(first.code, first.convention);
    ncp::io::atomic_write(dir / "wrong.csv", "code,head,classes,input,flops,params,torch,json,onnx\n" +
                                                 arch::to_string(first.code) + ",cls,51,128," +
                                                 std::to_string(c.flops) + "," + std::to_string(c.params + 1) +
                                                 ",,," + rows[0].onnx_file + "\n");
    const auto w = ncp::test::check_export(dir / "wrong.csv");
    CHECK(w.status == 1);
    CHECK(contains(w.out, "initializers hold " + std::to_string(c.params) + " weights, expected " +
                              std::to_string(c.params + 1)));
    CHECK(contains(w.out, "shape inference gives (1, 50), expected (1, 51)"));
}

TEST_CASE("write_onnx: an unwritable path is one error naming it") {
    const std::string message = ncp::test::error_of([] {
        exporting::write_onnx("/nonexistent-folder/net.onnx", arch::parse_code(ncp::test::all64));
    });
    CHECK(contains(message, "/nonexistent-folder/net.onnx"));
}

#else

TEST_CASE("ONNX export") {
    std::cout << "skipped: ONNX export (ncp was configured without the ONNX and protobuf C++ libraries; Debian: "
                 "apt-get install libonnx-dev libprotobuf-dev, then configure with -DNCP_WITH_ONNX=ON)\n";
}

#endif

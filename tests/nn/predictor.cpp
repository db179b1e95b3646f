/// The predictor: the original's state_dict names and shapes, head order, predict() in original units, and the
/// gradient with respect to the input code (what the search follows) by finite differences in double. The bodies run
/// on the backend under test (tests/backends.hpp): the CPU here, the GPU in tests/gpu.

#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

#include "backends.hpp"
#include "ncp/nn/predictor.hpp"

using namespace ncp;

namespace {

nn::normalisation predictor_stats_for(const nn::predictor_spec& s) {
    nn::normalisation n;
    for (index_t i = 0; i < s.input_dim; ++i) {
        n.input_mean.push_back(10.0 + static_cast<double>(i));
        n.input_std.push_back(2.0 + 0.1 * static_cast<double>(i));
    }
    for (index_t i = 0; i < s.outputs(); ++i) {
        n.output_mean.push_back(70.0 - static_cast<double>(i));
        n.output_std.push_back(3.0 + static_cast<double>(i));
    }
    return n;
}

}  // namespace

TEST_CASE_TEMPLATE("the original's parameter names and shapes", P, test::on<float>) {
    using B = typename P::backend;
    nn::predictor_spec spec;  // seg's defaults: 27 -> 256, heads of 128 for [1, 2, 2] metrics
    nn::predictor<float, B> model(spec, predictor_stats_for(spec), 233);
    std::vector<std::string> names;
    std::vector<std::pair<index_t, index_t>> shapes;
    model.for_each_parameter([&](const std::string& n, auto& p) {
        names.push_back(n);
        shapes.emplace_back(p.value.rows(), p.value.cols());
    });
    REQUIRE(names.size() == 6 + 3 * 6);
    double total = 0;
    for (const auto& [rows, cols] : shapes) total += static_cast<double>(rows * cols);
    CHECK(spec.parameters() == total);
    CHECK(names[0] == "fc.0.weight");
    CHECK(names[2] == "fc.1.weight");
    CHECK(shapes[2] == std::pair<index_t, index_t>{256, 27});
    CHECK(names[5] == "fc.2.bias");
    CHECK(names[6] == "nets.0.0.weight");
    CHECK(shapes[6] == std::pair<index_t, index_t>{128, 256});
    CHECK(names[22] == "nets.2.4.weight");
    CHECK(shapes[22] == std::pair<index_t, index_t>{2, 128});
    std::vector<std::string> buffers;
    model.for_each_buffer([&](const std::string& n, auto&) { buffers.push_back(n); });
    CHECK(buffers.front() == "fc.0.running_mean");
    CHECK(buffers.back() == "nets.2.1.running_var");
    CHECK(model.spec().metric_names() == std::vector<std::string>{"mIoU", "mAcc", "aAcc", "flops", "params"});

    nn::predictor_spec bad = spec;
    bad.layer2_drop_ratio = {0.5};
    CHECK_THROWS_WITH_AS((nn::predictor<float, B>(bad, predictor_stats_for(spec), 1)),
                         "predictor: 1 head dropouts for 3 metric groups", error);
    auto bad_stats = predictor_stats_for(spec);
    bad_stats.output_std[1] = 0;
    CHECK_THROWS_AS((nn::predictor<float, B>(spec, bad_stats, 1)), error);
}

TEST_CASE("normalisation: the z-scores of codes and outputs and their inverse, against the formulas") {
    nn::predictor_spec spec;
    const nn::normalisation st = predictor_stats_for(spec);
    for (std::size_t i = 0; i < 27; ++i) {
        const double v = 3.0 * static_cast<double>(i) - 7.5;
        CHECK(st.code_z(i, v) == (v - st.input_mean[i]) / st.input_std[i]);
    }
    for (std::size_t q = 0; q < 5; ++q) {
        const double v = 0.25 * static_cast<double>(q) + 60.0;
        CHECK(st.output_z(q, v) == (v - st.output_mean[q]) / st.output_std[q]);
        CHECK(st.output_value(q, 1.5) == doctest::Approx(1.5 * st.output_std[q] + st.output_mean[q]).epsilon(1e-15));
        CHECK(st.output_value(q, st.output_z(q, v)) == doctest::Approx(v).epsilon(1e-14));
    }
}

TEST_CASE_TEMPLATE("heads in group order; predict() works in original units", P, test::on<double>) {
    using B = typename P::backend;
    nn::predictor_spec spec;
    spec.input_dim = 4;
    spec.shared_layer = 8;
    spec.separated_layer = 6;
    spec.metric_groups = {{"a"}, {"b", "c"}};
    spec.layer2_drop_ratio = {0.5, 0};
    nn::predictor<double, B> model(spec, predictor_stats_for(spec), 1);
    model.train(false);
    // Silence head 1: its outputs become its (zero) bias.
    model.heads()[1].template get<4>().weight().value.fill(0.0);
    model.heads()[1].template get<4>().bias().value.fill(0.0);
    const std::vector<double> codes = {10, 11, 12, 13, 12, 9, 15, 11};
    const auto pred = model.predict(codes);
    REQUIRE(pred.size() == 6);
    const auto& st = model.stats();
    CHECK(pred[1] == doctest::Approx(st.output_mean[1]));
    CHECK(pred[2] == doctest::Approx(st.output_mean[2]));
    // Output 0 = forward on the z-scored code, un-z-scored.
    std::vector<double> z(4);
    for (int i = 0; i < 4; ++i) z[i] = (codes[i] - st.input_mean[i]) / st.input_std[i];
    autograd::tape<double, B> t;
    const auto x = Tensor<double, B>::from_host(z, 1, 4);
    const double raw = model.forward(t.input(x)).value().to_host()[0];
    CHECK(pred[0] == doctest::Approx(raw * st.output_std[0] + st.output_mean[0]));
    CHECK_FALSE(model.training());  // predict() restores the mode it found
    CHECK_THROWS_AS(model.predict(std::vector<double>{1, 2, 3}), error);
}

TEST_CASE("predict() refuses codes that are NaN or beyond float's range once z-scored, naming code and value") {
    nn::predictor_spec spec;
    spec.input_dim = 4;
    spec.metric_groups = {{"a"}};
    spec.layer2_drop_ratio = {0.5};
    nn::predictor<float> model(spec, predictor_stats_for(spec), 1);
    std::vector<double> codes = {10, 11, 12, 13, 12, 9, 1e39, 11};  // finite as doubles, not as floats
    CHECK_THROWS_WITH_AS(model.predict(codes), doctest::Contains("predictor: code 1, value 2 ("), error);
    codes[6] = std::nan("");
    CHECK_THROWS_WITH_AS(model.predict(codes), doctest::Contains("is out of the model's range"), error);
    codes[6] = 15;
    CHECK(model.predict(codes).size() == 2);
    model.heads()[0].get<4>().weight().value.fill(3e38f);  // the last layer's sums overflow: no NaN handed back
    CHECK_THROWS_WITH_AS(model.predict(codes), doctest::Contains(" is not finite (its values lie far outside"), error);
}

TEST_CASE("predict() cuts rows into even chunks of about predict_rows, none small") {
    using model = nn::predictor<float>;
    CHECK(model::chunk_count(1) == 1);
    CHECK(model::chunk_count(model::predict_rows) == 1);
    CHECK(model::chunk_count(model::predict_rows + 1) == 2);
    CHECK(model::chunk_count(100000) == (100000 + model::predict_rows - 1) / model::predict_rows);
    for (const std::size_t n : {257u, 300u, 511u, 513u, 1000u, 100001u}) {
        const std::size_t chunks = model::chunk_count(n);
        for (std::size_t c = 0; c < chunks; ++c) {
            const std::size_t rows = (c + 1) * n / chunks - c * n / chunks;
            CAPTURE(n); CAPTURE(c);
            CHECK(rows >= model::predict_rows / 2);
            CHECK(rows <= model::predict_rows);
        }
    }
}

TEST_CASE_TEMPLATE("predict() in chunks, on any number of threads, gives every row as one pass over all rows", P,
                   test::on<float>) {
    using B = typename P::backend;
    nn::predictor_spec spec;  // seg's shape: 27 -> 256, heads of 128
    nn::predictor<float, B> model(spec, predictor_stats_for(spec), 7);
    // Moved running statistics, so that evaluation's batch norms are not the identity.
    model.for_each_buffer([](const std::string& name, Tensor<float, B>& t) {
        const bool var = name.find("running_var") != std::string::npos;
        t = test::uniform<float, B>(t.rows(), t.cols(), name.size(), var ? 0.5 : -0.5, var ? 2.0 : 0.5);
    });
    const auto d = static_cast<std::size_t>(spec.input_dim), o = static_cast<std::size_t>(spec.outputs());
    const std::size_t chunk = nn::predictor<float, B>::predict_rows;
    for (const std::size_t n : {chunk + 44, 4 * chunk - 24}) {  // 2 and 4 chunks (300 and 1000 rows on the CPU)
        CAPTURE(n);
        const std::vector<double> codes = test::uniform_values<double>(n * d, n, 5, 15);
        REQUIRE(nn::predictor<float, B>::chunk_count(n) > 1);
        model.train(true);
        const std::vector<double> pred = model.predict(codes, 1);
        CHECK(model.training());  // the mode it found
        CHECK(model.predict(codes, 3) == pred);  // the chunks do not depend on the threads taking them
        CHECK_THROWS_WITH_AS(model.predict(codes, 0), "predictor: predict needs at least one thread (got 0)", error);
        // One pass over every row, as predict() ran before it cut them into chunks.
        model.train(false);
        const auto& st = model.stats();
        std::vector<float> z(n * d);
        for (std::size_t i = 0; i < z.size(); ++i)
            z[i] = static_cast<float>((codes[i] - st.input_mean[i % d]) / st.input_std[i % d]);
        autograd::tape<float, B> t;
        const autograd::no_grad scope;
        const auto input = Tensor<float, B>::from_host(z, static_cast<index_t>(n), spec.input_dim);
        const auto raw = model.forward(t.input(input)).value().to_host();
        REQUIRE(pred.size() == n * o);
        // ncp's AVX-512 products give a row the same bits for any number of rows from 16 on; other kernels (Eigen's,
        // cuBLAS's) may block the products by the row count.
        const bool same_bits = std::is_same_v<B, backend::eigen_cpu> && ncp::detail::avx512_sgemm::available;
        for (std::size_t i = 0; i < pred.size(); ++i) {
            const double expected = static_cast<double>(raw[i]) * st.output_std[i % o] + st.output_mean[i % o];
            CAPTURE(i);
            if (same_bits) {
                CHECK(pred[i] == expected);
            } else {
                CHECK(pred[i] == doctest::Approx(expected).epsilon(1e-5));
            }
        }
    }
}

TEST_CASE_TEMPLATE("gradient of the main output with respect to the code, by finite differences", P, test::on<double>) {
    using B = typename P::backend;
    nn::predictor_spec spec;
    spec.input_dim = 5;
    spec.shared_layer = 12;
    spec.separated_layer = 7;
    spec.metric_groups = {{"a"}, {"flops", "params"}};
    spec.layer2_drop_ratio = {0.5, 0};
    nn::predictor<double, B> model(spec, predictor_stats_for(spec), 4);
    // Move the running statistics off their defaults with a few training batches.
    std::vector<double> batch(40);
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i] = std::sin(1.7 * static_cast<double>(i));
    autograd::tape<double, B> t;
    const auto xb = Tensor<double, B>::from_host(batch, 8, 5);
    for (int k = 0; k < 3; ++k) {
        t.clear();
        model.forward(t.input(xb));
    }
    model.train(false);
    std::vector<double> code = {0.3, -1.2, 0.5, 2.0, -0.7};
    auto main_output = [&](const std::vector<double>& c, bool grad) {
        t.clear();
        const auto x = Tensor<double, B>::from_host(c, 1, 5);
        const auto in = t.input(x, grad);
        const auto y = autograd::slice_cols(model.forward(in), 0, 1);
        if (grad) {
            t.backward(autograd::sum(y));
            return in.grad().to_host();
        }
        return y.value().to_host();
    };
    const auto g = main_output(code, true);
    for (std::size_t i = 0; i < code.size(); ++i) {
        auto up = code, down = code;
        up[i] += 1e-6;
        down[i] -= 1e-6;
        CHECK(g[i] == doctest::Approx((main_output(up, false)[0] - main_output(down, false)[0]) / 2e-6).epsilon(1e-6));
    }
}

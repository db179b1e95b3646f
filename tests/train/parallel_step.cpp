/// The parallel step against the autograd tape on the same model (same init, same dropout masks): loss,
/// gradients, running statistics and evaluation; and the same bits from one thread as from two.

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "ncp/optim/optimizers.hpp"
#include "ncp/train/parallel_step.hpp"

using namespace ncp;

namespace {

nn::predictor_spec small_spec(nn::activation_kind act) {
    nn::predictor_spec s;
    s.input_dim = 7;
    s.shared_layer = 24;
    s.separated_layer = 12;
    s.activation = act;
    s.layer1_drop_ratio = 0.5;
    s.layer2_drop_ratio = {0.3, 0.0};
    s.metric_groups = {{"a"}, {"b", "c"}};
    return s;
}

nn::normalisation unit_stats(const nn::predictor_spec&) {
    return {std::vector<double>(7, 0.0), std::vector<double>(7, 1.0), std::vector<double>(3, 0.0),
            std::vector<double>(3, 1.0)};
}

std::vector<float> field(std::size_t n, double phase) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i)
        v[i] = static_cast<float>(std::sin(0.71 * static_cast<double>(i) + phase) * 1.3);
    return v;
}

/// Every parameter value of `model`, in its parameter order, as one vector.
std::vector<float> parameter_values(nn::predictor<float>& model) {
    std::vector<float> all;
    model.for_each_parameter([&](const std::string&, auto& p) {
        const auto v = p.value.to_host();
        all.insert(all.end(), v.begin(), v.end());
    });
    return all;
}

}  // namespace

TEST_CASE("one step equals the tape's loss, gradients and running statistics") {
    for (auto act :
         {nn::activation_kind::swish, nn::activation_kind::relu, nn::activation_kind::tanh, nn::activation_kind::relu6})
        for (auto loss : {train::loss_kind::smooth_l1, train::loss_kind::mse, train::loss_kind::l1}) {
            CAPTURE(nn::activation_name(act));
            CAPTURE(static_cast<int>(loss));
            const auto spec = small_spec(act);
            nn::predictor<float> fast(spec, unit_stats(spec), 3), slow(spec, unit_stats(spec), 3);
            const std::size_t n = 21;
            const auto x = field(n * 7, 0.2), y = field(n * 3, 1.7);
            std::vector<std::size_t> order(n);
            for (std::size_t i = 0; i < n; ++i) order[i] = (i * 5) % n;  // a permutation

            train::parallel_step<> step(fast, 16, 2, loss);
            std::vector<float> losses;
            // Two batches (16 and 5 records): the second checks that dropout streams moved on.
            step.train_batches(order, 16, x.data(), y.data(), [](auto) {}, [](const auto&) {},
                               [&](auto, float l) { losses.push_back(l); });
            REQUIRE(losses.size() == 2);

            autograd::tape<float> tape;  // one tape, cleared per batch: parameters remember its passes
            for (std::size_t first : {std::size_t{0}, std::size_t{16}}) {
                tape.clear();
                const std::size_t rows = first == 0 ? 16 : 5;
                std::vector<float> xb, yb;
                for (std::size_t r = 0; r < rows; ++r) {
                    const std::size_t src = order[first + r];
                    xb.insert(xb.end(), x.begin() + src * 7, x.begin() + src * 7 + 7);
                    yb.insert(yb.end(), y.begin() + src * 3, y.begin() + src * 3 + 3);
                }
                const auto xt = Tensor<float>::from_host(xb, rows, 7);
                const auto yt = Tensor<float>::from_host(yb, rows, 3);
                const auto pred = slow.forward(tape.input(xt));
                const auto target = tape.input(yt);
                const auto l = loss == train::loss_kind::mse  ? autograd::mse_loss(pred, target)
                               : loss == train::loss_kind::l1 ? autograd::l1_loss(pred, target)
                                                              : autograd::smooth_l1_loss(pred, target);
                tape.backward(l);
                CHECK(losses[first == 0 ? 0 : 1] == doctest::Approx(l.value()[0]).epsilon(1e-5));
                if (first == 0) {
                    // Gradients of the first batch only (the step's buffers hold the last batch's afterwards).
                    continue;
                }
                std::vector<std::vector<float>> fast_grads, slow_grads;
                fast.for_each_parameter([&](const std::string&, auto& p) { fast_grads.push_back(p.grad.to_host()); });
                slow.for_each_parameter([&](const std::string&, auto& p) { slow_grads.push_back(p.grad.to_host()); });
                REQUIRE(fast_grads.size() == slow_grads.size());
                for (std::size_t p = 0; p < fast_grads.size(); ++p)
                    for (std::size_t i = 0; i < fast_grads[p].size(); ++i) {
                        CAPTURE(p);
                        CAPTURE(i);
                        CHECK(fast_grads[p][i] == doctest::Approx(slow_grads[p][i]).epsilon(1e-4).scale(1e-2));
                    }
            }
            std::vector<std::vector<float>> fast_buf, slow_buf;
            fast.for_each_buffer([&](const std::string&, auto& b) { fast_buf.push_back(b.to_host()); });
            slow.for_each_buffer([&](const std::string&, auto& b) { slow_buf.push_back(b.to_host()); });
            for (std::size_t b = 0; b < fast_buf.size(); ++b)
                for (std::size_t i = 0; i < fast_buf[b].size(); ++i)
                    CHECK(fast_buf[b][i] == doctest::Approx(slow_buf[b][i]).epsilon(1e-5).scale(1e-2));
            CHECK(fast.trunk().get<4>().stream().offset == slow.trunk().get<4>().stream().offset);

            // Evaluation mode: the step's pass against the tape's.
            fast.train(false);
            slow.train(false);
            std::vector<float> out(n * 3);
            step.evaluate(x.data(), static_cast<index_t>(n), out.data());
            tape.clear();
            const auto xt = Tensor<float>::from_host(x, static_cast<index_t>(n), 7);
            const auto want = slow.forward(tape.input(xt)).value().to_host();
            for (std::size_t i = 0; i < out.size(); ++i)
                CHECK(out[i] == doctest::Approx(want[i]).epsilon(1e-5).scale(0.1));
        }
}

TEST_CASE("one thread and two give the same bits, updates included") {
    const auto spec = small_spec(nn::activation_kind::swish);
    std::vector<std::vector<float>> results;
    for (int threads : {1, 2}) {
        nn::predictor<float> model(spec, unit_stats(spec), 9);
        train::parallel_step<> step(model, 8, threads, train::loss_kind::smooth_l1);
        optim::adam<float> opt(step.parameters(), {.lr = 0.01, .weight_decay = 1e-4});
        const std::size_t n = 30;
        const auto x = field(n * 7, 0.5), y = field(n * 3, 2.5);
        std::vector<std::size_t> order(n);
        for (std::size_t i = 0; i < n; ++i) order[i] = (i * 7) % n;
        for (int epoch = 0; epoch < 3; ++epoch)
            step.train_batches(order, 8, x.data(), y.data(), [&](auto) { opt.begin_step(); },
                               [&](const auto& sl) { opt.update(sl.param, sl.begin, sl.end); },
                               [](auto, float) {});
        results.push_back(parameter_values(model));
    }
    CHECK(results[0] == results[1]);
}

TEST_CASE("slices cover every parameter element exactly once") {
    const auto spec = small_spec(nn::activation_kind::swish);
    nn::predictor<float> model(spec, unit_stats(spec), 1);
    train::parallel_step<> step(model, 8, 1, train::loss_kind::l1);
    std::vector<std::vector<int>> hits;
    for (const auto& p : step.parameters()) hits.emplace_back(static_cast<std::size_t>(p.size), 0);
    for (int s = 0; s < train::step_shards; ++s)
        for (const auto& sl : step.slices(s))
            for (index_t i = sl.begin; i < sl.end; ++i) ++hits[sl.param][static_cast<std::size_t>(i)];
    for (const auto& h : hits)
        for (int c : h) CHECK(c == 1);
}

TEST_CASE("bad batches") {
    const auto spec = small_spec(nn::activation_kind::swish);
    nn::predictor<float> model(spec, unit_stats(spec), 1);
    train::parallel_step<> step(model, 8, 1, train::loss_kind::l1);
    std::vector<std::size_t> order(9);
    std::vector<float> x(9 * 7), y(9 * 3);
    auto none = [](auto...) {};
    CHECK_THROWS_AS(step.train_batches(order, 8, x.data(), y.data(), none, none, none), error);  // last batch of 1
    CHECK_THROWS_AS(step.train_batches(order, 9, x.data(), y.data(), none, none, none), error);  // above max
    CHECK_THROWS_AS(train::parallel_step<>(model, 8, 3, train::loss_kind::l1), error);
    CHECK_THROWS_AS(step.set_active_threads(2), error);  // a team of one
    CHECK_THROWS_WITH_AS(train::parse_loss("huber"), "unknown criterion 'huber' (expected mse, l1 or smoothl1)", error);
}

TEST_CASE("the row form of the random bits equals core's random_bits, across a 2^32 boundary too") {
    std::vector<std::uint32_t> row(300);
    for (const std::uint64_t base : {std::uint64_t{0}, std::uint64_t{123456789}, (std::uint64_t{1} << 32) - 1000,
                                     (std::uint64_t{7} << 32) + 5, ~std::uint64_t{0} - 20000})
        for (const std::uint64_t stride : {std::uint64_t{1}, std::uint64_t{24}, std::uint64_t{256}})
            for (const std::uint64_t key : {std::uint64_t{0}, std::uint64_t{0x1234567890abcdefULL}}) {
                train::detail::random_bits_row(key, base, stride, 300, row.data());
                for (std::uint64_t r = 0; r < 300; ++r)
                    CHECK(row[r] == ncp::detail::random_bits(key, base + r * stride));
            }
}

TEST_CASE("switching between one and two active threads keeps the bits") {
    const auto spec = small_spec(nn::activation_kind::swish);
    std::vector<std::vector<float>> results;
    for (bool switching : {false, true}) {
        nn::predictor<float> model(spec, unit_stats(spec), 9);
        train::parallel_step<> step(model, 8, 2, train::loss_kind::smooth_l1);
        optim::adam<float> opt(step.parameters(), {.lr = 0.01});
        const std::size_t n = 30;
        const auto x = field(n * 7, 0.5), y = field(n * 3, 2.5);
        std::vector<std::size_t> order(n);
        for (std::size_t i = 0; i < n; ++i) order[i] = (i * 7) % n;
        for (int epoch = 0; epoch < 4; ++epoch) {
            step.set_active_threads(switching && epoch % 2 == 1 ? 1 : 2);
            step.train_batches(order, 8, x.data(), y.data(), [&](auto) { opt.begin_step(); },
                               [&](const auto& sl) { opt.update(sl.param, sl.begin, sl.end); }, [](auto, float) {});
        }
        results.push_back(parameter_values(model));
    }
    CHECK(results[0] == results[1]);
}

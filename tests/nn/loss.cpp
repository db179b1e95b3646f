/// The training losses: the config's names, each kind's value against a naive loop, and its gradient against
/// central finite differences (double).

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "ncp/nn/loss.hpp"

using namespace ncp;

namespace {

std::vector<double> values(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 gen(seed);
    std::uniform_real_distribution<double> u(-2, 2);
    std::vector<double> v(n);
    for (double& x : v) x = u(gen);
    return v;
}

/// The mean over elements of the loss of `kind`, naively.
double naive(nn::loss_kind kind, const std::vector<double>& p, const std::vector<double>& t) {
    double sum = 0;
    for (std::size_t i = 0; i < p.size(); ++i) {
        const double d = p[i] - t[i];
        switch (kind) {
            case nn::loss_kind::mse: sum += d * d; break;
            case nn::loss_kind::l1: sum += std::abs(d); break;
            case nn::loss_kind::smooth_l1: sum += std::abs(d) < 1 ? 0.5 * d * d : std::abs(d) - 0.5; break;
        }
    }
    return sum / static_cast<double>(p.size());
}

}  // namespace

TEST_CASE("the config's names") {
    CHECK(nn::parse_loss("mse") == nn::loss_kind::mse);
    CHECK(nn::parse_loss("l1") == nn::loss_kind::l1);
    CHECK(nn::parse_loss("smoothl1") == nn::loss_kind::smooth_l1);
    CHECK_THROWS_WITH_AS(nn::parse_loss("huber"), "unknown criterion 'huber' (expected mse, l1 or smoothl1)", error);
}

TEST_CASE("each loss against a naive loop, and its gradient against finite differences") {
    constexpr index_t rows = 6, cols = 3;
    const std::vector<double> target = values(rows * cols, 1);
    for (auto kind : {nn::loss_kind::mse, nn::loss_kind::l1, nn::loss_kind::smooth_l1}) {
        CAPTURE(static_cast<int>(kind));
        std::vector<double> pred = values(rows * cols, 2);
        const Tensor<double> t = Tensor<double>::from_host(target, rows, cols);
        autograd::tape<double> tape;
        const Tensor<double> p = Tensor<double>::from_host(pred, rows, cols);
        const auto pv = tape.input(p, true);
        const auto loss = nn::loss(kind, pv, tape.input(t));
        CHECK(loss.value().to_host()[0] == doctest::Approx(naive(kind, pred, target)).epsilon(1e-14));
        tape.backward(loss);
        const std::vector<double> grad = pv.grad().to_host();
        for (std::size_t i = 0; i < pred.size(); ++i) {
            const double h = 1e-6, saved = pred[i];
            pred[i] = saved + h;
            const double up = naive(kind, pred, target);
            pred[i] = saved - h;
            const double down = naive(kind, pred, target);
            pred[i] = saved;
            CHECK(grad[i] == doctest::Approx((up - down) / (2 * h)).epsilon(1e-6));
        }
    }
}

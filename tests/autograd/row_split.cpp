/// Row-split batches: how a batch is cut and shared out; a step split over 1 to 4 members gives the same bits for
/// a given number of blocks, the whole-batch tape's bits with one block and its values to rounding with more (the
/// batch-norm statistics against a naive loop, the gradients against central finite differences, dropout masks
/// and stream positions exactly), also with a weight feeding two layers and a parameter the loss does not reach;
/// ops that would combine one member's rows refuse a row-split tape; a member's error reaches the caller.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "backends.hpp"
#include "ncp/autograd/ops.hpp"

using namespace ncp;
using namespace ncp::autograd;

namespace {

using ncp::test::uniform_values;

template <class T>
parameter<T> random_parameter(index_t rows, index_t cols, std::uint64_t seed, double lo = -0.6, double hi = 0.6) {
    return parameter<T>(ncp::test::uniform<T, ncp::backend::eigen_cpu>(rows, cols, seed, lo, hi));
}

constexpr index_t inputs = 5, outputs = 3;

/// A small network using every op that combines rows differently on a row-split tape: batch norm (of an input
/// without a gradient, and of a hidden layer), linear with and without a bias, dropout, activations, concat, a loss.
/// With `shared`, w1 also feeds a second linear layer (its gradient's second contribution turns the product left
/// for reduce_gradients into per-block sums), and `spare` is recorded but the loss does not reach it (zeros).
template <class T>
struct net {
    bool shared = false;
    parameter<T> g0 = random_parameter<T>(1, inputs, 1, 0.5, 1.5), b0 = random_parameter<T>(1, inputs, 2);
    parameter<T> w1 = random_parameter<T>(7, inputs, 3), b1 = random_parameter<T>(1, 7, 4);
    parameter<T> g1 = random_parameter<T>(1, 7, 5, 0.5, 1.5), c1 = random_parameter<T>(1, 7, 6);
    parameter<T> w2 = random_parameter<T>(2, 7, 7), w3 = random_parameter<T>(1, 7, 8),
                 b3 = random_parameter<T>(1, 1, 9), spare = random_parameter<T>(2, 3, 10);
    Tensor<T> mean0 = Tensor<T>::filled(1, inputs, T(0)), var0 = Tensor<T>::filled(1, inputs, T(1));
    Tensor<T> mean1 = Tensor<T>::filled(1, 7, T(0)), var1 = Tensor<T>::filled(1, 7, T(1));
    random_stream stream{11, 0};
    T p = T(0.3);

    var<T> forward(tape<T>& t, const var<T>& x) {
        var<T> h = batch_norm(x, t.leaf(g0), t.leaf(b0), mean0, var0, true);
        const var<T> w = t.leaf(w1);
        h = shared ? linear(h, w, t.leaf(b1)) + linear(h * T(0.5), w) : linear(h, w, t.leaf(b1));
        if (shared) t.leaf(spare);
        h = dropout(swish(batch_norm(h, t.leaf(g1), t.leaf(c1), mean1, var1, true)), p, stream, true);
        return concat_cols({tanh(linear(h, t.leaf(w2))), sigmoid(linear(h, t.leaf(w3), t.leaf(b3)))});
    }
    std::vector<parameter<T>*> parameters() {
        std::vector<parameter<T>*> all{&g0, &b0, &w1, &b1, &g1, &c1, &w2, &w3, &b3};
        if (shared) all.push_back(&spare);
        return all;
    }
};

/// What a step leaves behind.
template <class T>
struct step_result {
    T loss = 0;
    std::vector<std::vector<T>> grads;    ///< per parameter
    std::vector<std::vector<T>> running;  ///< the running statistics
    std::uint64_t offset = 0;             ///< the dropout stream's position
};

template <class T>
step_result<T> result_of(net<T>& model, T loss) {
    step_result<T> r{loss, {}, {}, model.stream.offset};
    for (parameter<T>* p : model.parameters()) r.grads.push_back(p->grad.to_host());
    for (const Tensor<T>* s : {&model.mean0, &model.var0, &model.mean1, &model.var1}) r.running.push_back(s->to_host());
    return r;
}

/// The loss of rows x (inputs wide) against y (outputs wide) through the model on one whole-batch tape, backward.
template <class T>
step_result<T> whole_step(net<T>& model, const std::vector<T>& x, const std::vector<T>& y, index_t rows) {
    tape<T> t;
    const Tensor<T> xt = Tensor<T>::from_host(x, rows, inputs), yt = Tensor<T>::from_host(y, rows, outputs);
    const var<T> loss = smooth_l1_loss(model.forward(t, t.input(xt)), t.input(yt));
    t.backward(loss);
    return result_of(model, loss.value().to_host()[0]);
}

/// The same step with the batch cut into `blocks` blocks over `members` members; the gradients reduced.
template <class T>
step_result<T> split_step(net<T>& model, const std::vector<T>& x, const std::vector<T>& y, index_t rows, int members,
                          index_t blocks) {
    parallel::thread_team team(members);
    row_split<T> split(team);
    std::vector<tape<T>> tapes(static_cast<std::size_t>(members));
    std::vector<Tensor<T>> xs(static_cast<std::size_t>(members)), ys(static_cast<std::size_t>(members));
    for (parameter<T>* p : model.parameters()) p->grad.resize_like(p->value);
    T loss_value = 0;
    team.run([&](int rank) {
        const row_share<T> share = split.share(rank, {rows, blocks});
        const auto r = static_cast<std::size_t>(rank);
        const auto first = static_cast<std::size_t>(share.first_row()), n = static_cast<std::size_t>(share.rows());
        tape<T>& t = tapes[r];
        t.clear();
        t.set_split(share);
        xs[r] = Tensor<T>::from_host(std::vector<T>(x.begin() + static_cast<std::ptrdiff_t>(first * inputs),
                                                    x.begin() + static_cast<std::ptrdiff_t>((first + n) * inputs)),
                                     share.rows(), inputs);
        ys[r] = Tensor<T>::from_host(std::vector<T>(y.begin() + static_cast<std::ptrdiff_t>(first * outputs),
                                                    y.begin() + static_cast<std::ptrdiff_t>((first + n) * outputs)),
                                     share.rows(), outputs);
        const var<T> loss = smooth_l1_loss(model.forward(t, t.input(xs[r])), t.input(ys[r]));
        t.backward(loss);
        team.barrier();
        if (rank == 0) {
            split.finish_batch();
            loss_value = loss.value().to_host()[0];
        }
        split.reduce_gradients(rank, t.split_leaves(), blocks, [](parameter<T>&, index_t, index_t) {});
    });
    return result_of(model, loss_value);
}

template <class T>
void check_close(const step_result<T>& a, const step_result<T>& b, double tolerance) {
    CHECK(a.loss == doctest::Approx(b.loss).epsilon(tolerance));
    CHECK(a.offset == b.offset);
    for (std::size_t i = 0; i < a.grads.size(); ++i)
        for (std::size_t j = 0; j < a.grads[i].size(); ++j) {
            CAPTURE(i);
            CAPTURE(j);
            CHECK(a.grads[i][j] == doctest::Approx(b.grads[i][j]).epsilon(tolerance).scale(1.0));
        }
    for (std::size_t i = 0; i < a.running.size(); ++i)
        for (std::size_t j = 0; j < a.running[i].size(); ++j)
            CHECK(a.running[i][j] == doctest::Approx(b.running[i][j]).epsilon(tolerance));
}

constexpr index_t rows = 50;

}  // namespace

TEST_CASE("blocks differ by at most one row; members get contiguous runs of them, member 0 at least one") {
    for (int members = 1; members <= 5; ++members) {
        parallel::thread_team team(members);
        row_split<float> split(team);
        for (index_t n : {2, 7, 50}) {
            for (index_t blocks = 1; blocks <= std::min<index_t>(n, 6); ++blocks) {
                const row_blocks layout{n, blocks};
                CHECK(layout.begin(0) == 0);
                CHECK(layout.begin(blocks) == n);
                for (index_t j = 0; j < blocks; ++j) CHECK(std::abs(layout.size(j) - n / blocks) <= 1);
                index_t next = 0, shared_rows = 0, most = 0, fewest = blocks;
                for (int rank = 0; rank < members; ++rank) {
                    const row_share<float> s = split.share(rank, layout);
                    CHECK(s.first_block == next);
                    CHECK(s.first_row() == layout.begin(s.first_block));
                    next = s.end_block;
                    shared_rows += s.rows();
                    most = std::max(most, s.end_block - s.first_block);
                    fewest = std::min(fewest, s.end_block - s.first_block);
                    if (rank == 0) CHECK(s.end_block >= 1);
                }
                CHECK(next == blocks);
                CHECK(shared_rows == n);
                CHECK(most - fewest <= 1);
            }
        }
    }
    parallel::thread_team team(3);
    row_split<float> split(team);
    const row_share<float> s = split.share(1, {10, 4});  // blocks of 2, 3, 2, 3 rows; members get 2, 1, 1 blocks
    CHECK(s.first_block == 2);
    CHECK(s.end_block == 3);
    CHECK(s.first_row() == 5);
    CHECK(s.rows() == 2);
    CHECK(split.share(2, {10, 4}).first_block == 3);
    CHECK_THROWS_WITH_AS(static_cast<void>(split.share(0, {3, 4})), "row split: 4 blocks for 3 rows", error);
}

TEST_CASE_TEMPLATE("a split step gives the same bits for any member count, the whole tape's with one block",
                   T, float, double) {
    for (bool shared : {false, true}) {
        CAPTURE(shared);
        const auto x = uniform_values<T>(rows * inputs, 21, -2, 3), y = uniform_values<T>(rows * outputs, 22);
        net<T> reference;
        reference.shared = shared;
        const step_result<T> whole = whole_step(reference, x, y, rows);
        if (shared) CHECK(whole.grads.back() == std::vector<T>(6, T(0)));
        CHECK(whole.offset == static_cast<std::uint64_t>(rows * 7));
        const double tolerance = std::is_same_v<T, float> ? 2e-5 : 1e-12;
        for (index_t blocks : {1, 2, 3, 5}) {
            CAPTURE(blocks);
            std::vector<step_result<T>> results;
            for (int members : {1, 2, 3, 4}) {
                CAPTURE(members);
                net<T> model;
                model.shared = shared;
                results.push_back(split_step(model, x, y, rows, members, blocks));
                const step_result<T>& r = results.back();
                CHECK(r.loss == results.front().loss);
                CHECK(r.grads == results.front().grads);
                CHECK(r.running == results.front().running);
                CHECK(r.offset == whole.offset);
            }
            if (blocks == 1) {
                CHECK(results.front().loss == whole.loss);
                CHECK(results.front().grads == whole.grads);
                CHECK(results.front().running == whole.running);
            }
            check_close(results.front(), whole, tolerance);
            if (shared) CHECK(results.front().grads.back() == std::vector<T>(6, T(0)));
        }
    }
}

TEST_CASE("the merged batch-norm statistics against a naive loop") {
    // The input batch norm normalises x itself: after one step from (0, 1) the running statistics are 0.1 of the
    // batch mean and 0.9 + 0.1 of the unbiased variance.
    const auto x = uniform_values<double>(rows * inputs, 31, -2, 5), y = uniform_values<double>(rows * outputs, 32);
    net<double> model;
    split_step(model, x, y, rows, 2, 3);
    const std::vector<double> mean = model.mean0.to_host(), var = model.var0.to_host();
    for (index_t c = 0; c < inputs; ++c) {
        double m = 0, s = 0;
        for (index_t r = 0; r < rows; ++r) m += x[static_cast<std::size_t>(r * inputs + c)];
        m /= rows;
        for (index_t r = 0; r < rows; ++r) s += std::pow(x[static_cast<std::size_t>(r * inputs + c)] - m, 2);
        CHECK(mean[static_cast<std::size_t>(c)] == doctest::Approx(0.1 * m).epsilon(1e-13));
        CHECK(var[static_cast<std::size_t>(c)] == doctest::Approx(0.9 + 0.1 * s / (rows - 1)).epsilon(1e-13));
    }
}

TEST_CASE("split gradients against central finite differences of the split loss (double)") {
    for (bool shared : {false, true}) {
        CAPTURE(shared);
        const auto x = uniform_values<double>(rows * inputs, 41, -2, 3), y = uniform_values<double>(rows * outputs, 42);
        net<double> model;
        model.shared = shared;
        // The same masks for every evaluation: the stream restarts at 0.
        const auto loss_at = [&] {
            model.stream.offset = 0;
            return split_step(model, x, y, rows, 3, 4);
        };
        const step_result<double> at = loss_at();
        const std::vector<parameter<double>*> params = model.parameters();
        for (std::size_t i = 0; i < params.size(); ++i) {
            std::vector<double> value = params[i]->value.to_host();
            for (std::size_t j = 0; j < value.size(); j += 3) {
                CAPTURE(i);
                CAPTURE(j);
                const double h = 1e-6, saved = value[j];
                value[j] = saved + h;
                params[i]->value.copy_from_host(value);
                const double up = loss_at().loss;
                value[j] = saved - h;
                params[i]->value.copy_from_host(value);
                const double down = loss_at().loss;
                value[j] = saved;
                params[i]->value.copy_from_host(value);
                CHECK(at.grads[i][j] == doctest::Approx((up - down) / (2 * h)).epsilon(1e-6).scale(1e-3));
            }
        }
    }
}

TEST_CASE("ops that would combine one member's rows refuse a row-split tape; errors reach the caller") {
    parallel::thread_team team(2);
    row_split<double> split(team);
    tape<double> t;
    t.set_split(split.share(0, {2, 1}));  // member 0 holds the one block: nothing waits for member 1
    const Tensor<double> x = Tensor<double>::filled(2, 3, 1.0);
    const var<double> v = t.input(x, true);
    CHECK_THROWS_WITH_AS(sum(v), "sum: not available on a row-split tape (it would combine only one member's rows)",
                         error);
    CHECK_THROWS_AS(mean(v, axis::rows), error);
    CHECK_NOTHROW(sum(v, axis::cols));  // one value per row
    CHECK_THROWS_AS(matmul(v, v, true), error);
    // A parameter reached through an op that would sum its gradient over the member's rows.
    parameter<double> p(Tensor<double>::filled(1, 3, 2.0));
    t.clear();
    const var<double> scaled = t.input(x, true) * t.leaf(p);
    CHECK_THROWS_WITH_AS(t.backward(mse_loss(scaled, t.input(x))),
                         "autograd: on a row-split tape, parameters take gradients only through linear and batch_norm "
                         "(another op would add up the rows of one member only)",
                         error);
    t.clear();
    CHECK_THROWS_AS(t.leaf(p) + t.leaf(p), error);  // a parameter twice
    t.clear();
    CHECK_THROWS_WITH_AS(linear(t.input(Tensor<double>::filled(3, 3, 1.0)), t.leaf(p)),
                         "linear: a member of a row-split batch holds 2 of its rows, the input 3", error);

    // Member 1 records a batch norm on the wrong rows while member 0 waits for it at the statistics' barrier.
    net<double> model;
    std::vector<tape<double>> tapes(2);
    CHECK_THROWS_WITH_AS(team.run([&](int rank) {
        tape<double>& mine = tapes[static_cast<std::size_t>(rank)];
        mine.clear();
        mine.set_split(split.share(rank, {8, 2}));
        const Tensor<double> in = Tensor<double>::filled(rank == 0 ? 4 : 5, inputs, 0.5);
        model.forward(mine, mine.input(in));
    }),
                         "batch_norm: a member of a row-split batch holds 4 of its rows, the input 5", error);
}

#pragma once
// The NCP seg predictor of docs/algorithm.md section 4, written directly on the autograd ops for the benchmarks (the nn
// layer builds the real one): trunk BN(27) -> Linear(27, 256) -> BN(256) -> swish -> dropout(0.5); heads Linear(256,
// 128) -> BN(128) -> swish -> dropout(p) -> Linear(128, k), k = 1, 2, 2, p = 0.5, 0.5, 0; concat. On any backend B: the
// same seed gives the same weights everywhere.

#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "ncp/autograd/ops.hpp"
#include "ncp/search/objective.hpp"

namespace ncp::bench {

using namespace ncp::autograd;

/// rows x cols values uniform in [-bound, bound], drawn on the host.
template <class B = default_backend>
Tensor<float, B> uniform(index_t rows, index_t cols, float bound, std::mt19937_64& gen) {
    std::uniform_real_distribution<float> u(-bound, bound);
    std::vector<float> v(static_cast<std::size_t>(rows * cols));
    for (float& x : v) x = u(gen);
    return Tensor<float, B>::from_host(v, rows, cols);
}

template <class B>
struct linear_layer {
    parameter<float, B> weight, bias;
    linear_layer(index_t in, index_t out, std::mt19937_64& gen)
        : weight(uniform<B>(out, in, 1 / std::sqrt(float(in)), gen)),
          bias(uniform<B>(1, out, 1 / std::sqrt(float(in)), gen)) {
        bias.value.resize(out);
    }
    var<float, B> operator()(tape<float, B>& t, const var<float, B>& x) {
        return linear(x, t.leaf(weight), t.leaf(bias));
    }
};

template <class B>
struct batch_norm_layer {
    parameter<float, B> gamma, beta;
    Tensor<float, B> running_mean, running_var;
    explicit batch_norm_layer(index_t features)
        : gamma(Tensor<float, B>::filled(1, features, 1)), beta(Tensor<float, B>::filled(1, features, 0)),
          running_mean(Tensor<float, B>::filled(1, features, 0)),
          running_var(Tensor<float, B>::filled(1, features, 1)) {}
    var<float, B> operator()(tape<float, B>& t, const var<float, B>& x, bool training) {
        return batch_norm(x, t.leaf(gamma), t.leaf(beta), running_mean, running_var, training);
    }
};

template <class B>
struct head {
    linear_layer<B> hidden;
    batch_norm_layer<B> norm;
    float p;
    linear_layer<B> out;
    head(index_t outputs, float dropout_p, std::mt19937_64& gen)
        : hidden(256, 128, gen), norm(128), p(dropout_p), out(128, outputs, gen) {}
};

template <class B = default_backend>
struct seg_predictor {
    static constexpr index_t inputs = 27;
    std::mt19937_64 gen{233};
    batch_norm_layer<B> input_norm{inputs};
    linear_layer<B> trunk{inputs, 256, gen};
    batch_norm_layer<B> trunk_norm{256};
    std::array<head<B>, 3> heads{head<B>(1, 0.5f, gen), head<B>(2, 0.5f, gen), head<B>(2, 0.0f, gen)};
    random_stream stream{233, 0};

    var<float, B> operator()(tape<float, B>& t, const var<float, B>& x, bool training) {
        var<float, B> h = trunk(t, input_norm(t, x, training));
        h = dropout(swish(trunk_norm(t, h, training)), 0.5f, stream, training);
        std::array<var<float, B>, 3> outputs;
        for (std::size_t g = 0; g < heads.size(); ++g) {
            head<B>& hd = heads[g];
            outputs[g] = hd.out(t, dropout(swish(hd.norm(t, hd.hidden(t, h), training)), hd.p, stream, training));
        }
        return concat_cols(std::span<const var<float, B>>(outputs));
    }

    std::vector<parameter<float, B>*> parameters() {
        std::vector<parameter<float, B>*> all = {&input_norm.gamma, &input_norm.beta, &trunk.weight, &trunk.bias,
                                                 &trunk_norm.gamma, &trunk_norm.beta};
        for (head<B>& hd : heads) {
            for (parameter<float, B>* p : {&hd.hidden.weight, &hd.hidden.bias, &hd.norm.gamma, &hd.norm.beta,
                                           &hd.out.weight, &hd.out.bias}) {
                all.push_back(p);
            }
        }
        return all;
    }

    /// Multiply-accumulates of the linear layers for one sample.
    static constexpr double macs_per_sample = inputs * 256 + 3 * 256 * 128 + 128 * (1 + 2 + 2);
};

/// The NCP step's loss (search::step_loss) on the seg predictor's outputs: mIoU (output 0) up, FLOPs (output 3,
/// weight 0.5) down, no budgets.
template <class B>
var<float, B> ncp_step_loss(const var<float, B>& out) {
    static const search::objective_layout layout{{1}, {1}, 0.5, true};
    static const search::output_terms terms{5, 3, {}, {}};
    return search::step_loss<float, B>(layout, std::span(&out, 1), std::span(&terms, 1), 1.0);
}

}  // namespace ncp::bench

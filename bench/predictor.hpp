#pragma once
// The NCP seg predictor of spec section 4, written directly on the autograd ops for the benchmarks (the nn layer
// builds the real one): trunk BN(27) -> Linear(27, 256) -> BN(256) -> swish -> dropout(0.5); heads
// Linear(256, 128) -> BN(128) -> swish -> dropout(p) -> Linear(128, k), k = 1, 2, 2, p = 0.5, 0.5, 0; concat.

#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "ncp/autograd/ops.hpp"

namespace ncp::bench {

using namespace ncp::autograd;

inline Tensor<float> uniform(index_t rows, index_t cols, float bound, std::mt19937_64& gen) {
    std::uniform_real_distribution<float> u(-bound, bound);
    Tensor<float> t(rows, cols);
    for (index_t i = 0; i < t.size(); ++i) t[i] = u(gen);
    return t;
}

struct linear_layer {
    parameter<float> weight, bias;
    linear_layer(index_t in, index_t out, std::mt19937_64& gen)
        : weight(uniform(out, in, 1 / std::sqrt(float(in)), gen)), bias(uniform(1, out, 1 / std::sqrt(float(in)), gen)) {
        bias.value.resize(out);
    }
    var<float> operator()(tape<float>& t, const var<float>& x) { return linear(x, t.leaf(weight), t.leaf(bias)); }
};

struct batch_norm_layer {
    parameter<float> gamma, beta;
    Tensor<float> running_mean, running_var;
    explicit batch_norm_layer(index_t features)
        : gamma(Tensor<float>::filled(1, features, 1)), beta(Tensor<float>::filled(1, features, 0)),
          running_mean(Tensor<float>::filled(1, features, 0)), running_var(Tensor<float>::filled(1, features, 1)) {}
    var<float> operator()(tape<float>& t, const var<float>& x, bool training) {
        return batch_norm(x, t.leaf(gamma), t.leaf(beta), running_mean, running_var, training);
    }
};

struct head {
    linear_layer hidden;
    batch_norm_layer norm;
    float p;
    linear_layer out;
    head(index_t outputs, float dropout_p, std::mt19937_64& gen)
        : hidden(256, 128, gen), norm(128), p(dropout_p), out(128, outputs, gen) {}
};

struct seg_predictor {
    static constexpr index_t inputs = 27;
    std::mt19937_64 gen{233};
    batch_norm_layer input_norm{inputs};
    linear_layer trunk{inputs, 256, gen};
    batch_norm_layer trunk_norm{256};
    std::array<head, 3> heads{head(1, 0.5f, gen), head(2, 0.5f, gen), head(2, 0.0f, gen)};
    random_stream stream{233, 0};

    var<float> operator()(tape<float>& t, const var<float>& x, bool training) {
        var<float> h = trunk(t, input_norm(t, x, training));
        h = dropout(swish(trunk_norm(t, h, training)), 0.5f, stream, training);
        std::array<var<float>, 3> outputs;
        for (std::size_t g = 0; g < heads.size(); ++g) {
            head& hd = heads[g];
            outputs[g] = hd.out(t, dropout(swish(hd.norm(t, hd.hidden(t, h), training)), hd.p, stream, training));
        }
        return concat_cols(std::span<const var<float>>(outputs));
    }

    std::vector<parameter<float>*> parameters() {
        std::vector<parameter<float>*> all = {&input_norm.gamma, &input_norm.beta, &trunk.weight, &trunk.bias,
                                              &trunk_norm.gamma, &trunk_norm.beta};
        for (head& hd : heads) {
            for (parameter<float>* p : {&hd.hidden.weight, &hd.hidden.bias, &hd.norm.gamma, &hd.norm.beta,
                                        &hd.out.weight, &hd.out.bias}) {
                all.push_back(p);
            }
        }
        return all;
    }

    /// Multiply-accumulates of the linear layers for one sample.
    static constexpr double macs_per_sample = inputs * 256 + 3 * 256 * 128 + 128 * (1 + 2 + 2);
};

}  // namespace ncp::bench

#pragma once
/// Layers on the autograd tape, PyTorch's modules with PyTorch's defaults: Linear, BatchNorm1d, the activations and
/// Dropout, and `sequential`, which composes layer types at compile time.
///
/// A layer has `forward(x)` (recording on x's tape), `train(bool)`, and visitors over its parameters and buffers
/// named as PyTorch's state_dict names them ("weight", "running_mean", "0.weight" inside a sequential), which is
/// how optimisers and checkpoints enumerate them.

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "ncp/autograd/ops.hpp"

namespace ncp::nn {

using autograd::parameter;
using autograd::var;

/// A uniform double in [0, 1) from 53 bits of `gen`: the same on every standard library (unlike
/// std::uniform_real_distribution), so a seeded initialisation is portable.
inline double unit_uniform(std::mt19937_64& gen) { return static_cast<double>(gen() >> 11) * 0x1.0p-53; }

/// torch.nn.Linear: y = x W^T + b, W [out, in]. Initialised as PyTorch does (kaiming-uniform with a = sqrt(5) for W,
/// which is U(-1/sqrt(in), 1/sqrt(in)), and the same range for b), from a seeded portable generator.
template <class T = float, class Backend = default_backend>
class linear {
public:
    /// in -> out features; `seed` fixes the initial weights.
    linear(index_t in, index_t out, std::uint64_t seed) : m_weight(Tensor<T, Backend>(out, in)), m_bias(Tensor<T, Backend>(out)) {
        if (in <= 0 || out <= 0)
            throw error("linear: sizes must be positive (in " + std::to_string(in) + ", out " + std::to_string(out) + ")");
        std::mt19937_64 gen(seed);
        const double bound = 1.0 / std::sqrt(static_cast<double>(in));
        std::vector<T> w(static_cast<std::size_t>(in * out)), b(static_cast<std::size_t>(out));
        for (auto& v : w) v = static_cast<T>((2 * unit_uniform(gen) - 1) * bound);
        for (auto& v : b) v = static_cast<T>((2 * unit_uniform(gen) - 1) * bound);
        m_weight.value.copy_from_host(w);
        m_bias.value.copy_from_host(b);
    }

    /// x [batch, in] -> [batch, out].
    var<T, Backend> forward(const var<T, Backend>& x) {
        auto& t = x.owner();
        return autograd::linear(x, t.leaf(m_weight), t.leaf(m_bias));
    }
    /// No mode-dependent behaviour.
    void train(bool) {}
    /// Calls f(name, parameter&) for "weight" and "bias".
    template <class F>
    void for_each_parameter(F&& f, const std::string& prefix = "") {
        f(prefix + "weight", m_weight);
        f(prefix + "bias", m_bias);
    }
    /// No buffers.
    template <class F>
    void for_each_buffer(F&&, const std::string& = "") {}

    /// W [out, in].
    parameter<T, Backend>& weight() { return m_weight; }
    /// b [out].
    parameter<T, Backend>& bias() { return m_bias; }
    index_t in_features() const { return m_weight.value.cols(); }
    index_t out_features() const { return m_weight.value.rows(); }

private:
    parameter<T, Backend> m_weight;
    parameter<T, Backend> m_bias;
};

/// torch.nn.BatchNorm1d (affine, running statistics, momentum 0.1, eps 1e-5): batch statistics in training,
/// running statistics in evaluation.
template <class T = float, class Backend = default_backend>
class batch_norm1d {
public:
    static constexpr T momentum = T(0.1);  ///< running = (1 - momentum) running + momentum batch
    static constexpr T eps = T(1e-5);      ///< added to the variance

    /// `features` channels: gamma 1, beta 0, running mean 0, running variance 1.
    explicit batch_norm1d(index_t features)
        : m_gamma(Tensor<T, Backend>::filled(1, features, T(1))),
          m_beta(Tensor<T, Backend>::filled(1, features, T(0))),
          m_running_mean(Tensor<T, Backend>::filled(1, features, T(0))),
          m_running_var(Tensor<T, Backend>::filled(1, features, T(1))) {
        if (features <= 0) throw error("batch_norm1d: needs at least one feature");
    }

    /// x [batch, features]; in training also updates the running statistics.
    var<T, Backend> forward(const var<T, Backend>& x) {
        auto& t = x.owner();
        return autograd::batch_norm(x, t.leaf(m_gamma), t.leaf(m_beta), m_running_mean, m_running_var, m_training,
                                    momentum, eps);
    }
    /// Training (batch statistics) or evaluation (running statistics).
    void train(bool on) { m_training = on; }
    bool training() const { return m_training; }
    /// Calls f(name, parameter&) for "weight" (gamma) and "bias" (beta), PyTorch's names.
    template <class F>
    void for_each_parameter(F&& f, const std::string& prefix = "") {
        f(prefix + "weight", m_gamma);
        f(prefix + "bias", m_beta);
    }
    /// Calls f(name, tensor&) for "running_mean" and "running_var".
    template <class F>
    void for_each_buffer(F&& f, const std::string& prefix = "") {
        f(prefix + "running_mean", m_running_mean);
        f(prefix + "running_var", m_running_var);
    }

    parameter<T, Backend>& gamma() { return m_gamma; }
    parameter<T, Backend>& beta() { return m_beta; }
    Tensor<T, Backend>& running_mean() { return m_running_mean; }
    Tensor<T, Backend>& running_var() { return m_running_var; }
    index_t features() const { return m_gamma.value.cols(); }

private:
    parameter<T, Backend> m_gamma;
    parameter<T, Backend> m_beta;
    Tensor<T, Backend> m_running_mean;
    Tensor<T, Backend> m_running_var;
    bool m_training = true;
};

/// The activations the original offers.
enum class activation_kind { relu, relu6, tanh, swish };

/// The config's name of an activation ("relu", "relu6", "tanh", "swish"); throws naming anything else.
inline activation_kind parse_activation(std::string_view name) {
    if (name == "relu") return activation_kind::relu;
    if (name == "relu6") return activation_kind::relu6;
    if (name == "tanh") return activation_kind::tanh;
    if (name == "swish") return activation_kind::swish;
    throw error("unknown activation '" + std::string(name) + "' (expected relu, relu6, tanh or swish)");
}

/// The config's name of `kind`.
inline const char* activation_name(activation_kind kind) {
    switch (kind) {
        case activation_kind::relu: return "relu";
        case activation_kind::relu6: return "relu6";
        case activation_kind::tanh: return "tanh";
        case activation_kind::swish: return "swish";
    }
    return "?";
}

/// An element-wise activation chosen at run time (the config picks it; the layer stack stays compile-time).
template <class T = float, class Backend = default_backend>
class activation {
public:
    explicit activation(activation_kind kind) : m_kind(kind) {}

    var<T, Backend> forward(const var<T, Backend>& x) {
        switch (m_kind) {
            case activation_kind::relu: return autograd::relu(x);
            case activation_kind::relu6: return autograd::relu6(x);
            case activation_kind::tanh: return autograd::tanh(x);
            case activation_kind::swish: return autograd::swish(x);
        }
        return x;
    }
    void train(bool) {}
    template <class F>
    void for_each_parameter(F&&, const std::string& = "") {}
    template <class F>
    void for_each_buffer(F&&, const std::string& = "") {}
    activation_kind kind() const { return m_kind; }

private:
    activation_kind m_kind;
};

/// torch.nn.Dropout: in training zeroes each element with probability p and scales the rest by 1 / (1 - p); the
/// identity in evaluation. Masks come from a counter-based stream (seed, offset), so a run replays exactly.
template <class T = float, class Backend = default_backend>
class dropout {
public:
    /// Probability p in [0, 1); `seed` names the layer's random stream.
    dropout(T p, std::uint64_t seed) : m_p(p), m_stream{seed, 0} {
        if (!(p >= T(0) && p < T(1))) throw error("dropout: probability " + std::to_string(p) + " is not in [0, 1)");
    }

    var<T, Backend> forward(const var<T, Backend>& x) { return autograd::dropout(x, m_p, m_stream, m_training); }
    void train(bool on) { m_training = on; }
    bool training() const { return m_training; }
    template <class F>
    void for_each_parameter(F&&, const std::string& = "") {}
    template <class F>
    void for_each_buffer(F&&, const std::string& = "") {}

    T p() const { return m_p; }
    /// The random stream; its offset counts the elements drawn so far.
    autograd::random_stream& stream() { return m_stream; }

private:
    T m_p;
    autograd::random_stream m_stream;
    bool m_training = true;
};

/// What a layer offers (see the header comment).
template <class L, class T, class Backend>
concept layer = requires(L& l, const var<T, Backend>& x, bool on) {
    { l.forward(x) } -> std::same_as<var<T, Backend>>;
    l.train(on);
};

/// Layers applied in order, composed at compile time; parameter names are prefixed with the layer's position.
template <class... Layers>
class sequential {
public:
    explicit sequential(Layers... layers) : m_layers(std::move(layers)...) {}

    /// Each layer's forward on the previous one's output.
    template <class V>
    V forward(const V& x) {
        return std::apply([&](auto&... l) { return chain(x, l...); }, m_layers);
    }
    /// Training or evaluation mode for every layer.
    void train(bool on) {
        std::apply([&](auto&... l) { (l.train(on), ...); }, m_layers);
    }
    /// f(name, parameter&) for every parameter, named "<position>.<name>".
    template <class F>
    void for_each_parameter(F&& f, const std::string& prefix = "") {
        each([&](auto& l, const std::string& p) { l.for_each_parameter(f, p); }, prefix);
    }
    /// f(name, tensor&) for every buffer, named "<position>.<name>".
    template <class F>
    void for_each_buffer(F&& f, const std::string& prefix = "") {
        each([&](auto& l, const std::string& p) { l.for_each_buffer(f, p); }, prefix);
    }
    /// Layer I.
    template <std::size_t I>
    auto& get() {
        return std::get<I>(m_layers);
    }
    template <std::size_t I>
    const auto& get() const {
        return std::get<I>(m_layers);
    }
    /// Number of layers.
    static constexpr std::size_t size() { return sizeof...(Layers); }

private:
    template <class V>
    static V chain(const V& x) {
        return x;
    }
    template <class V, class First, class... Rest>
    static V chain(const V& x, First& first, Rest&... rest) {
        return chain(first.forward(x), rest...);
    }
    template <class G>
    void each(G&& g, const std::string& prefix) {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (g(std::get<I>(m_layers), prefix + std::to_string(I) + "."), ...);
        }(std::index_sequence_for<Layers...>{});
    }

    std::tuple<Layers...> m_layers;
};

}  // namespace ncp::nn

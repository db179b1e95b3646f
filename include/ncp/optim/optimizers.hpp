#pragma once
/// Optimisers with PyTorch's exact update rules: Adam (L2 decay added to the gradient), AdamW (decoupled decay)
/// and SGD (momentum, dampening, Nesterov). Scalars (bias corrections, step sizes) are computed in double as
/// PyTorch computes them in Python, then rounded to T where PyTorch's tensor ops round them.
///
/// An update has two halves: begin_step() counts the step and fixes its scalars; update(i, begin, end) applies it
/// to elements [begin, end) of parameter i. Threads that own disjoint slices of the parameters update them
/// concurrently between one begin_step() and the next; step() does both halves for everything.
///
/// The backend is a template argument: parameters, gradients and the optimiser's state live in its memory. A host
/// backend runs each element's whole update in one loop; a device backend runs the same functors
/// (backend/functors.hpp) as one kernel per PyTorch op, so parameters never leave the device.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ncp/backend/functors.hpp"
#include "ncp/tensor/tensor.hpp"

namespace ncp::optim {

/// One parameter as an optimiser sees it: `size` values and their gradient, in the optimiser's backend's memory.
template <class T>
struct parameter {
    T* value = nullptr;        ///< updated in place
    const T* grad = nullptr;   ///< read by update()
    index_t size = 0;          ///< elements
};

/// Adam's settings (PyTorch's defaults; `decoupled` turns Adam into AdamW).
struct adam_options {
    double lr = 1e-3;            ///< learning rate
    double beta1 = 0.9;          ///< first-moment decay (what onecycle cycles as "momentum")
    double beta2 = 0.999;        ///< second-moment decay
    double eps = 1e-8;           ///< added to the bias-corrected root of the second moment
    double weight_decay = 0;     ///< L2 factor added to the gradient, or (decoupled) the decay rate
    bool decoupled = false;      ///< AdamW: p *= 1 - lr weight_decay instead of the L2 term
};

/// SGD's settings (PyTorch's defaults).
struct sgd_options {
    double lr = 1e-2;            ///< learning rate
    double momentum = 0;         ///< heavy-ball factor; 0 keeps no buffer
    double dampening = 0;        ///< buffer = momentum buffer + (1 - dampening) gradient
    double weight_decay = 0;     ///< L2 factor added to the gradient
    bool nesterov = false;       ///< step along gradient + momentum buffer
};

namespace detail {

template <class T>
void check_parameters(std::span<const parameter<T>> params, const char* who) {
    for (std::size_t i = 0; i < params.size(); ++i)
        if (params[i].size < 0 || (params[i].size > 0 && (params[i].value == nullptr || params[i].grad == nullptr)))
            throw error(std::string(who) + ": parameter " + std::to_string(i) + " has no storage");
}

/// One zeroed state buffer per parameter, of its size.
template <class T, class Backend>
std::vector<Tensor<T, Backend>> zeroed_like(std::span<const parameter<T>> params) {
    std::vector<Tensor<T, Backend>> state;
    for (const auto& p : params) state.push_back(Tensor<T, Backend>::filled(1, p.size, T(0)));
    return state;
}

/// Scratch for a device backend's updates: as long as the longest parameter (a host backend needs none).
template <class T, class Backend>
Tensor<T, Backend> scratch_for(std::span<const parameter<T>> params) {
    index_t longest = 0;
    if constexpr (!ncp::detail::kernels<Backend>::host_accessible)
        for (const auto& p : params) longest = std::max(longest, p.size);
    return Tensor<T, Backend>(longest);
}

/// out[0, n) = F(in[0, n)...) on the backend, every operand a contiguous row or a constant.
template <class F, class T, class Backend, class... V>
void map_row(index_t n, T* out, const V&... in) {
    ncp::detail::kernels<Backend>::template map<F>(1, n, T(1), T(0), out, n, in...);
}


}  // namespace detail

/// Adam / AdamW over a fixed list of parameters (torch.optim.Adam / AdamW, amsgrad off, single-tensor path).
template <class T = float, class Backend = default_backend>
class adam {
public:
    /// Keeps `params` (their memory must outlive the optimiser) and zeroed moments for each.
    adam(std::vector<parameter<T>> params, const adam_options& options)
        : m_params((detail::check_parameters<T>(params, options.decoupled ? "adamw" : "adam"), std::move(params))),
          m_o(options),
          m_first(detail::zeroed_like<T, Backend>(m_params)),
          m_second(detail::zeroed_like<T, Backend>(m_params)),
          m_scratch(detail::scratch_for<T, Backend>(m_params)) {}

    /// Learning rate of the next step.
    double lr() const { return m_o.lr; }
    /// Sets the learning rate (schedulers call this).
    void set_lr(double lr) { m_o.lr = lr; }
    /// beta1, the factor onecycle cycles.
    double momentum() const { return m_o.beta1; }
    /// Sets beta1.
    void set_momentum(double beta1) { m_o.beta1 = beta1; }
    /// Steps taken (begin_step calls).
    std::int64_t steps() const { return m_step; }
    /// The parameters, in the order given.
    std::span<const parameter<T>> parameters() const { return m_params; }

    /// Counts one step and fixes its scalars from the current lr and beta1.
    void begin_step() {
        ++m_step;
        const double step = static_cast<double>(m_step);
        const double bias_correction1 = 1 - std::pow(m_o.beta1, step);
        const double bias_correction2 = 1 - std::pow(m_o.beta2, step);
        m_k.decay = static_cast<T>(1 - m_o.lr * m_o.weight_decay);
        m_k.l2 = static_cast<T>(m_o.weight_decay);
        m_k.beta1 = static_cast<T>(m_o.beta1);
        m_k.one_minus_beta1 = static_cast<T>(1 - m_o.beta1);
        m_k.beta2 = static_cast<T>(m_o.beta2);
        m_k.one_minus_beta2 = static_cast<T>(1 - m_o.beta2);
        m_k.bias_correction2_sqrt = static_cast<T>(std::sqrt(bias_correction2));
        m_k.eps = static_cast<T>(m_o.eps);
        m_k.neg_step_size = static_cast<T>(-(m_o.lr / bias_correction1));
    }

    /// Applies the current step to elements [begin, end) of parameter i.
    void update(std::size_t i, index_t begin, index_t end) {
        namespace fn = ncp::detail::fn;
        const parameter<T>& p = m_params[i];
        T* value = p.value + begin;
        const T* grad = p.grad + begin;
        T* m = m_first[i].data() + begin;
        T* v = m_second[i].data() + begin;
        const index_t n = end - begin;
        const auto k = m_k;
        const bool decoupled = m_o.decoupled, l2 = !m_o.decoupled && m_o.weight_decay != 0;
        if constexpr (ncp::detail::kernels<Backend>::host_accessible) {
            // One pass per element (the row split updates each member's slice right after adding up its
            // gradients, while they are in cache).
            for (index_t j = 0; j < n; ++j) {
                if (decoupled) value[j] = fn::mul::apply(value[j], k.decay);
                const T g = l2 ? fn::decayed_gradient::apply(grad[j], value[j], k.l2) : grad[j];
                m[j] = fn::moving_average::apply(m[j], g, k.beta1, k.one_minus_beta1);
                v[j] = fn::moving_square::apply(v[j], g, k.beta2, k.one_minus_beta2);
                value[j] = fn::adam_step::apply(value[j], m[j], v[j], k.bias_correction2_sqrt, k.eps, k.neg_step_size);
            }
        } else {
            using view = ncp::detail::view<T>;
            const auto row = [](const T* x) { return view::row(x); };
            const auto c = [](T x) { return view::constant(x); };
            if (decoupled) detail::map_row<fn::mul, T, Backend>(n, value, row(value), c(k.decay));
            const T* g = grad;
            if (l2) {
                T* scratch = m_scratch.data();
                detail::map_row<fn::decayed_gradient, T, Backend>(n, scratch, row(grad), row(value), c(k.l2));
                g = scratch;
            }
            detail::map_row<fn::moving_average, T, Backend>(n, m, row(m), row(g), c(k.beta1), c(k.one_minus_beta1));
            detail::map_row<fn::moving_square, T, Backend>(n, v, row(v), row(g), c(k.beta2), c(k.one_minus_beta2));
            detail::map_row<fn::adam_step, T, Backend>(n, value, row(value), row(m), row(v),
                                                       c(k.bias_correction2_sqrt), c(k.eps), c(k.neg_step_size));
        }
    }

    /// One full step over every parameter.
    void step() {
        begin_step();
        for (std::size_t i = 0; i < m_params.size(); ++i) update(i, 0, m_params[i].size);
    }

private:
    struct scalars {
        T decay, l2, beta1, one_minus_beta1, beta2, one_minus_beta2, bias_correction2_sqrt, eps, neg_step_size;
    };
    std::vector<parameter<T>> m_params;
    adam_options m_o;
    std::vector<Tensor<T, Backend>> m_first;   ///< exp_avg per parameter
    std::vector<Tensor<T, Backend>> m_second;  ///< exp_avg_sq per parameter
    Tensor<T, Backend> m_scratch;              ///< a device backend's L2-decayed gradient
    std::int64_t m_step = 0;
    scalars m_k{};
};

/// SGD with momentum, dampening, Nesterov and L2 decay (torch.optim.SGD, single-tensor path).
template <class T = float, class Backend = default_backend>
class sgd {
public:
    /// Keeps `params` (their memory must outlive the optimiser) and a momentum buffer for each.
    sgd(std::vector<parameter<T>> params, const sgd_options& options)
        : m_params((detail::check_parameters<T>(params, "sgd"), std::move(params))), m_o(options) {
        if (m_o.nesterov && (m_o.momentum <= 0 || m_o.dampening != 0))
            throw error("sgd: Nesterov momentum requires a momentum and zero dampening");
        m_buffer = detail::zeroed_like<T, Backend>(m_params);
        m_scratch = detail::scratch_for<T, Backend>(m_params);
    }

    /// Learning rate of the next step.
    double lr() const { return m_o.lr; }
    /// Sets the learning rate (schedulers call this).
    void set_lr(double lr) { m_o.lr = lr; }
    /// The momentum factor, which onecycle cycles.
    double momentum() const { return m_o.momentum; }
    /// Sets the momentum factor.
    void set_momentum(double momentum) { m_o.momentum = momentum; }
    /// Steps taken (begin_step calls).
    std::int64_t steps() const { return m_step; }
    /// The parameters, in the order given.
    std::span<const parameter<T>> parameters() const { return m_params; }

    /// Counts one step and fixes its scalars from the current lr and momentum.
    void begin_step() {
        ++m_step;
        m_k.l2 = static_cast<T>(m_o.weight_decay);
        m_k.momentum = static_cast<T>(m_o.momentum);
        m_k.one_minus_dampening = static_cast<T>(1 - m_o.dampening);
        m_k.neg_lr = static_cast<T>(-m_o.lr);
        // PyTorch creates the buffer (a copy of d_p) at the first step taken with a momentum.
        m_k.first_momentum = m_o.momentum != 0 && !m_buffer_started;
        m_buffer_started = m_buffer_started || m_o.momentum != 0;
    }

    /// Applies the current step to elements [begin, end) of parameter i.
    void update(std::size_t i, index_t begin, index_t end) {
        namespace fn = ncp::detail::fn;
        const parameter<T>& p = m_params[i];
        T* value = p.value + begin;
        const T* grad = p.grad + begin;
        T* buf = m_buffer[i].data() + begin;
        const index_t n = end - begin;
        const auto k = m_k;
        const bool l2 = m_o.weight_decay != 0, use_momentum = m_o.momentum != 0, first = m_k.first_momentum,
                   nesterov = m_o.nesterov;
        // The first step with a momentum clones d_p into the buffer; later ones decay it.
        if constexpr (ncp::detail::kernels<Backend>::host_accessible) {
            for (index_t j = 0; j < n; ++j) {
                T d = l2 ? fn::decayed_gradient::apply(grad[j], value[j], k.l2) : grad[j];
                if (use_momentum) {
                    buf[j] = first ? d : fn::moving_average::apply(buf[j], d, k.momentum, k.one_minus_dampening);
                    d = nesterov ? fn::nesterov::apply(d, buf[j], k.momentum) : buf[j];
                }
                value[j] = fn::sgd_step::apply(value[j], d, k.neg_lr);
            }
        } else {
            using view = ncp::detail::view<T>;
            using kernels = ncp::detail::kernels<Backend>;
            const auto row = [](const T* x) { return view::row(x); };
            const auto c = [](T x) { return view::constant(x); };
            T* scratch = m_scratch.data();
            const T* d = grad;
            if (l2) {
                detail::map_row<fn::decayed_gradient, T, Backend>(n, scratch, row(grad), row(value), c(k.l2));
                d = scratch;
            }
            if (use_momentum) {
                if (first) {
                    kernels::copy(n, d, buf);
                } else {
                    detail::map_row<fn::moving_average, T, Backend>(n, buf, row(buf), row(d), c(k.momentum),
                                                                    c(k.one_minus_dampening));
                }
                if (nesterov) {
                    detail::map_row<fn::nesterov, T, Backend>(n, scratch, row(d), row(buf), c(k.momentum));
                    d = scratch;
                } else {
                    d = buf;
                }
            }
            detail::map_row<fn::sgd_step, T, Backend>(n, value, row(value), row(d), c(k.neg_lr));
        }
    }

    /// One full step over every parameter.
    void step() {
        begin_step();
        for (std::size_t i = 0; i < m_params.size(); ++i) update(i, 0, m_params[i].size);
    }

private:
    struct scalars {
        T l2, momentum, one_minus_dampening, neg_lr;
        bool first_momentum;
    };
    std::vector<parameter<T>> m_params;
    sgd_options m_o;
    std::vector<Tensor<T, Backend>> m_buffer;  ///< momentum buffer per parameter
    Tensor<T, Backend> m_scratch;              ///< a device backend's decayed or look-ahead gradient
    std::int64_t m_step = 0;
    bool m_buffer_started = false;
    scalars m_k{};
};

}  // namespace ncp::optim

#pragma once
/// Optimisers with PyTorch's exact update rules: Adam (L2 decay added to the gradient), AdamW (decoupled decay)
/// and SGD (momentum, dampening, Nesterov). Scalars (bias corrections, step sizes) are computed in double as
/// PyTorch computes them in Python, then rounded to T where PyTorch's tensor ops round them.
///
/// An update has two halves: begin_step() counts the step and fixes its scalars; update(i, begin, end) applies it
/// to elements [begin, end) of parameter i. Threads that own disjoint slices of the parameters update them
/// concurrently between one begin_step() and the next; step() does both halves for everything.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ncp/fwd.hpp"

namespace ncp::optim {

/// One parameter as an optimiser sees it: `size` values and their gradient, in host-accessible memory.
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

}  // namespace detail

/// Adam / AdamW over a fixed list of parameters (torch.optim.Adam / AdamW, amsgrad off, single-tensor path).
template <class T = float>
class adam {
public:
    /// Keeps `params` (their memory must outlive the optimiser) and zeroed moments for each.
    adam(std::vector<parameter<T>> params, const adam_options& options) : m_params(std::move(params)), m_o(options) {
        detail::check_parameters<T>(m_params, m_o.decoupled ? "adamw" : "adam");
        for (const auto& p : m_params) {
            m_first.emplace_back(static_cast<std::size_t>(p.size), T(0));
            m_second.emplace_back(static_cast<std::size_t>(p.size), T(0));
        }
    }

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
        const parameter<T>& p = m_params[i];
        T* value = p.value;
        const T* grad = p.grad;
        T* m = m_first[i].data();
        T* v = m_second[i].data();
        const auto k = m_k;
        const bool decoupled = m_o.decoupled, l2 = !m_o.decoupled && m_o.weight_decay != 0;
        // Each line is one PyTorch tensor op, rounded to T as PyTorch rounds it.
        for (index_t j = begin; j < end; ++j) {
            if (decoupled) value[j] = value[j] * k.decay;                // param.mul_(1 - lr wd)
            const T g = l2 ? grad[j] + k.l2 * value[j] : grad[j];      // grad.add(param, alpha=wd)
            m[j] = m[j] * k.beta1 + k.one_minus_beta1 * g;              // exp_avg.mul_(b1).add_(g, alpha=1-b1)
            v[j] = v[j] * k.beta2 + k.one_minus_beta2 * g * g;          // exp_avg_sq.mul_(b2).addcmul_(g, g, 1-b2)
            const T denom = std::sqrt(v[j]) / k.bias_correction2_sqrt + k.eps;
            value[j] = value[j] + k.neg_step_size * m[j] / denom;       // param.addcdiv_(m, denom, -step_size)
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
    std::vector<std::vector<T>> m_first;
    std::vector<std::vector<T>> m_second;
    std::int64_t m_step = 0;
    scalars m_k{};
};

/// SGD with momentum, dampening, Nesterov and L2 decay (torch.optim.SGD, single-tensor path).
template <class T = float>
class sgd {
public:
    /// Keeps `params` (their memory must outlive the optimiser) and a momentum buffer for each.
    sgd(std::vector<parameter<T>> params, const sgd_options& options) : m_params(std::move(params)), m_o(options) {
        detail::check_parameters<T>(m_params, "sgd");
        if (m_o.nesterov && (m_o.momentum <= 0 || m_o.dampening != 0))
            throw error("sgd: Nesterov momentum requires a momentum and zero dampening");
        for (const auto& p : m_params) m_buffer.emplace_back(static_cast<std::size_t>(p.size), T(0));
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
        const parameter<T>& p = m_params[i];
        T* value = p.value;
        const T* grad = p.grad;
        T* buf = m_buffer[i].data();
        const auto k = m_k;
        const bool l2 = m_o.weight_decay != 0, use_momentum = m_o.momentum != 0, first = m_k.first_momentum;
        for (index_t j = begin; j < end; ++j) {
            T d = l2 ? grad[j] + k.l2 * value[j] : grad[j];             // d_p.add(param, alpha=wd)
            if (use_momentum) {
                // The first step clones d_p into the buffer; later ones decay it.
                buf[j] = first ? d : buf[j] * k.momentum + k.one_minus_dampening * d;
                d = m_o.nesterov ? d + k.momentum * buf[j] : buf[j];
            }
            value[j] = value[j] + k.neg_lr * d;                          // param.add_(d_p, alpha=-lr)
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
    std::vector<std::vector<T>> m_buffer;
    std::int64_t m_step = 0;
    bool m_buffer_started = false;
    scalars m_k{};
};

}  // namespace ncp::optim

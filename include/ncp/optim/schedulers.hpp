#pragma once
/// Learning-rate schedules with PyTorch's formulas (torch.optim.lr_scheduler, including its recursive forms, so
/// the sequences agree to the last bits): OneCycleLR, CosineAnnealingLR, ExponentialLR, MultiStepLR.
///
/// A schedule starts at its step 0 values; step() advances one step (a batch or an epoch, as the caller decides).
/// lr() and momentum() are what the optimiser should use next; `set_rates` hands both to an optimiser.

#include <cmath>
#include <cstdint>
#include <numbers>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ncp/config.hpp"

namespace ncp::optim {

/// OneCycleLR's settings (the original configs' values; PyTorch's default div_factor is 25).
struct one_cycle_options {
    double max_lr = 1e-2;            ///< peak learning rate
    std::int64_t total_steps = 1;    ///< steps of the whole schedule
    double pct_start = 0.3;          ///< share of the steps spent rising
    double div_factor = 10;          ///< initial lr = max_lr / div_factor
    double final_div_factor = 1e4;   ///< final lr = initial lr / final_div_factor
    double base_momentum = 0.85;     ///< momentum at the lr peak
    double max_momentum = 0.95;      ///< momentum at both ends
    bool cycle_momentum = true;      ///< move the optimiser's momentum (beta1) inversely to the lr
};

/// torch.optim.lr_scheduler.OneCycleLR with cosine annealing in two phases: from max_lr / div_factor up to max_lr
/// over steps [0, pct_start total - 1], then down to the final lr at step total - 1.
class one_cycle {
public:
    /// Throws ncp::error for settings PyTorch rejects.
    explicit one_cycle(const one_cycle_options& o) : m_o(o) {
        if (o.total_steps <= 0) throw error("onecycle: total steps must be positive");
        if (!(o.pct_start >= 0 && o.pct_start <= 1)) throw error("onecycle: pct_start must be in [0, 1]");
        m_initial = o.max_lr / o.div_factor;
        m_min = m_initial / o.final_div_factor;
        m_rise_end = o.pct_start * static_cast<double>(o.total_steps) - 1;
        if (m_rise_end == 0 || m_rise_end == static_cast<double>(o.total_steps - 1))
            throw error("onecycle: " + std::to_string(o.total_steps) + " total steps with pct_start " +
                        std::to_string(o.pct_start) + " leave a phase without steps");
        compute();
    }
    /// Learning rate at the current step.
    double lr() const { return m_lr; }
    /// Momentum (beta1) at the current step, when cycled.
    std::optional<double> momentum() const {
        return m_o.cycle_momentum ? std::optional<double>(m_momentum) : std::nullopt;
    }
    /// Steps taken.
    std::int64_t step_count() const { return m_step; }
    /// Advances one step; throws past total_steps, as PyTorch does.
    void step() {
        if (m_step + 1 > m_o.total_steps)
            throw error("onecycle: stepped " + std::to_string(m_step + 2) + " times for " +
                        std::to_string(m_o.total_steps) + " total steps");
        ++m_step;
        compute();
    }

private:
    static double anneal(double start, double end, double pct) {
        return end + (start - end) / 2.0 * (std::cos(std::numbers::pi * pct) + 1);
    }
    void compute() {
        const double s = static_cast<double>(m_step);
        const double last = static_cast<double>(m_o.total_steps - 1);
        if (s <= m_rise_end) {
            const double pct = s / m_rise_end;
            m_lr = anneal(m_initial, m_o.max_lr, pct);
            m_momentum = anneal(m_o.max_momentum, m_o.base_momentum, pct);
        } else {
            const double pct = (s - m_rise_end) / (last - m_rise_end);
            m_lr = anneal(m_o.max_lr, m_min, pct);
            m_momentum = anneal(m_o.base_momentum, m_o.max_momentum, pct);
        }
    }
    one_cycle_options m_o;
    double m_initial = 0, m_min = 0, m_rise_end = 0;
    std::int64_t m_step = 0;
    double m_lr = 0, m_momentum = 0;
};

/// torch.optim.lr_scheduler.CosineAnnealingLR: lr follows half a cosine from the base lr to eta_min over t_max
/// steps (PyTorch's recursive form, which repeats the cosine beyond t_max).
class cosine_annealing {
public:
    /// Throws ncp::error unless t_max is positive.
    cosine_annealing(double base_lr, std::int64_t t_max, double eta_min = 0)
        : m_base(base_lr), m_t_max(t_max), m_eta_min(eta_min), m_lr(base_lr) {
        if (t_max <= 0) throw error("cosine: T_max must be positive");
    }
    /// Learning rate at the current step.
    double lr() const { return m_lr; }
    /// Not cycled.
    std::optional<double> momentum() const { return std::nullopt; }
    /// Steps taken.
    std::int64_t step_count() const { return m_step; }
    /// Advances one step.
    void step() {
        ++m_step;
        const double pi = std::numbers::pi;
        const double t = static_cast<double>(m_t_max);
        const std::int64_t phase = (m_step - 1 - m_t_max) % (2 * m_t_max);  // Python's modulo is never negative
        if ((phase + 2 * m_t_max) % (2 * m_t_max) == 0) {
            m_lr = m_lr + (m_base - m_eta_min) * (1 - std::cos(pi / t)) / 2;
        } else {
            const double e = static_cast<double>(m_step);
            m_lr = (1 + std::cos(pi * e / t)) / (1 + std::cos(pi * (e - 1) / t)) * (m_lr - m_eta_min) + m_eta_min;
        }
    }

private:
    double m_base;
    std::int64_t m_t_max;
    double m_eta_min;
    double m_lr;
    std::int64_t m_step = 0;
};

/// torch.optim.lr_scheduler.ExponentialLR: lr *= gamma every step.
class exponential {
public:
    /// Starts at base_lr.
    exponential(double base_lr, double gamma) : m_gamma(gamma), m_lr(base_lr) {}
    /// Learning rate at the current step.
    double lr() const { return m_lr; }
    /// Not cycled.
    std::optional<double> momentum() const { return std::nullopt; }
    /// Steps taken.
    std::int64_t step_count() const { return m_step; }
    /// Advances one step.
    void step() {
        ++m_step;
        m_lr = m_lr * m_gamma;
    }

private:
    double m_gamma;
    double m_lr;
    std::int64_t m_step = 0;
};

/// torch.optim.lr_scheduler.MultiStepLR: lr *= gamma^k on reaching a step listed k times among the milestones.
class multi_step {
public:
    /// Starts at base_lr.
    multi_step(double base_lr, std::vector<std::int64_t> milestones, double gamma)
        : m_milestones(std::move(milestones)), m_gamma(gamma), m_lr(base_lr) {}
    /// Learning rate at the current step.
    double lr() const { return m_lr; }
    /// Not cycled.
    std::optional<double> momentum() const { return std::nullopt; }
    /// Steps taken.
    std::int64_t step_count() const { return m_step; }
    /// Advances one step.
    void step() {
        ++m_step;
        int hits = 0;
        for (const auto m : m_milestones) hits += m == m_step;
        if (hits > 0) m_lr = m_lr * std::pow(m_gamma, hits);
    }

private:
    std::vector<std::int64_t> m_milestones;
    double m_gamma;
    double m_lr;
    std::int64_t m_step = 0;
};

/// Any of the schedules, chosen at run time (the config's `optimization.scheduler`).
using scheduler = std::variant<one_cycle, cosine_annealing, exponential, multi_step>;

/// Gives `optimizer` the schedule's current lr and, when the schedule cycles it, momentum.
template <class Optimizer>
void set_rates(Optimizer& optimizer, const scheduler& s) {
    std::visit(
        [&](const auto& schedule) {
            optimizer.set_lr(schedule.lr());
            if (const auto m = schedule.momentum()) optimizer.set_momentum(*m);
        },
        s);
}

/// Advances the schedule one step.
inline void advance(scheduler& s) {
    std::visit([](auto& schedule) { schedule.step(); }, s);
}

}  // namespace ncp::optim

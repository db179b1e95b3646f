#pragma once
/// NCP's gradient steps on a batch of codes through frozen models. The batch is cut into shards of a fixed number of
/// rows; each shard takes all its iterations at once on one member of a thread team, so the shards, and the results,
/// do not depend on the team's size. One iteration of a shard, with x its codes in reference z-units (z_space.hpp):
/// 1. predict with every model; record x in original units, its rounded code (iteration 0: the start itself) and
///    every task's mean prediction;
/// 2. the step's loss (objective.hpp), summed over the rows, so each row's gradient is its own;
/// 3. x -= lr d loss / dx (a fresh SGD without momentum each iteration, as the original);
/// 4. clamp x to the bounds in z-units; x carries on unrounded.
/// Iterations 0..iters are recorded: the original's `iters` records, then the code after the last step.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ncp/autograd/ops.hpp"
#include "ncp/nn/predictor.hpp"
#include "ncp/search/objective.hpp"
#include "ncp/search/options.hpp"
#include "ncp/search/result.hpp"
#include "ncp/search/z_space.hpp"
#include "ncp/parallel/thread_team.hpp"

namespace ncp::search {

/// Called with (shards done, shards) as the steps progress; from any member of the team, one call at a time.
using step_progress = std::function<void(std::size_t, std::size_t)>;

/// See the header comment.
template <class Space, class T = float, class Backend = default_backend>
class stepper {
public:
    using code_type = typename Space::code_type;
    using tensor = Tensor<T, Backend>;
    using var_type = autograd::var<T, Backend>;
    static constexpr std::size_t dim = Space::dim;
    /// Rows per shard on a host backend; a device backend steps the whole batch as one shard (its kernels share
    /// one stream, so host threads would only contend for it).
    static constexpr std::size_t shard_rows = 64;

    /// Steps for `models` (task by task as `layout` says, outputs as `terms` say) in the z-space `z`.
    stepper(const Space& space, const z_space<T, Backend>& z, std::span<nn::predictor<T, Backend>* const> models,
            const objective_layout& layout, std::span<const output_terms> terms, const options& opt)
        : m_space(space), m_z(z), m_models(models), m_layout(layout), m_terms(terms), m_opt(opt) {}

    /// Rows per shard for a batch of n codes.
    static std::size_t rows_per_shard(std::size_t n) {
        return ncp::detail::kernels<Backend>::host_accessible ? shard_rows : std::max<std::size_t>(n, 1);
    }

    /// Steps the batch `start_values` (n x dim, original units) and fills r.continuous and r.predicted (sized for
    /// n starts x records) and `rounded` ([start][record]).
    void run(std::span<const double> start_values, result<Space>& r, std::vector<code_type>& rounded,
             parallel::thread_team& team, const step_progress& progress) {
        const std::size_t n = start_values.size() / dim, rows = rows_per_shard(n);
        const std::size_t shards = (n + rows - 1) / rows;
        while (m_workers.size() < static_cast<std::size_t>(team.size()))
            m_workers.push_back(std::make_unique<worker>());
        std::atomic<std::size_t> done{0};
        std::mutex report;
        team.for_each(shards, [&](std::size_t s, int rank) {
            const std::size_t begin = s * rows;
            step_shard(start_values, begin, std::min(n, begin + rows) - begin, r, rounded,
                       *m_workers[static_cast<std::size_t>(rank)]);
            const std::size_t finished = done.fetch_add(1) + 1;
            if (progress) {
                const std::lock_guard<std::mutex> lock(report);
                progress(finished, shards);
            }
        });
    }

    /// d loss / dz of the step (summed over the rows) at reference z-codes `z` (rows x dim), into `grad`.
    void loss_gradient(std::span<const T> z, index_t rows, std::span<T> grad) {
        if (m_workers.empty()) m_workers.push_back(std::make_unique<worker>());
        worker& w = *m_workers.front();
        w.x.value = tensor::from_host(z, rows, static_cast<index_t>(dim));
        w.tape.clear();
        const std::vector<var_type> outs = m_z.forward(w.tape.leaf(w.x));
        w.tape.backward(step_loss<T, Backend>(m_layout, outs, m_terms, m_opt.budget_weight));
        w.x.grad.copy_to_host(grad);
        w.tape.clear();
    }

private:
    /// One team member's code variable, tape and scratch, reused from shard to shard.
    struct worker {
        autograd::parameter<T, Backend> x;  ///< the shard's codes, reference z-units
        autograd::tape<T, Backend> tape;
        std::vector<T> host;                ///< scratch
    };

    /// Every iteration of rows [begin, begin + count) of the batch.
    void step_shard(std::span<const double> start_values, std::size_t begin, std::size_t count, result<Space>& r,
                    std::vector<code_type>& rounded, worker& w) const {
        const std::size_t size = count * dim;
        const auto d = static_cast<index_t>(dim), n = static_cast<index_t>(count);
        std::vector<double> cont(start_values.begin() + static_cast<std::ptrdiff_t>(begin * dim),
                                 start_values.begin() + static_cast<std::ptrdiff_t>(begin * dim + size));
        const std::vector<double> z0 = m_z.to_z(cont);
        w.host.assign(z0.begin(), z0.end());
        w.x.value = tensor::from_host(w.host, n, d);
        for (std::size_t it = 0; it < r.records; ++it) {
            const bool step = it + 1 < r.records;
            std::optional<autograd::no_grad> values_only;
            if (!step) values_only.emplace();
            if (it > 0) {
                w.host.resize(size);
                w.x.value.copy_to_host(w.host);
                for (std::size_t j = 0; j < size; ++j) {
                    cont[j] = m_z.from_z(j % dim, static_cast<double>(w.host[j]));
                    if (!std::isfinite(cont[j]))  // said by the settings that overflow, not by the code it broke
                        throw error("search: iteration " + std::to_string(it) +
                                    " made code values that are not finite (the step's terms overflow: lower "
                                    "editing.lr, editing.alpha, editing.per_step_increase or "
                                    "editing.per_flops_decrease)");
                }
            }
            for (std::size_t b = 0; b < count; ++b) {
                const std::size_t at = r.at(begin + b, it);
                std::copy_n(cont.begin() + static_cast<std::ptrdiff_t>(b * dim), dim,
                            r.continuous.begin() + static_cast<std::ptrdiff_t>(at * dim));
                rounded[at] = m_space.round(std::span<const double>(cont.data() + b * dim, dim));
            }
            w.tape.clear();
            const std::vector<var_type> outs = m_z.forward(w.tape.leaf(w.x));
            record_predictions(outs, begin, count, it, r, w.host);
            if (!step) break;
            w.tape.backward(step_loss<T, Backend>(m_layout, outs, m_terms, m_opt.budget_weight));
            using kernels = ncp::detail::kernels<Backend>;
            using view = ncp::detail::view<T>;
            kernels::template map<ncp::detail::fn::identity>(n, d, static_cast<T>(-m_opt.lr), T(1), w.x.value.data(), d,
                                                             view::matrix(w.x.grad.data(), d));
            kernels::template map<ncp::detail::fn::clamp>(n, d, T(1), T(0), w.x.value.data(), d,
                                                          view::matrix(w.x.value.data(), d),
                                                          view::row(m_z.lower().data()), view::row(m_z.upper().data()));
        }
        w.tape.clear();
    }

    /// Each task's mean predictions (original units) of the shard's codes into r.predicted at iteration `it`.
    void record_predictions(const std::vector<var_type>& outs, std::size_t begin, std::size_t count, std::size_t it,
                            result<Space>& r, std::vector<T>& host) const {
        const std::size_t outputs = r.outputs();
        std::size_t m = 0;
        for (std::size_t k = 0; k < m_layout.models_per_task.size(); ++k) {
            const std::size_t offset = r.output_offset(k);
            const double share = 1.0 / static_cast<double>(m_layout.models_per_task[k]);
            for (std::size_t j = 0; j < m_layout.models_per_task[k]; ++j, ++m) {
                host.resize(static_cast<std::size_t>(outs[m].value().size()));
                outs[m].value().copy_to_host(host);
                const nn::normalisation& s = m_models[m]->stats();
                const std::size_t o = m_terms[m].outputs;
                for (std::size_t b = 0; b < count; ++b) {
                    double* p = r.predicted.data() + r.at(begin + b, it) * outputs + offset;
                    if (j == 0) std::fill_n(p, o, 0.0);
                    for (std::size_t q = 0; q < o; ++q)
                        p[q] += share * s.output_value(q, static_cast<double>(host[b * o + q]));
                }
            }
        }
    }

    const Space& m_space;
    const z_space<T, Backend>& m_z;
    std::span<nn::predictor<T, Backend>* const> m_models;  ///< every model, task by task
    const objective_layout& m_layout;
    std::span<const output_terms> m_terms;                  ///< per model
    const options& m_opt;
    std::vector<std::unique_ptr<worker>> m_workers;         ///< per team member
};

}  // namespace ncp::search

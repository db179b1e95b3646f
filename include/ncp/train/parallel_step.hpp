#pragma once
/// The predictor's training step and evaluation pass, computed through the backend kernels on a thread team.
///
/// The step splits the model by features into `step_shards` shards: batch norm, activations and dropout act per
/// feature, so shard s owns a slice of the trunk's units and the same slice of every head's units, and computes
/// their forward pass, their backward pass and their optimiser update on its own. Shards meet at four barriers per
/// step: after the trunk's forward (every head reads all of it), after the heads' output partial sums, after the
/// partial gradients of the trunk's output, and after those of the input batch norm; partial sums are always added
/// in shard order. The maths is the model's (tests compare it with the autograd tape) and the results depend on the
/// shard count only: one thread running both shards gives the same bits as two threads.
///
/// Activations are stored feature-major (features x batch), which makes every product a GEMM whose right operand
/// is read row by row: forward z = W h^T, weight gradient dW = dz h, input gradient dh^T = W^T dz. Batch norm,
/// activation and dropout run as one pass per direction, and each layer's parameters are updated as soon as their
/// gradients are complete, while those are still in cache.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ncp/nn/predictor.hpp"
#include "ncp/optim/optimizers.hpp"
#include "ncp/train/thread_team.hpp"

namespace ncp::train {

/// Feature shards of the parallel step; results depend on this, not on the number of threads.
inline constexpr int step_shards = 2;

/// The training loss (the config's `optimization.criterion`), a mean over all outputs of the batch.
enum class loss_kind { mse, l1, smooth_l1 };

/// "mse", "l1" or "smoothl1"; throws naming anything else.
inline loss_kind parse_loss(std::string_view name) {
    if (name == "mse") return loss_kind::mse;
    if (name == "l1") return loss_kind::l1;
    if (name == "smoothl1") return loss_kind::smooth_l1;
    throw error("unknown criterion '" + std::string(name) + "' (expected mse, l1 or smoothl1)");
}

namespace detail {

namespace fn = ncp::detail::fn;

/// A type as a value, to pick a template in a generic lambda.
template <class T>
struct tag {
    using type = T;
};

/// Activations as the step runs them: forward(y, aux) returns act(y) and keeps in aux what backward(y, aux, dy)
/// reuses. The formulas are the core functors' (fn::swish, fn::swish_grad, ...), with sigmoid or tanh computed once.
struct relu_act {
    static float forward(float y, float&) { return fn::relu::apply(y); }
    static float backward(float y, float, float dy) { return fn::relu_grad::apply(y, dy); }
};
struct relu6_act {
    static float forward(float y, float&) { return fn::relu6::apply(y); }
    static float backward(float y, float, float dy) { return fn::relu6_grad::apply(y, dy); }
};
struct tanh_act {
    static float forward(float y, float& aux) { return aux = fn::tanh::apply(y); }
    static float backward(float, float aux, float dy) { return fn::tanh_grad::apply(aux, dy); }
};
struct swish_act {
    static float forward(float y, float& aux) { return fn::mul::apply(y, aux = fn::sigmoid::apply(y)); }
    static float backward(float y, float aux, float dy) { return fn::swish_grad::apply(y, aux, dy); }
};

/// No activation (the input batch norm).
struct identity_act {
    static float forward(float y, float&) { return y; }
};

/// Calls f(tag<activation>) for `kind`.
template <class F>
void with_activation(nn::activation_kind kind, F&& f) {
    switch (kind) {
        case nn::activation_kind::relu: f(tag<relu_act>{}); return;
        case nn::activation_kind::relu6: f(tag<relu6_act>{}); return;
        case nn::activation_kind::tanh: f(tag<tanh_act>{}); return;
        case nn::activation_kind::swish: f(tag<swish_act>{}); return;
    }
}

/// Calls f(error functor, gradient functor) for `kind`.
template <class F>
void with_loss(loss_kind kind, F&& f) {
    switch (kind) {
        case loss_kind::mse: f(tag<fn::squared_error>{}, tag<fn::squared_error_grad>{}); return;
        case loss_kind::l1: f(tag<fn::absolute_error>{}, tag<fn::absolute_error_grad>{}); return;
        case loss_kind::smooth_l1: f(tag<fn::smooth_l1_error>{}, tag<fn::smooth_l1_error_grad>{}); return;
    }
}

/// Sum of f(j) for j in [0, n), in 16 independent lanes combined at the end: vectorises without -ffast-math.
template <class F>
float lane_sum(index_t n, F&& f) {
    constexpr index_t lanes = 16;
    float acc[lanes] = {};
    const index_t whole = n / lanes * lanes;
    for (index_t j = 0; j < whole; j += lanes)
        for (index_t l = 0; l < lanes; ++l) acc[l] += f(j + l);
    float tail = 0;
    for (index_t j = whole; j < n; ++j) tail += f(j);
    for (index_t half = lanes / 2; half > 0; half /= 2)
        for (index_t l = 0; l < half; ++l) acc[l] += acc[l + half];
    return acc[0] + tail;
}

/// ncp::detail::random_bits(key, base + r stride) for r in [0, n) into out, through the core's random_block while
/// the counters share their high word (a test checks it against random_bits).
inline void random_bits_row(std::uint64_t key, std::uint64_t base, std::uint64_t stride, index_t n, std::uint32_t* out) {
    if (n <= 0) return;
    const std::uint64_t span = static_cast<std::uint64_t>(n - 1) * stride;
    const bool one_block = (stride == 0 || span / stride == static_cast<std::uint64_t>(n - 1)) && base + span >= base &&
                           (base >> 32) == ((base + span) >> 32);
    if (!one_block) {
        for (index_t r = 0; r < n; ++r) out[r] = ncp::detail::random_bits(key, base + static_cast<std::uint64_t>(r) * stride);
        return;
    }
    const ncp::detail::random_block bits(key, static_cast<std::uint32_t>(base >> 32));
    const auto low = static_cast<std::uint32_t>(base);
    const auto step = static_cast<std::uint32_t>(stride);
    for (index_t r = 0; r < n; ++r) out[r] = bits(low + static_cast<std::uint32_t>(r) * step);
}

/// Most records in one batch of the parallel step (a row of a feature-major buffer).
inline constexpr index_t max_row = 4096;

/// Inverted dropout masks of one layer's step: unit u of record r draws element offset + r width + u of the
/// layer's stream, the element a batch-major [batch, width] dropout on the tape draws (kernels::dropout's rule).
struct dropout_draw {
    float p = 0;               ///< probability; 0 for no dropout
    std::uint64_t seed = 0;    ///< the stream
    std::uint64_t offset = 0;  ///< the stream's next element at this step
    index_t width = 0;         ///< units of the layer
};

/// One batch-norm layer's statistics and parameters for units [first, first + rows) of a feature-major block.
struct norm_block {
    index_t first;              ///< first unit
    const float* bias;          ///< per unit: the preceding linear layer's bias, left out of z (null: none)
    const float* gamma;         ///< per unit of the layer
    const float* beta;          ///< per unit of the layer
    float* running_mean;        ///< per unit of the layer (moved when training)
    float* running_var;         ///< per unit of the layer
    float* mean;                ///< per row of the block
    float* istd;                ///< per row of the block
};

/// Batch norm with batch statistics, activation and dropout of `rows` units over b records, feature-major with
/// leading dimension ld: out = Act(gamma (z - mean) / std + beta) x mask, aux = what Act's backward reuses. Moves
/// the running statistics as BatchNorm1d does when `track`. z lacks the preceding linear layer's bias: adding a
/// constant per unit moves the batch mean by it and changes nothing else, so only the running mean needs it.
template <class Act>
void norm_act_forward(index_t rows, index_t b, index_t ld, const float* z, const norm_block& n, bool track,
                      float momentum, float eps, const dropout_draw& drop, float* mask, float* aux, float* out) {
    const float inv_b = 1.0f / static_cast<float>(b);
    const float var_scale = momentum * static_cast<float>(b) / static_cast<float>(b - 1);
    const float scale = drop.p > 0 ? 1.0f / (1.0f - drop.p) : 1.0f;
    // kernels::dropout's rule: keep where bits >= ceil(p 2^32), which fits 32 bits as p < 1.
    const auto threshold = static_cast<std::uint32_t>(std::ceil(static_cast<double>(drop.p) * 4294967296.0));
    std::uint32_t bits[max_row];
    for (index_t i = 0; i < rows; ++i) {
        const float* zi = z + i * ld;
        const float mu = inv_b * lane_sum(b, [&](index_t r) { return zi[r]; });
        const float var = inv_b * lane_sum(b, [&](index_t r) { return fn::squared_deviation::apply(zi[r], mu); });
        const float is = fn::inverse_std::apply(var, eps);
        n.mean[i] = mu;
        n.istd[i] = is;
        const index_t u = n.first + i;
        if (track) {
            const float full_mean = n.bias != nullptr ? mu + n.bias[u] : mu;
            n.running_mean[u] = momentum * full_mean + (1.0f - momentum) * n.running_mean[u];
            n.running_var[u] = var_scale * var + (1.0f - momentum) * n.running_var[u];
        }
        const float g = n.gamma[u], be = n.beta[u];
        float* oi = out + i * ld;
        float* ai = aux + i * ld;
        if (drop.p > 0) {
            float* mi = mask + i * ld;
            random_bits_row(drop.seed, drop.offset + static_cast<std::uint64_t>(u), static_cast<std::uint64_t>(drop.width),
                            b, bits);
            for (index_t r = 0; r < b; ++r) {
                mi[r] = bits[r] >= threshold ? scale : 0.0f;
                oi[r] = Act::forward(fn::batch_norm::apply(zi[r], mu, is, g, be), ai[r]) * mi[r];
            }
        } else {
            for (index_t r = 0; r < b; ++r) oi[r] = Act::forward(fn::batch_norm::apply(zi[r], mu, is, g, be), ai[r]);
        }
    }
}

/// The backward pass of norm_act_forward: dy (the gradient of out) becomes the gradient of z in place; the
/// gradients of gamma and beta go to grad_gamma / grad_beta and that of the preceding linear layer's bias (the
/// sum of dz) to grad_bias, each at the units' positions.
template <class Act>
void norm_act_backward(index_t rows, index_t b, index_t ld, const float* z, const norm_block& n, const float* mask,
                       const float* aux, float* dy, float* grad_gamma, float* grad_beta, float* grad_bias) {
    const float inv_b = 1.0f / static_cast<float>(b);
    for (index_t i = 0; i < rows; ++i) {
        const index_t u = n.first + i;
        const float* zi = z + i * ld;
        const float* ai = aux + i * ld;
        float* di = dy + i * ld;
        const float mu = n.mean[i], is = n.istd[i], g = n.gamma[u], be = n.beta[u];
        // The gradient at the norm's output: through the mask, then the activation (its input recomputed).
        if (mask != nullptr) {
            const float* mi = mask + i * ld;
            for (index_t r = 0; r < b; ++r)
                di[r] = Act::backward(fn::batch_norm::apply(zi[r], mu, is, g, be), ai[r], di[r] * mi[r]);
        } else {
            for (index_t r = 0; r < b; ++r) di[r] = Act::backward(fn::batch_norm::apply(zi[r], mu, is, g, be), ai[r], di[r]);
        }
        const float s = lane_sum(b, [&](index_t r) { return di[r]; });
        const float sx = lane_sum(b, [&](index_t r) { return fn::batch_norm_xhat_dy::apply(zi[r], mu, is, di[r]); });
        grad_beta[u] = s;
        grad_gamma[u] = sx;
        for (index_t r = 0; r < b; ++r) di[r] = fn::batch_norm_train_dx::apply(zi[r], mu, is, g, s, sx, inv_b, di[r]);
        grad_bias[u] = lane_sum(b, [&](index_t r) { return di[r]; });
    }
}

/// Evaluation-mode batch norm (running statistics) and activation of `rows` units over n records, in place.
template <class Act>
void norm_act_eval(index_t rows, index_t n, index_t ld, float* z, const float* gamma, const float* beta,
                   const float* running_mean, const float* running_var, float eps, bool activate) {
    for (index_t i = 0; i < rows; ++i) {
        const float mu = running_mean[i], is = fn::inverse_std::apply(running_var[i], eps), g = gamma[i], be = beta[i];
        float* zi = z + i * ld;
        float unused = 0;
        if (activate) {
            for (index_t r = 0; r < n; ++r) zi[r] = Act::forward(fn::batch_norm::apply(zi[r], mu, is, g, be), unused);
        } else {
            for (index_t r = 0; r < n; ++r) zi[r] = fn::batch_norm::apply(zi[r], mu, is, g, be);
        }
    }
}

/// dst (cols x rows, leading dimension ld_dst) = src^T (src rows x cols, leading dimension ld_src), in tiles.
template <class T>
void transpose(index_t rows, index_t cols, const T* src, index_t ld_src, T* dst, index_t ld_dst) {
    constexpr index_t tile = 16;
    for (index_t i0 = 0; i0 < rows; i0 += tile)
        for (index_t j0 = 0; j0 < cols; j0 += tile) {
            const index_t i1 = std::min(rows, i0 + tile), j1 = std::min(cols, j0 + tile);
            for (index_t j = j0; j < j1; ++j)
                for (index_t i = i0; i < i1; ++i) dst[j * ld_dst + i] = src[i * ld_src + j];
        }
}

}  // namespace detail

/// The training step and the evaluation pass of one nn::predictor<float> (see the header comment). It keeps raw
/// pointers into the model's parameters: the model must outlive it and keep its layers.
template <class Backend = default_backend>
class parallel_step {
    using T = float;
    using tensor = Tensor<T, Backend>;
    using K = ncp::detail::kernels<Backend>;
    using view = ncp::detail::view<T>;
    static_assert(K::host_accessible, "the parallel step reads batches and dropout streams on the host");
    static constexpr T momentum = nn::batch_norm1d<T, Backend>::momentum;
    static constexpr T eps = nn::batch_norm1d<T, Backend>::eps;

public:
    /// A part of one parameter that one shard updates: elements [begin, end) of parameters()[param].
    struct slice {
        std::size_t param;  ///< index into parameters()
        index_t begin;      ///< first element
        index_t end;        ///< one past the last
    };

    /// Prepares buffers for batches of up to `max_batch` rows, on `threads` threads (1..step_shards).
    parallel_step(nn::predictor<T, Backend>& model, index_t max_batch, int threads, loss_kind loss)
        : m_model(model), m_loss(loss), m_team(threads) {
        const auto& spec = model.spec();
        if (threads > step_shards)
            throw error("parallel step: threads must be 1.." + std::to_string(step_shards) + " (got " +
                        std::to_string(threads) + ")");
        if (max_batch < 2 || max_batch > detail::max_row)
            throw error("parallel step: batches need 2.." + std::to_string(detail::max_row) + " rows (got " +
                        std::to_string(max_batch) + ")");
        if (spec.shared_layer < step_shards || spec.separated_layer < step_shards)
            throw error("parallel step: layers need at least " + std::to_string(step_shards) + " units");
        m_d = spec.input_dim;
        m_f = spec.shared_layer;
        m_h = spec.separated_layer;
        m_o = spec.outputs();
        m_ld = (max_batch + 15) / 16 * 16;  // rows of feature-major buffers start on 64-byte lines
        m_max_batch = max_batch;
        collect_parameters();
        m_shards.reserve(step_shards);
        for (int s = 0; s < step_shards; ++s) m_shards.emplace_back(*this, s);
        m_hf.resize(m_f, m_ld);
        m_hb.resize(max_batch, m_f);
        for (int s = 0; s < step_shards; ++s) {
            m_out_part.emplace_back(m_o, m_ld);
            m_dh_part.emplace_back(m_f, m_ld);
            m_dx_part.emplace_back(m_d, m_ld);
        }
        m_eval.reserve(static_cast<std::size_t>(threads));
        for (int t = 0; t < threads; ++t) m_eval.emplace_back(*this);
    }
    parallel_step(const parallel_step&) = delete;
    parallel_step& operator=(const parallel_step&) = delete;

    /// Values and gradients of the model's parameters, in nn::predictor::for_each_parameter order: build the
    /// optimiser from these.
    const std::vector<optim::parameter<T>>& parameters() const { return m_params; }
    /// Every slice shard s updates (together the shards cover every parameter exactly once).
    std::vector<slice> slices(int shard) const {
        std::vector<slice> all;
        for (const auto& stage : m_shards[static_cast<std::size_t>(shard)].stages())
            all.insert(all.end(), stage.begin(), stage.end());
        return all;
    }
    /// Threads running the shards.
    int threads() const { return m_team.size(); }

    /// Trains on consecutive batches of `order` (record indices into x and y: z-scored codes, input_dim per row,
    /// and z-scored targets, outputs per row), `batch` records each (the last may be smaller, but not 1). Per
    /// batch k: before(k) on the calling thread (set the lr, begin the optimiser's step); then the step, during
    /// which update(slice) applies the optimiser to each slice as soon as its gradient is complete (on the thread
    /// running its shard; concurrent calls touch disjoint slices); then after(k, loss) on the calling thread. The
    /// model must be in training mode. Nothing here throws once the batches are checked.
    template <class Before, class Update, class After>
    void train_batches(std::span<const std::size_t> order, index_t batch, const T* x, const T* y, Before&& before,
                       Update&& update, After&& after) {
        if (batch < 2 || batch > m_max_batch)
            throw error("parallel step: batch size " + std::to_string(batch) + " is not in 2.." +
                        std::to_string(m_max_batch));
        const auto n = static_cast<index_t>(order.size());
        if (n % batch == 1)
            throw error("parallel step: the last batch would hold a single record (batch norm needs two); change "
                        "the batch size");
        if (!m_model.training()) throw error("parallel step: the model is in evaluation mode");
        const index_t batches = (n + batch - 1) / batch;
        m_team.run([&](int rank) {
            for (index_t k = 0; k < batches; ++k) {
                const index_t first = k * batch;
                const auto rows = order.subspan(static_cast<std::size_t>(first),
                                                static_cast<std::size_t>(std::min(batch, n - first)));
                m_team.barrier();  // the previous step's updates are done
                if (rank == 0) before(k);
                each_shard(rank, [&](shard& s) { s.forward_trunk(rows, x, y); });
                m_team.barrier();
                each_shard(rank, [&](shard& s) { s.forward_heads(); });
                m_team.barrier();
                each_shard(rank, [&](shard& s) { s.backward_heads(update); });
                m_team.barrier();
                each_shard(rank, [&](shard& s) { s.backward_trunk(update); });
                m_team.barrier();
                if (rank == 0) {
                    m_shards[0].finish(update);
                    advance_dropout(static_cast<index_t>(rows.size()));
                    after(k, m_shards[0].loss());
                }
            }
        });
    }

    /// The model in evaluation mode on n z-scored codes (row-major, input_dim each): n x outputs z-scored
    /// predictions into `out`. Rows are independent, so the threads split them; results do not depend on how.
    void evaluate(const T* x, index_t n, T* out) {
        const index_t chunks = (n + m_ld - 1) / m_ld;
        m_team.run([&](int rank) {
            for (index_t c = rank; c < chunks; c += m_team.size()) {
                const index_t first = c * m_ld;
                m_eval[static_cast<std::size_t>(rank)].run(x + first * m_d, std::min(m_ld, n - first), out + first * m_o);
            }
        });
    }

private:
    /// One batch-norm layer's pointers.
    struct norm_ptrs {
        T* gamma;
        T* beta;
        T* running_mean;
        T* running_var;
        T* grad_gamma;
        T* grad_beta;
    };
    /// One linear layer's pointers.
    struct linear_ptrs {
        T* weight;
        T* bias;
        T* grad_weight;
        T* grad_bias;
    };
    /// One head's layers.
    struct head_ptrs {
        linear_ptrs in;
        norm_ptrs norm;
        T p;
        autograd::random_stream* stream;
        linear_ptrs out;
        index_t outputs;
        index_t first_output;
    };

    // ---- per-shard state and phases ----

    class shard {
    public:
        shard(parallel_step& step, int index)
            : m_step(step), m_index(index), m_f0(step.m_f * index / step_shards),
              m_f1(step.m_f * (index + 1) / step_shards), m_u0(step.m_h * index / step_shards),
              m_u1(step.m_h * (index + 1) / step_shards) {
            const index_t ld = step.m_ld, d = step.m_d, o = step.m_o;
            const index_t fs = m_f1 - m_f0, hs = (m_u1 - m_u0) * static_cast<index_t>(step.m_heads.size());
            for (tensor* t : {&m_xf, &m_x0f, &m_aux0, &m_dx0}) t->resize(d, ld);
            for (tensor* t : {&m_z1, &m_mask1, &m_aux1, &m_dz1}) t->resize(fs, ld);
            for (tensor* t : {&m_z2, &m_a2, &m_mask2, &m_aux2, &m_dz2}) t->resize(hs, ld);
            for (tensor* t : {&m_out, &m_dout, &m_yf}) t->resize(o, ld);
            m_xb.resize(step.m_max_batch, d);
            m_yb.resize(step.m_max_batch, o);
            m_x0b.resize(step.m_max_batch, d);
            for (tensor* t : {&m_mean0, &m_istd0}) t->resize(d);
            for (tensor* t : {&m_mean1, &m_istd1}) t->resize(fs);
            for (tensor* t : {&m_mean2, &m_istd2}) t->resize(hs);
            m_loss.resize(1);
            build_stages();
        }
        float loss() const { return m_loss[0]; }
        /// The slices this shard updates, grouped by when their gradients are complete: per head its output layer,
        /// then its other layers; then the trunk; then (shard 0) the input norm and the output biases.
        const std::vector<std::vector<slice>>& stages() const { return m_stages; }

        /// Gathers the batch, normalises the input (every shard: it is small), and computes this shard's trunk
        /// units into the shared h.
        void forward_trunk(std::span<const std::size_t> rows, const T* x, const T* y) {
            parallel_step& st = m_step;
            m_b = static_cast<index_t>(rows.size());
            const index_t b = m_b, d = st.m_d, o = st.m_o, ld = st.m_ld;
            for (index_t r = 0; r < b; ++r) {
                const std::size_t src = rows[static_cast<std::size_t>(r)];
                K::copy(d, x + src * static_cast<std::size_t>(d), m_xb.data() + r * d);
                K::copy(o, y + src * static_cast<std::size_t>(o), m_yb.data() + r * o);
            }
            detail::transpose(b, d, m_xb.data(), d, m_xf.data(), ld);
            detail::transpose(b, o, m_yb.data(), o, m_yf.data(), ld);
            input_norm_forward(b);
            detail::transpose(d, b, m_x0f.data(), ld, m_x0b.data(), d);

            const index_t fs = m_f1 - m_f0;
            linear_forward(st.m_linear1, m_f0, fs, d, m_x0f.data(), m_z1.data());
            T* h = st.m_hf.data() + m_f0 * ld;
            norm_act_forward(st.m_norm1, st.m_linear1, m_f0, fs, m_z1.data(), m_mean1.data(), m_istd1.data(),
                             {st.m_p1, st.m_stream1->seed, st.m_stream1->offset, st.m_f}, m_mask1.data(),
                             m_aux1.data(), h);
            // h batch-major for the heads' weight gradients: this shard's columns.
            detail::transpose(fs, b, h, ld, st.m_hb.data() + m_f0, st.m_f);
        }

        /// This shard's units of every head, and their share of the outputs.
        void forward_heads() {
            parallel_step& st = m_step;
            const index_t hs = m_u1 - m_u0, ld = st.m_ld;
            T* part = st.m_out_part[static_cast<std::size_t>(m_index)].data();
            for (std::size_t g = 0; g < st.m_heads.size(); ++g) {
                const head_ptrs& hd = st.m_heads[g];
                const index_t row = static_cast<index_t>(g) * hs;
                T* z = m_z2.data() + row * ld;
                T* a = m_a2.data() + row * ld;
                linear_forward(hd.in, m_u0, hs, st.m_f, st.m_hf.data(), z);
                norm_act_forward(hd.norm, hd.in, m_u0, hs, z, m_mean2.data() + row, m_istd2.data() + row,
                                 {hd.p, hd.stream->seed, hd.stream->offset, st.m_h}, m_mask2.data() + row * ld,
                                 m_aux2.data() + row * ld, a);
                // outputs of head g from these units: W_out[:, u0:u1] a
                K::gemm(false, false, hd.outputs, m_b, hs, T(1), hd.out.weight + m_u0, st.m_h, a, ld, T(0),
                        part + hd.first_output * ld, ld);
            }
        }

        /// The outputs (partials added in shard order), the loss and its gradient, then this shard's head units
        /// backwards: weight gradients, their updates, and this shard's partial gradient of h.
        template <class Update>
        void backward_heads(Update& update) {
            parallel_step& st = m_step;
            const index_t b = m_b, o = st.m_o, ld = st.m_ld, hs = m_u1 - m_u0;
            st.sum_parts(st.m_out_part, 0, o, b, m_out.data());
            for (const head_ptrs& hd : st.m_heads) {
                T* out = m_out.data() + hd.first_output * ld;
                K::template map<detail::fn::add>(hd.outputs, b, T(1), T(0), out, ld, view::matrix(out, ld), view::column(hd.out.bias));
            }
            const T scale = T(1) / static_cast<T>(b * o);
            detail::with_loss(st.m_loss, [&]<class E, class G>(detail::tag<E>, detail::tag<G>) {
                if (m_index == 0)
                    K::template reduce<E>(axis::all, o, b, scale, T(0), m_loss.data(), view::matrix(m_out.data(), ld),
                                          view::matrix(m_yf.data(), ld));
                K::template map<G>(o, b, scale, T(0), m_dout.data(), ld, view::matrix(m_out.data(), ld),
                                   view::matrix(m_yf.data(), ld), view::constant(T(1)));
            });
            T* dh = st.m_dh_part[static_cast<std::size_t>(m_index)].data();
            for (std::size_t g = 0; g < st.m_heads.size(); ++g) {
                const head_ptrs& hd = st.m_heads[g];
                const index_t row = static_cast<index_t>(g) * hs;
                const T* dout = m_dout.data() + hd.first_output * ld;
                T* a = m_a2.data() + row * ld;
                T* dz = m_dz2.data() + row * ld;
                // last linear: dW[:, u0:u1] = dout a^T, da = W[:, u0:u1]^T dout; its bias belongs to shard 0. dW has
                // one row per output (one or two): row o is the batch sum of a times dout's row o, a reduction.
                for (index_t o = 0; o < hd.outputs; ++o)
                    K::template reduce<detail::fn::mul>(axis::cols, hs, b, T(1), T(0),
                                                        hd.out.grad_weight + o * st.m_h + m_u0, view::matrix(a, ld),
                                                        view::row(dout + o * ld));
                if (m_index == 0)
                    K::template reduce<detail::fn::identity>(axis::cols, hd.outputs, b, T(1), T(0), hd.out.grad_bias,
                                                     view::matrix(dout, ld));
                K::gemm(true, false, hs, b, hd.outputs, T(1), hd.out.weight + m_u0, st.m_h, dout, ld, T(0), dz, ld);
                apply(update, m_stages[2 * g]);
                norm_act_backward(hd.norm, hd.in, m_u0, hs, m_z2.data() + row * ld, m_mean2.data() + row,
                                  m_istd2.data() + row, hd.p > 0 ? m_mask2.data() + row * ld : nullptr,
                                  m_aux2.data() + row * ld, dz);
                linear_backward(hd.in, m_u0, hs, st.m_f, dz, st.m_hb.data(), st.m_f, dh, g == 0);
                apply(update, m_stages[2 * g + 1]);
            }
        }

        /// This shard's trunk units backwards from the summed partial gradients of h, and their updates.
        template <class Update>
        void backward_trunk(Update& update) {
            parallel_step& st = m_step;
            const index_t b = m_b, fs = m_f1 - m_f0, d = st.m_d;
            st.sum_parts(st.m_dh_part, m_f0, fs, b, m_dz1.data());
            norm_act_backward(st.m_norm1, st.m_linear1, m_f0, fs, m_z1.data(), m_mean1.data(), m_istd1.data(),
                              st.m_p1 > 0 ? m_mask1.data() : nullptr, m_aux1.data(), m_dz1.data());
            linear_backward(st.m_linear1, m_f0, fs, d, m_dz1.data(), m_x0b.data(), d,
                            st.m_dx_part[static_cast<std::size_t>(m_index)].data(), true);
            apply(update, m_stages[2 * st.m_heads.size()]);
        }

        /// Shard 0, after the last barrier: the input norm's gradients from the summed partials, then the updates
        /// of the input norm and of the output biases (which both shards read until then).
        template <class Update>
        void finish(Update& update) {
            parallel_step& st = m_step;
            const index_t ld = st.m_ld, d = st.m_d;
            st.sum_parts(st.m_dx_part, 0, d, m_b, m_dx0.data());
            K::template reduce<detail::fn::identity>(axis::cols, d, m_b, T(1), T(0), st.m_norm0.grad_beta,
                                             view::matrix(m_dx0.data(), ld));
            K::template reduce<detail::fn::batch_norm_xhat_dy>(axis::cols, d, m_b, T(1), T(0), st.m_norm0.grad_gamma,
                                                       view::matrix(m_xf.data(), ld), view::column(m_mean0.data()),
                                                       view::column(m_istd0.data()), view::matrix(m_dx0.data(), ld));
            apply(update, m_stages[2 * st.m_heads.size() + 1]);
        }

    private:
        template <class Update>
        static void apply(Update& update, const std::vector<slice>& stage) {
            for (const slice& s : stage) update(s);
        }

        /// x0 = the input norm of the batch (no activation): every shard computes it, shard 0 moves its running
        /// statistics.
        void input_norm_forward(index_t b) {
            const norm_ptrs& n = m_step.m_norm0;
            detail::norm_act_forward<detail::identity_act>(
                m_step.m_d, b, m_step.m_ld, m_xf.data(),
                {0, nullptr, n.gamma, n.beta, n.running_mean, n.running_var, m_mean0.data(), m_istd0.data()}, m_index == 0,
                momentum, eps, {}, nullptr, m_aux0.data(), m_x0f.data());
        }
        /// z (rows units x b) = W[first:first+rows] in, with in feature-major (k x b); the bias goes to the norm.
        void linear_forward(const linear_ptrs& l, index_t first, index_t rows, index_t k, const T* in, T* z) {
            K::gemm(false, false, rows, m_b, k, T(1), l.weight + first * k, k, in, m_step.m_ld, T(0), z, m_step.m_ld);
        }
        /// dW[first:+rows] = dz in_b and (accumulating unless `fresh`) d_in^T += W[first:+rows]^T dz.
        void linear_backward(const linear_ptrs& l, index_t first, index_t rows, index_t k, const T* dz,
                             const T* in_b, index_t ld_in, T* d_in, bool fresh) {
            const index_t ld = m_step.m_ld;
            K::gemm(false, false, rows, k, m_b, T(1), dz, ld, in_b, ld_in, T(0), l.grad_weight + first * k, k);
            K::gemm(true, false, k, m_b, rows, T(1), l.weight + first * k, k, dz, ld, fresh ? T(0) : T(1), d_in, ld);
        }
        /// Norm (batch statistics, running statistics moved), activation and dropout of units [first, +rows).
        void norm_act_forward(const norm_ptrs& n, const linear_ptrs& l, index_t first, index_t rows, const T* z,
                              T* mean, T* istd, const detail::dropout_draw& drop, T* mask, T* aux, T* out) {
            detail::with_activation(m_step.m_activation, [&]<class A>(detail::tag<A>) {
                detail::norm_act_forward<A>(rows, m_b, m_step.m_ld, z,
                                            {first, l.bias, n.gamma, n.beta, n.running_mean, n.running_var, mean, istd}, true,
                                            momentum, eps, drop, mask, aux, out);
            });
        }
        /// Its backward pass: dy (in place) becomes dz; gradients of gamma, beta and the linear layer's bias.
        void norm_act_backward(const norm_ptrs& n, const linear_ptrs& l, index_t first, index_t rows, const T* z,
                               T* mean, T* istd, const T* mask, const T* aux, T* dy) {
            detail::with_activation(m_step.m_activation, [&]<class A>(detail::tag<A>) {
                detail::norm_act_backward<A>(rows, m_b, m_step.m_ld, z,
                                             {first, l.bias, n.gamma, n.beta, n.running_mean, n.running_var, mean, istd}, mask,
                                             aux, dy, n.grad_gamma, n.grad_beta, l.grad_bias);
            });
        }
        /// See stages().
        void build_stages() {
            const parallel_step& st = m_step;
            const index_t f = st.m_f, h = st.m_h, d = st.m_d;
            std::size_t p = 6;  // the trunk's six parameters come first
            std::vector<slice> final_stage;
            if (m_index == 0) final_stage = {{0, 0, d}, {1, 0, d}};
            for (const head_ptrs& hd : st.m_heads) {
                std::vector<slice> out_layer;
                for (index_t r = 0; r < hd.outputs; ++r) out_layer.push_back({p + 4, r * h + m_u0, r * h + m_u1});
                if (m_index == 0) final_stage.push_back({p + 5, 0, hd.outputs});
                m_stages.push_back(out_layer);
                m_stages.push_back({{p, m_u0 * f, m_u1 * f}, {p + 1, m_u0, m_u1}, {p + 2, m_u0, m_u1}, {p + 3, m_u0, m_u1}});
                p += 6;
            }
            m_stages.push_back({{2, m_f0 * d, m_f1 * d}, {3, m_f0, m_f1}, {4, m_f0, m_f1}, {5, m_f0, m_f1}});
            m_stages.push_back(final_stage);
        }

        parallel_step& m_step;
        int m_index;
        index_t m_f0, m_f1, m_u0, m_u1;
        index_t m_b = 0;
        std::vector<std::vector<slice>> m_stages;
        tensor m_xb, m_yb, m_xf, m_x0f, m_aux0, m_x0b, m_yf, m_mean0, m_istd0;
        tensor m_z1, m_mask1, m_aux1, m_dz1, m_mean1, m_istd1;
        tensor m_z2, m_a2, m_mask2, m_aux2, m_dz2, m_mean2, m_istd2;
        tensor m_out, m_dout, m_dx0, m_loss;
    };

    // ---- evaluation ----

    /// One thread's buffers for evaluation chunks of up to ld rows.
    class evaluator {
    public:
        explicit evaluator(parallel_step& step) : m_step(step) {
            const index_t ld = step.m_ld;
            m_xf.resize(step.m_d, ld);
            m_h.resize(step.m_f, ld);
            m_a.resize(step.m_h, ld);
            m_out.resize(step.m_o, ld);
        }
        /// n <= ld rows of x (row-major) -> n x outputs into out.
        void run(const T* x, index_t n, T* out) {
            parallel_step& st = m_step;
            const index_t ld = st.m_ld;
            m_n = n;
            detail::transpose(n, st.m_d, x, st.m_d, m_xf.data(), ld);
            detail::with_activation(st.m_activation, [&]<class A>(detail::tag<A>) {
                norm<A>(st.m_norm0, st.m_d, m_xf.data(), false);
                linear(st.m_linear1, st.m_f, st.m_d, m_xf.data(), m_h.data());
                norm<A>(st.m_norm1, st.m_f, m_h.data(), true);
                for (const head_ptrs& hd : st.m_heads) {
                    linear(hd.in, st.m_h, st.m_f, m_h.data(), m_a.data());
                    norm<A>(hd.norm, st.m_h, m_a.data(), true);
                    linear(hd.out, hd.outputs, st.m_h, m_a.data(), m_out.data() + hd.first_output * ld);
                }
            });
            detail::transpose(st.m_o, n, m_out.data(), ld, out, st.m_o);
        }

    private:
        void linear(const linear_ptrs& l, index_t rows, index_t k, const T* in, T* z) {
            const index_t ld = m_step.m_ld;
            K::template map<detail::fn::identity>(rows, m_n, T(1), T(0), z, ld, view::column(l.bias));
            K::gemm(false, false, rows, m_n, k, T(1), l.weight, k, in, ld, T(1), z, ld);
        }
        template <class A>
        void norm(const norm_ptrs& p, index_t rows, T* z, bool activate) {
            detail::norm_act_eval<A>(rows, m_n, m_step.m_ld, z, p.gamma, p.beta, p.running_mean, p.running_var, eps,
                                     activate);
        }

        parallel_step& m_step;
        index_t m_n = 0;
        tensor m_xf, m_h, m_a, m_out;
    };

    /// out (rows x cols) = the shards' partials of rows [first, first + rows), added in shard order.
    void sum_parts(const std::vector<tensor>& parts, index_t first, index_t rows, index_t cols, T* out) const {
        static_assert(step_shards >= 2);
        K::template map<detail::fn::add>(rows, cols, T(1), T(0), out, m_ld, view::matrix(parts[0].data() + first * m_ld, m_ld),
                                         view::matrix(parts[1].data() + first * m_ld, m_ld));
        for (std::size_t s = 2; s < parts.size(); ++s)
            K::template map<detail::fn::identity>(rows, cols, T(1), T(1), out, m_ld, view::matrix(parts[s].data() + first * m_ld, m_ld));
    }

    template <class F>
    void each_shard(int rank, F&& f) {
        for (int s = rank; s < step_shards; s += m_team.size()) f(m_shards[static_cast<std::size_t>(s)]);
    }

    /// The next step's dropout masks continue each stream where this batch's stopped.
    void advance_dropout(index_t b) {
        if (m_p1 > 0) m_stream1->offset += static_cast<std::uint64_t>(b * m_f);
        for (const head_ptrs& hd : m_heads)
            if (hd.p > 0) hd.stream->offset += static_cast<std::uint64_t>(b * m_h);
    }

    /// Pointers into the model, and the optimiser's view of its parameters in for_each_parameter order.
    void collect_parameters() {
        m_model.for_each_parameter([&](const std::string&, autograd::parameter<T, Backend>& p) {
            p.grad.resize_like(p.value);
            p.grad.fill(T(0));
            m_params.push_back({p.value.data(), p.grad.data(), p.value.size()});
        });
        auto norm_of = [](nn::batch_norm1d<T, Backend>& n) {
            return norm_ptrs{n.gamma().value.data(), n.beta().value.data(), n.running_mean().data(),
                             n.running_var().data(), n.gamma().grad.data(), n.beta().grad.data()};
        };
        auto linear_of = [](nn::linear<T, Backend>& l) {
            return linear_ptrs{l.weight().value.data(), l.bias().value.data(), l.weight().grad.data(),
                               l.bias().grad.data()};
        };
        auto& trunk = m_model.trunk();
        m_norm0 = norm_of(trunk.template get<0>());
        m_linear1 = linear_of(trunk.template get<1>());
        m_norm1 = norm_of(trunk.template get<2>());
        m_activation = trunk.template get<3>().kind();
        m_p1 = trunk.template get<4>().p();
        m_stream1 = &trunk.template get<4>().stream();
        index_t first_output = 0;
        for (auto& head : m_model.heads()) {
            head_ptrs hd{linear_of(head.template get<0>()), norm_of(head.template get<1>()), head.template get<3>().p(),
                         &head.template get<3>().stream(), linear_of(head.template get<4>()),
                         head.template get<4>().out_features(), first_output};
            first_output += hd.outputs;
            m_heads.push_back(hd);
        }
    }

    nn::predictor<T, Backend>& m_model;
    loss_kind m_loss;
    thread_team m_team;
    index_t m_d = 0, m_f = 0, m_h = 0, m_o = 0, m_ld = 0, m_max_batch = 0;
    std::vector<optim::parameter<T>> m_params;
    norm_ptrs m_norm0{}, m_norm1{};
    linear_ptrs m_linear1{};
    nn::activation_kind m_activation = nn::activation_kind::swish;
    T m_p1 = 0;
    autograd::random_stream* m_stream1 = nullptr;
    std::vector<head_ptrs> m_heads;
    std::vector<shard> m_shards;
    tensor m_hf, m_hb;
    std::vector<tensor> m_out_part, m_dh_part, m_dx_part;
    std::vector<evaluator> m_eval;
};

}  // namespace ncp::train

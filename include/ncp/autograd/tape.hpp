#pragma once
/// Reverse-mode automatic differentiation on a tape (Wengert list).
///
/// A `tape` records one node per operation; a `var` is a light handle to a node. Values and gradients are backend
/// tensors. `tape.backward(loss)` walks the nodes once in reverse, visiting only nodes the gradient reached and
/// feeding only inputs that lead to a leaf requiring a gradient. `tape.clear()` forgets the nodes but keeps their
/// buffers: recording the same operations on the same shapes again allocates nothing.
///
/// Leaves are either the caller's tensors (`tape.input`) or `parameter`s, which hold a value and a gradient that
/// outlive the tape so that layers and optimisers own and update them in place.
///
/// A tape may record one member's rows of a batch split over a thread team (`set_split`, see row_split.hpp). Its
/// values are then those of the member's rows, and its parameter leaves collect per-block gradients (or leave a
/// weight's as the operands of its product), which row_split::reduce_gradients combines into the parameters'
/// gradients once every member's backward pass is done.

#include <array>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "ncp/autograd/row_split.hpp"
#include "ncp/tensor/tensor.hpp"

namespace ncp::autograd {

template <class T = float, class Backend = default_backend>
class tape;
template <class T = float, class Backend = default_backend>
class var;

/// A trainable tensor with its gradient; owned by the caller (a layer, or the search holding a batch of codes).
template <class T = float, class Backend = default_backend>
struct parameter {
    Tensor<T, Backend> value;   ///< updated in place by optimisers
    Tensor<T, Backend> grad;    ///< d loss / d value after tape.backward (zeros where the loss does not depend on it)
    bool requires_grad = true;  ///< false freezes it: backward neither computes nor writes its gradient

    parameter() = default;
    explicit parameter(Tensor<T, Backend> initial, bool trainable = true)
        : value(std::move(initial)), requires_grad(trainable) {}

private:
    friend class tape<T, Backend>;
    std::uint64_t m_written_in_pass = 0;  ///< the backward pass that last wrote grad (shared leaves accumulate)
};

namespace detail {
inline thread_local int no_grad_depth = 0;
/// Backward passes started so far by every tape: a pass's number is unique in the process, so a parameter shared by
/// several tapes never mistakes another tape's pass for the current one.
inline std::atomic<std::uint64_t> backward_passes{0};
}  // namespace detail

/// Whether operations on this thread record what backward needs (false inside a no_grad scope).
[[nodiscard]] inline bool grad_enabled() noexcept { return detail::no_grad_depth == 0; }

/// RAII scope for inference: while one lives on this thread, operations compute values only (no gradients, no saved
/// tensors for backward). Scopes nest.
class no_grad {
public:
    no_grad() noexcept { ++detail::no_grad_depth; }
    ~no_grad() { --detail::no_grad_depth; }
    no_grad(const no_grad&) = delete;
    no_grad& operator=(const no_grad&) = delete;
};

/// A counter-based random stream for dropout masks: `seed` names the stream, `offset` is its next element. Ops
/// advance offset by the elements they draw, so a run replays exactly from the same (seed, offset).
struct random_stream {
    std::uint64_t seed = 0;    ///< which stream
    std::uint64_t offset = 0;  ///< next element of it
};

/// Where an op adds an input's gradient: the buffer and the beta of "g = contribution + beta g" (0 on the first
/// contribution of a backward pass, so buffers are never zero-filled first).
template <class T>
struct grad_target {
    T* data;  ///< gradient buffer, shaped like the input's value
    T beta;   ///< 0 or 1
};

namespace detail {

/// One recorded operation. Ops keep what their backward needs in the generic fields below.
template <class T, class Backend>
struct node {
    using tensor = Tensor<T, Backend>;
    using backward_fn = void (*)(tape<T, Backend>&, node&);

    backward_fn backward = nullptr;           ///< sends this node's gradient to its inputs; null when none needs it
    index_t id = 0;                           ///< position on the tape
    index_t first_input = 0;                  ///< the inputs are the tape's links[first_input, + inputs)
    index_t inputs = 0;                       ///< number of inputs
    const tensor* value = nullptr;            ///< own_value, a caller's tensor, or another node's value
    parameter<T, Backend>* param = nullptr;   ///< parameter leaves: the gradient goes to param->grad
    tensor own_value;                         ///< the value of op nodes
    tensor own_grad;                          ///< the gradient of non-parameter nodes
    std::array<tensor, 4> saved;              ///< per-op tensors kept for backward (statistics, masks, scratch)
    std::array<T, 2> reals{};                 ///< per-op constants
    std::array<index_t, 2> ints{};            ///< per-op integers
    bool requires_grad = false;               ///< a requiring-grad leaf lies upstream and recording was on
    index_t split_leaf = -1;                  ///< parameter leaves of a row-split tape: position among them
    T* block_grads = nullptr;                 ///< those leaves: the member's first per-block gradient, once written
    const T* deferred_dy = nullptr;           ///< those leaves: dy of a product left to reduce_gradients this pass
    const T* deferred_x = nullptr;            ///< and its x (tape::add_weight_product)
    std::uint64_t grad_pass = 0;              ///< the backward pass that last wrote own_grad
    std::uint64_t grad_cols = 0;              ///< columns of own_grad written in this pass (bit 63: 63 and beyond)
};

/// Bit mask of columns [begin, begin + count), columns from 63 on sharing bit 63.
inline std::uint64_t column_bits(index_t begin, index_t count) {
    if (count <= 0) return 0;
    const index_t first = begin < 63 ? begin : 63;
    const index_t last = begin + count - 1 < 63 ? begin + count - 1 : 63;
    const std::uint64_t upto_last = last == 63 ? ~std::uint64_t{0} : (std::uint64_t{1} << (last + 1)) - 1;
    return upto_last & ~((std::uint64_t{1} << first) - 1);
}

}  // namespace detail

/// A handle to one node of a tape: cheap to copy, valid until the tape is cleared.
template <class T, class Backend>
class var {
public:
    using value_type = T;
    using backend_type = Backend;
    using tensor = Tensor<T, Backend>;

    var() = default;

    /// The value computed when the node was recorded.
    [[nodiscard]] const tensor& value() const { return *m_node->value; }
    /// d loss / d this after tape.backward: zeros for requiring-grad leaves the loss does not depend on; an error
    /// for nodes the last backward pass did not reach.
    [[nodiscard]] const tensor& grad() const { return m_tape->grad(*this); }
    [[nodiscard]] index_t rows() const { return value().rows(); }
    [[nodiscard]] index_t cols() const { return value().cols(); }
    /// Whether gradients flow through this node.
    [[nodiscard]] bool requires_grad() const { return m_node->requires_grad; }
    /// The tape that recorded it.
    [[nodiscard]] tape<T, Backend>& owner() const { return *m_tape; }
    /// The node, for op implementations.
    [[nodiscard]] detail::node<T, Backend>& node() const { return *m_node; }
    /// Position on the tape.
    [[nodiscard]] index_t id() const { return m_node->id; }

private:
    friend class tape<T, Backend>;
    var(tape<T, Backend>* t, detail::node<T, Backend>* n, std::uint64_t recording)
        : m_tape(t), m_node(n), m_recording(recording) {}

    tape<T, Backend>* m_tape = nullptr;
    detail::node<T, Backend>* m_node = nullptr;
    std::uint64_t m_recording = 0;  ///< the tape's recording (clears so far) this var belongs to
};

template <class T, class Backend>
class tape {
public:
    using tensor = Tensor<T, Backend>;
    using var_type = var<T, Backend>;
    using node_type = detail::node<T, Backend>;
    using kernels = ncp::detail::kernels<Backend>;

    tape() = default;
    tape(const tape&) = delete;
    tape& operator=(const tape&) = delete;

    /// A leaf reading the caller's tensor, which must stay alive and unchanged until clear(). With requires_grad
    /// (and recording on) backward fills its gradient, read through the returned var's grad().
    var_type input(const tensor& value, bool requires_grad = false) {
        node_type& n = push(nullptr, {});
        n.value = &value;
        n.requires_grad = requires_grad && grad_enabled();
        if (n.requires_grad) m_leaves.push_back(&n);
        return handle(n);
    }
    /// A leaf for a parameter: reads p.value; backward writes p.grad when p.requires_grad (and recording is on).
    /// On a row-split tape its gradient is per block (see the header comment).
    var_type leaf(parameter<T, Backend>& p) {
        node_type& n = push(nullptr, {});
        n.value = &p.value;
        n.param = &p;
        n.requires_grad = p.requires_grad && grad_enabled();
        if (n.requires_grad) {
            m_leaves.push_back(&n);
            if (m_split) {
                n.split_leaf = m_split_leaves++;
                m_split->split->add_leaf(n.split_leaf, p, m_split->layout.blocks);
            }
        }
        return handle(n);
    }

    /// Records one member's rows of a row-split batch until clear_split(); call it on a cleared tape.
    void set_split(const row_share<T, Backend>& share) { m_split = share; }
    /// Records whole batches again; call it on a cleared tape.
    void clear_split() { m_split.reset(); }
    /// This member's part of the batch, or null when the tape records whole batches.
    [[nodiscard]] const row_share<T, Backend>* split() const { return m_split ? &*m_split : nullptr; }
    /// Parameter leaves recorded on a row-split tape since clear() (row_split::reduce_gradients takes them).
    [[nodiscard]] index_t split_leaves() const noexcept { return m_split_leaves; }

    /// Forgets every node; their buffers stay for the next recording. Vars of this tape become invalid.
    void clear() noexcept {
        m_size = 0;
        m_links.clear();
        m_leaves.clear();
        m_split_leaves = 0;
        m_collectives = 0;
        ++m_recording;
    }
    /// Number of recorded nodes.
    [[nodiscard]] index_t size() const noexcept { return m_size; }

    /// Back-propagates from a scalar: afterwards every requiring-grad leaf holds d loss / d leaf (parameters in
    /// p.grad, inputs in var.grad()), and every node the pass reached holds its own gradient.
    void backward(const var_type& loss) {
        check_owned(loss, "backward");
        if (loss.value().size() != 1) {
            throw error("autograd::tape::backward: the loss must hold one value, it is " + loss.value().shape_string());
        }
        if (!loss.requires_grad()) {
            throw error("autograd::tape::backward: the loss depends on nothing that requires a gradient");
        }
        // A pass number unique in the process marks what this pass wrote: no flags to reset.
        m_pass = detail::backward_passes.fetch_add(1, std::memory_order_relaxed) + 1;
        const auto seed = grad_for(loss.node());
        kernels::fill(index_t{1}, T(1), seed.data);
        for (index_t i = loss.id(); i >= 0; --i) {
            node_type& n = *m_nodes[i];
            if (n.backward != nullptr && written(n)) n.backward(*this, n);
        }
        for (node_type* leaf : m_leaves) {
            if (leaf->split_leaf >= 0) {
                publish(*leaf);
            } else if (!written(*leaf)) {
                // Leaves the loss does not depend on get zeros rather than a stale gradient.
                kernels::fill(leaf->value->size(), T(0), grad_for(*leaf).data);
            }
        }
    }

    /// The gradient of `v` from the last backward pass (see var::grad).
    [[nodiscard]] const tensor& grad(const var_type& v) const {
        check_owned(v, "grad");
        const node_type& n = v.node();
        if (n.split_leaf >= 0)
            throw error("autograd::var::grad: on a row-split tape a parameter's gradient is per block "
                        "(row_split::reduce_gradients combines them)");
        if (m_pass != 0 && n.requires_grad && written(n)) return n.param != nullptr ? n.param->grad : n.own_grad;
        throw error("autograd::var::grad: node " + std::to_string(v.id()) +
                    " has no gradient (it does not require one, or the last backward did not reach it)");
    }

    /// \name For op implementations
    /// @{

    /// Records an op node reading `operands` (all of this tape); `backward` is kept only when some operand requires
    /// a gradient and recording is on. The op then sizes and computes `value_for_write(n)`.
    node_type& record(typename node_type::backward_fn backward, std::span<const var_type> operands) {
        for (const var_type& v : operands) check_owned(v, "an operation");
        node_type& n = push(backward, operands);
        return n;
    }
    node_type& record(typename node_type::backward_fn backward, std::initializer_list<var_type> operands) {
        return record(backward, std::span<const var_type>(operands.begin(), operands.size()));
    }
    /// The node's own value buffer, shaped rows x cols.
    tensor& value_for_write(node_type& n, index_t rows, index_t cols) {
        n.own_value.resize(rows, cols);
        return n.own_value;
    }
    /// A var for a recorded node.
    var_type handle(node_type& n) { return var_type(this, &n, m_recording); }
    /// Input k of an op node.
    [[nodiscard]] node_type& input(const node_type& n, index_t k) const { return *m_links[n.first_input + k]; }
    /// The gradient of an op node during backward.
    [[nodiscard]] const tensor& grad_of(const node_type& n) const { return n.own_grad; }
    /// Where to add a contribution to d loss / d input (whole tensor): the first contribution of the pass gets
    /// beta 0 (overwrite), later ones beta 1 (accumulate).
    grad_target<T> grad_for(node_type& in) {
        if (in.split_leaf >= 0)
            throw error("autograd: on a row-split tape, parameters take gradients only through linear and batch_norm "
                        "(another op would add up the rows of one member only)");
        if (in.param != nullptr) {
            parameter<T, Backend>& p = *in.param;
            if (p.m_written_in_pass != m_pass) {
                p.grad.resize_like(p.value);
                p.m_written_in_pass = m_pass;
                return {p.grad.data(), T(0)};
            }
            return {p.grad.data(), T(1)};
        }
        in.grad_cols = ~std::uint64_t{0};
        if (in.grad_pass != m_pass) {
            in.own_grad.resize_like(*in.value);
            in.grad_pass = m_pass;
            return {in.own_grad.data(), T(0)};
        }
        return {in.own_grad.data(), T(1)};
    }
    /// Where an op that sums over rows (a weight's gradient) adds the contribution of this member's blocks: on a
    /// row-split tape, a parameter leaf's per-block gradients (block first_block + k at data + k value size), else
    /// grad_for(in), the whole batch being one block. The beta is as grad_for's, for all blocks at once.
    grad_target<T> grad_for_blocks(node_type& in) {
        if (!m_split) return grad_for(in);
        if (in.split_leaf < 0)
            throw error("autograd: on a row-split tape, the weights of linear and batch_norm must be parameters");
        if (in.grad_pass != m_pass) {
            in.grad_pass = m_pass;
            in.deferred_dy = nullptr;
            in.block_grads = member_block_buffer(in);
            return {in.block_grads, T(0)};
        }
        if (in.deferred_dy != nullptr) {
            // A second contribution: the deferred product goes into the buffer first.
            in.block_grads = member_block_buffer(in);
            weight_products(in, 0, in.deferred_dy, in.deferred_x, T(0), in.block_grads);
            in.deferred_dy = nullptr;
        }
        return {in.block_grads, T(1)};
    }
    /// Adds dy^T x, the gradient of a weight leaf `in` [out, in] of y = x W^T (dy rows x out, x rows x in,
    /// row-major), per block like grad_for_blocks. On a row-split tape the first contribution of a pass is only
    /// noted (dy and x must then live until the gradients are reduced): reduce_gradients computes it (see
    /// row_split.hpp).
    void add_weight_product(node_type& in, index_t rows, const T* dy, const T* x) {
        if (m_split && in.split_leaf >= 0 && in.grad_pass != m_pass) {
            in.grad_pass = m_pass;
            in.deferred_dy = dy;
            in.deferred_x = x;
            return;
        }
        const grad_target<T> g = grad_for_blocks(in);
        weight_products(in, rows, dy, x, g.beta, g.data);
    }
    /// Numbers the ops of a recording that combine rows across the members of a row-split tape (their buffers in
    /// row_split::exchange).
    index_t next_collective() noexcept { return m_collectives++; }
    /// Like grad_for for a contribution to columns [begin, begin + count) only: the buffer is zero-filled on the
    /// first contribution of the pass, and always accumulated into (beta 1). The written columns are remembered, so
    /// an op reading back only other columns (concat's backward) can skip its unreached inputs.
    T* grad_for_columns(node_type& in, index_t begin, index_t count) {
        const bool fresh = !written(in);
        const std::uint64_t before = fresh ? 0 : in.grad_cols;
        const auto target = grad_for(in);
        if (fresh) kernels::fill(in.value->size(), T(0), target.data);
        in.grad_cols = before | detail::column_bits(begin, count);
        return target.data;
    }
    /// @}

private:
    node_type& push(typename node_type::backward_fn backward, std::span<const var_type> operands) {
        if (m_size == static_cast<index_t>(m_nodes.size())) m_nodes.push_back(std::make_unique<node_type>());
        node_type& n = *m_nodes[m_size];
        n.id = m_size++;
        bool needs = false;
        n.first_input = static_cast<index_t>(m_links.size());
        n.inputs = static_cast<index_t>(operands.size());
        for (const var_type& v : operands) {
            m_links.push_back(&v.node());
            needs = needs || v.requires_grad();
        }
        n.requires_grad = needs && grad_enabled();
        n.backward = n.requires_grad ? backward : nullptr;
        n.value = &n.own_value;
        n.param = nullptr;
        n.split_leaf = -1;
        n.block_grads = nullptr;
        n.deferred_dy = nullptr;
        n.deferred_x = nullptr;
        n.grad_pass = 0;
        return n;
    }
    [[nodiscard]] bool written(const node_type& n) const {
        return n.param != nullptr && n.split_leaf < 0 ? n.param->m_written_in_pass == m_pass : n.grad_pass == m_pass;
    }
    /// target + k value size (+ beta there) = dy^T x over block k of this member's rows, or over all `rows` rows
    /// on a whole-batch tape: the gradient of the weight leaf `in`.
    void weight_products(const node_type& in, index_t rows, const T* dy, const T* x, T beta, T* target) {
        const index_t out = in.value->rows(), cols = in.value->cols();
        const auto block = [&](index_t k, index_t r, index_t block_rows) {
            detail::weight_product<T, Backend>(0, out, out, cols, block_rows, dy + r * out, x + r * cols, beta,
                                               target + k * out * cols);
        };
        if (!m_split) {
            block(0, 0, rows);
            return;
        }
        index_t k = 0;
        m_split->for_each_block([&](index_t, index_t r, index_t block_rows) { block(k++, r, block_rows); });
    }
    /// The row split's per-block gradient buffer of the parameter leaf `in`, from this member's first block.
    T* member_block_buffer(const node_type& in) {
        return m_split->split->partials(in.split_leaf, m_split->layout.blocks) +
               m_split->first_block * in.value->size();
    }
    /// Records, for each of this member's blocks, how the parameter leaf n of a row-split tape holds the block's
    /// gradient after this pass (row_split::reduce_gradients reads it).
    void publish(const node_type& n) {
        const index_t out = n.value->rows(), in = n.value->cols();
        m_split->for_each_block([&](index_t j, index_t r, index_t rows) {
            block_gradient<T> b{block_source::zero};
            if (written(n))
                b = n.deferred_dy != nullptr
                        ? block_gradient<T>{block_source::product, n.deferred_dy + r * out, n.deferred_x + r * in, rows}
                        : block_gradient<T>{block_source::partial};
            m_split->split->set_block_gradient(n.split_leaf, j, b);
        });
    }
    void check_owned(const var_type& v, const char* what) const {
        if (v.m_tape != this || v.m_recording != m_recording || v.m_node == nullptr) {
            throw error(std::string("autograd: ") + what +
                        " got a variable of another tape, or one recorded before the tape was cleared");
        }
    }

    std::vector<std::unique_ptr<node_type>> m_nodes;  ///< nodes [0, m_size) are recorded; the rest wait for reuse
    index_t m_size = 0;
    std::vector<node_type*> m_links;                   ///< the inputs of every node, in recording order
    std::vector<node_type*> m_leaves;                  ///< the leaves that require a gradient
    std::optional<row_share<T, Backend>> m_split;      ///< this member's rows, on a row-split tape
    index_t m_split_leaves = 0;                        ///< parameter leaves recorded on a row-split tape
    index_t m_collectives = 0;                         ///< ops combining rows recorded (next_collective)
    std::uint64_t m_pass = 0;                          ///< the number of this tape's latest backward pass
    std::uint64_t m_recording = 0;                     ///< clears so far (vars of older recordings are stale)
};

}  // namespace ncp::autograd

#pragma once
/// The differentiable operations: each records one node (value computed now) and registers its backward rule.
/// Every op computes through the backend kernels only, so it runs on any backend.
///
/// Shapes: tensors are rows x cols; a 1-D tensor of n is a 1 x n row. Element-wise binary ops broadcast like NumPy
/// (a dimension of 1 repeats), which covers row vectors, column vectors and scalars. Operands of one expression
/// must share the value type and the backend: mixing them does not compile.
///
/// On a row-split tape (row_split.hpp) values hold one member's rows of a batch. Row-wise ops need nothing more;
/// linear, batch_norm, dropout and the losses handle the split (per-block products and sums, the batch's mask
/// elements, sums added in block order), and the ops that would combine only one member's rows throw.

#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

#include "ncp/autograd/tape.hpp"

namespace ncp::autograd {

/// How a loss combines its per-element terms.
enum class reduction { mean, sum };

namespace detail {

using ncp::detail::view;
namespace fn = ncp::detail::fn;
template <class Backend>
using kernels = ncp::detail::kernels<Backend>;

/// Operands of one expression must live on one backend and share one value type.
template <class T, class B, class T2, class B2>
constexpr void check_same_kind() {
    static_assert(std::is_same_v<B, B2>,
                  "ncp::autograd: cannot mix backends in one expression (copy the operand across with "
                  "to_host/from_host first)");
    static_assert(std::is_same_v<T, T2>, "ncp::autograd: cannot mix value types (float, double) in one expression");
}

/// A tensor read as itself.
template <class T, class B>
view<T> dense(const Tensor<T, B>& t) {
    return view<T>::matrix(t.data(), t.cols());
}
/// A tensor read as rows x cols with NumPy broadcasting (its dimensions of 1 repeat).
template <class T, class B>
view<T> broadcast(const Tensor<T, B>& t, index_t rows, index_t cols) {
    return {t.data(), t.rows() == rows ? t.cols() : 0, t.cols() == cols ? index_t{1} : index_t{0}, T(0)};
}

/// The broadcast shape of a and b, or an error naming the op and both shapes.
template <class T, class B>
std::pair<index_t, index_t> broadcast_shape(const char* op, const Tensor<T, B>& a, const Tensor<T, B>& b) {
    const auto dim = [&](index_t x, index_t y) {
        if (x != y && x != 1 && y != 1) {
            throw error(std::string(op) + ": shapes " + a.shape_string() + " and " + b.shape_string() +
                        " do not broadcast");
        }
        return x == 1 ? y : x;
    };
    const index_t rows = dim(a.rows(), b.rows());
    return {rows, dim(a.cols(), b.cols())};
}

/// Adds alpha F(operands...) (a rows x cols field) into the gradient of `in`, summed over the dimensions `in`
/// was broadcast along.
template <class F, class T, class B, class... V>
void send_grad(tape<T, B>& t, node<T, B>& in, index_t rows, index_t cols, T alpha, const V&... operands) {
    const Tensor<T, B>& x = *in.value;
    const grad_target<T> g = t.grad_for(in);
    if (x.rows() == rows && x.cols() == cols) {
        kernels<B>::template map<F>(rows, cols, alpha, g.beta, g.data, cols, operands...);
    } else if (x.rows() == rows) {
        kernels<B>::template reduce<F>(axis::cols, rows, cols, alpha, g.beta, g.data, operands...);
    } else if (x.cols() == cols) {
        kernels<B>::template reduce<F>(axis::rows, rows, cols, alpha, g.beta, g.data, operands...);
    } else {
        kernels<B>::template reduce<F>(axis::all, rows, cols, alpha, g.beta, g.data, operands...);
    }
}

/// The rows of a batch: on a row-split tape the whole batch's (and `rows`, those of a value on it, must be the
/// member's), else rows.
template <class T, class B>
index_t batch_rows(const tape<T, B>& t, index_t rows, const char* op) {
    const row_share<T, B>* share = t.split();
    if (share == nullptr) return rows;
    if (rows != share->rows())
        throw error(std::string(op) + ": a member of a row-split batch holds " + std::to_string(share->rows()) +
                    " of its rows, the input " + std::to_string(rows));
    return share->layout.rows;
}

/// f(j, first, rows) for the row blocks a tape computes, rows [first, first + rows) of a value of `rows` rows on
/// it: the member's blocks on a row-split tape, else one block of every row.
template <class T, class B, class F>
void for_each_block(const tape<T, B>& t, index_t rows, const char* op, F&& f) {
    batch_rows(t, rows, op);
    if (const row_share<T, B>* share = t.split()) {
        share->for_each_block(f);
    } else {
        f(index_t{0}, index_t{0}, rows);
    }
}

/// Adds this member's per-block sums (block j's `cols` values at part + j stride + offset) into the per-block
/// gradients of the parameter leaf `in` (tape::grad_for_blocks).
template <class T, class B>
void send_block_sums(tape<T, B>& t, node<T, B>& in, const row_share<T, B>& share, const T* part, index_t stride,
                     index_t offset, index_t cols) {
    const grad_target<T> g = t.grad_for_blocks(in);
    for (index_t j = share.first_block; j < share.end_block; ++j)
        kernels<B>::template map<fn::identity>(1, cols, T(1), g.beta, g.data + (j - share.first_block) * cols, cols,
                                               view<T>::row(part + j * stride + offset));
}

/// Throws naming `op` on a row-split tape, for ops that would combine only one member's rows.
template <class T, class B>
void check_whole(const tape<T, B>& t, const std::string& op) {
    if (t.split() != nullptr)
        throw error(op + ": not available on a row-split tape (it would combine only one member's rows)");
}

// ---- element-wise binary ops with broadcasting; one operand may be a host constant ----

enum class binary_kind { add, sub, mul, div };

/// Node fields: ints[0] = 0 (two tensor operands), 1 (left is the constant reals[0]) or 2 (right is).
template <binary_kind Kind>
struct binary {
    using forward_fn = std::conditional_t<
        Kind == binary_kind::add, fn::add,
        std::conditional_t<Kind == binary_kind::sub, fn::sub,
                           std::conditional_t<Kind == binary_kind::mul, fn::mul, fn::div>>>;

    template <class T, class B>
    static view<T> operand(tape<T, B>& t, const node<T, B>& n, int side, index_t rows, index_t cols) {
        if (n.ints[0] == side + 1) return view<T>::constant(n.reals[0]);
        return broadcast(*t.input(n, n.ints[0] == 1 ? side - 1 : side).value, rows, cols);
    }
    template <class T, class B>
    static node<T, B>* operand_node(tape<T, B>& t, const node<T, B>& n, int side) {
        if (n.ints[0] == side + 1) return nullptr;
        node<T, B>& in = t.input(n, n.ints[0] == 1 ? side - 1 : side);
        return in.requires_grad ? &in : nullptr;
    }

    template <class T, class B>
    static void backward(tape<T, B>& t, node<T, B>& n) {
        const index_t rows = n.own_value.rows();
        const index_t cols = n.own_value.cols();
        const view<T> dy = dense(t.grad_of(n));
        node<T, B>* left = operand_node(t, n, 0);
        node<T, B>* right = operand_node(t, n, 1);
        if constexpr (Kind == binary_kind::add || Kind == binary_kind::sub) {
            if (left != nullptr) send_grad<fn::identity>(t, *left, rows, cols, T(1), dy);
            if (right != nullptr) {
                send_grad<fn::identity>(t, *right, rows, cols, Kind == binary_kind::add ? T(1) : T(-1), dy);
            }
        } else if constexpr (Kind == binary_kind::mul) {
            if (left != nullptr) send_grad<fn::mul>(t, *left, rows, cols, T(1), dy, operand(t, n, 1, rows, cols));
            if (right != nullptr) send_grad<fn::mul>(t, *right, rows, cols, T(1), dy, operand(t, n, 0, rows, cols));
        } else {
            const view<T> b = operand(t, n, 1, rows, cols);
            if (left != nullptr) send_grad<fn::div>(t, *left, rows, cols, T(1), dy, b);
            if (right != nullptr) {
                send_grad<fn::div_rhs_grad>(t, *right, rows, cols, T(1), operand(t, n, 0, rows, cols), b, dy);
            }
        }
    }

    template <class T, class B>
    static var<T, B> apply(const var<T, B>& a, const var<T, B>& b, const char* name) {
        tape<T, B>& t = a.owner();
        node<T, B>& n = t.record(&backward<T, B>, {a, b});
        n.ints[0] = 0;
        const auto [rows, cols] = broadcast_shape(name, a.value(), b.value());
        Tensor<T, B>& y = t.value_for_write(n, rows, cols);
        kernels<B>::template map<forward_fn>(rows, cols, T(1), T(0), y.data(), cols,
                                             broadcast(a.value(), rows, cols), broadcast(b.value(), rows, cols));
        return t.handle(n);
    }
    /// `x op c` (constant_on_left false) or `c op x`.
    template <class T, class B>
    static var<T, B> apply(const var<T, B>& x, T c, bool constant_on_left) {
        tape<T, B>& t = x.owner();
        node<T, B>& n = t.record(&backward<T, B>, {x});
        n.ints[0] = constant_on_left ? 1 : 2;
        n.reals[0] = c;
        Tensor<T, B>& y = t.value_for_write(n, x.rows(), x.cols());
        const view<T> xv = dense(x.value());
        const view<T> cv = view<T>::constant(c);
        if (constant_on_left) {
            kernels<B>::template map<forward_fn>(x.rows(), x.cols(), T(1), T(0), y.data(), x.cols(), cv, xv);
        } else {
            kernels<B>::template map<forward_fn>(x.rows(), x.cols(), T(1), T(0), y.data(), x.cols(), xv, cv);
        }
        return t.handle(n);
    }
};

// ---- products ----

/// Node fields: ints = {trans_a, trans_b}.
struct matmul_op {
    template <class T, class B>
    static void backward(tape<T, B>& t, node<T, B>& n) {
        node<T, B>& an = t.input(n, 0);
        node<T, B>& bn = t.input(n, 1);
        const Tensor<T, B>& a = *an.value;
        const Tensor<T, B>& b = *bn.value;
        const Tensor<T, B>& dc = t.grad_of(n);
        const bool ta = n.ints[0] != 0;
        const bool tb = n.ints[1] != 0;
        const index_t m = n.own_value.rows();
        const index_t nn = n.own_value.cols();
        const index_t k = ta ? a.rows() : a.cols();
        if (an.requires_grad) {
            // dA = dC op(B)^T, or its transpose when A was used transposed.
            const grad_target<T> g = t.grad_for(an);
            if (!ta) {
                kernels<B>::gemm(false, !tb, m, k, nn, T(1), dc.data(), nn, b.data(), b.cols(), g.beta, g.data, k);
            } else {
                kernels<B>::gemm(tb, true, k, m, nn, T(1), b.data(), b.cols(), dc.data(), nn, g.beta, g.data, m);
            }
        }
        if (bn.requires_grad) {
            // dB = op(A)^T dC, or its transpose when B was used transposed.
            const grad_target<T> g = t.grad_for(bn);
            if (!tb) {
                kernels<B>::gemm(!ta, false, k, nn, m, T(1), a.data(), a.cols(), dc.data(), nn, g.beta, g.data, nn);
            } else {
                kernels<B>::gemm(true, ta, nn, k, m, T(1), dc.data(), nn, a.data(), a.cols(), g.beta, g.data, k);
            }
        }
    }
};

/// y = x W^T + b with W stored [out, in] as PyTorch does. Node fields: ints[0] = has a bias (third input).
/// Every product runs per row block (for_each_block), so that a block's results do not depend on its neighbours;
/// on a row-split tape W's gradient is left to row_split::reduce_gradients (tape::add_weight_product).
struct linear_op {
    template <class T, class B>
    static void backward(tape<T, B>& t, node<T, B>& n) {
        node<T, B>& xn = t.input(n, 0);
        node<T, B>& wn = t.input(n, 1);
        const Tensor<T, B>& x = *xn.value;
        const Tensor<T, B>& w = *wn.value;
        const Tensor<T, B>& dy = t.grad_of(n);
        const index_t in = x.cols();
        const index_t out = w.rows();
        if (xn.requires_grad) {
            const grad_target<T> g = t.grad_for(xn);
            for_each_block(t, x.rows(), "linear", [&](index_t, index_t r, index_t rows) {
                kernels<B>::gemm(false, false, rows, in, out, T(1), dy.data() + r * out, out, w.data(), in, g.beta,
                                 g.data + r * in, in);
            });
        }
        if (wn.requires_grad) t.add_weight_product(wn, x.rows(), dy.data(), x.data());
        if (n.ints[0] != 0) {
            node<T, B>& bn = t.input(n, 2);
            if (bn.requires_grad) {
                const grad_target<T> g = t.grad_for_blocks(bn);
                index_t k = 0;
                for_each_block(t, x.rows(), "linear", [&](index_t, index_t r, index_t rows) {
                    kernels<B>::template reduce<fn::identity>(axis::rows, rows, out, T(1), g.beta,
                                                              g.data + (k++) * out,
                                                              view<T>::matrix(dy.data() + r * out, out));
                });
            }
        }
    }
};

// ---- reductions ----

/// Node fields: ints[0] = the axis, reals[0] = the scale (1 for sums, 1 / count for means).
struct sum_op {
    template <class T, class B>
    static void backward(tape<T, B>& t, node<T, B>& n) {
        node<T, B>& xn = t.input(n, 0);
        const Tensor<T, B>& x = *xn.value;
        const Tensor<T, B>& dy = t.grad_of(n);
        const grad_target<T> g = t.grad_for(xn);
        const auto over = static_cast<axis>(n.ints[0]);
        const view<T> spread = over == axis::all    ? view<T>::scalar(dy.data())
                               : over == axis::rows ? view<T>::row(dy.data())
                                                    : view<T>::column(dy.data());
        kernels<B>::template map<fn::identity>(x.rows(), x.cols(), n.reals[0], g.beta, g.data, x.cols(), spread);
    }

    template <class T, class B>
    static var<T, B> apply(const var<T, B>& x, axis over, bool mean, const char* name) {
        tape<T, B>& t = x.owner();
        node<T, B>& n = t.record(&backward<T, B>, {x});
        const index_t rows = x.rows();
        const index_t cols = x.cols();
        if (over != axis::cols) check_whole(t, name);
        const index_t count = over == axis::all ? rows * cols : (over == axis::rows ? rows : cols);
        if (mean && count == 0) throw error(std::string(name) + ": mean of an empty tensor (" +
                                            x.value().shape_string() + ")");
        n.ints[0] = static_cast<index_t>(over);
        n.reals[0] = mean ? T(1) / static_cast<T>(count) : T(1);
        Tensor<T, B>& y = t.value_for_write(n, over == axis::cols ? rows : 1, over == axis::rows ? cols : 1);
        kernels<B>::template reduce<fn::identity>(over, rows, cols, n.reals[0], T(0), y.data(), dense(x.value()));
        return t.handle(n);
    }
};

// ---- column slices and concatenation ----

/// Node fields: ints[0] = first column taken.
struct slice_cols_op {
    template <class T, class B>
    static void backward(tape<T, B>& t, node<T, B>& n) {
        node<T, B>& xn = t.input(n, 0);
        const index_t begin = n.ints[0];
        const index_t count = n.own_value.cols();
        T* g = t.grad_for_columns(xn, begin, count);
        kernels<B>::template map<fn::identity>(n.own_value.rows(), count, T(1), T(1), g + begin, xn.value->cols(),
                                               dense(t.grad_of(n)));
    }
};

struct concat_cols_op {
    template <class T, class B>
    static void backward(tape<T, B>& t, node<T, B>& n) {
        const Tensor<T, B>& dy = t.grad_of(n);
        index_t offset = 0;
        for (index_t k = 0; k < n.inputs; ++k) {
            node<T, B>& part = t.input(n, k);
            const index_t width = part.value->cols();
            // Parts whose columns received no gradient (e.g. a head the loss ignores) are skipped entirely.
            if (part.requires_grad && (n.grad_cols & ncp::autograd::detail::column_bits(offset, width)) != 0) {
                const grad_target<T> g = t.grad_for(part);
                kernels<B>::template map<fn::identity>(dy.rows(), width, T(1), g.beta, g.data, width,
                                                       view<T>::matrix(dy.data() + offset, dy.cols()));
            }
            offset += width;
        }
    }
};

// ---- batch norm ----

/// Node fields: ints = {training, on a row-split tape the op's buffer (tape::next_collective)}; saved = {mean,
/// 1 / std, sum of dy, sum of dy xhat} (1 x cols each; saved[2] holds the variance until backward). On a row-split
/// tape, row j of the buffer holds block j's sums: `parts` groups of cols values, at the offsets below.
struct batch_norm_op {
    static constexpr index_t sum_x = 0;          ///< the sum of x
    static constexpr index_t block_mean = 1;     ///< the block's mean
    static constexpr index_t sum_deviation = 2;  ///< the sum of squared deviations from the block's mean
    static constexpr index_t sum_dy = 3;         ///< the sum of dy
    static constexpr index_t sum_dy_xhat = 4;    ///< the sum of dy xhat
    static constexpr index_t parts = 5;

    template <class T, class B>
    static void backward(tape<T, B>& t, node<T, B>& n) {
        node<T, B>& xn = t.input(n, 0);
        node<T, B>& gn = t.input(n, 1);
        node<T, B>& bn = t.input(n, 2);
        const Tensor<T, B>& x = *xn.value;
        const Tensor<T, B>& dy = t.grad_of(n);
        const index_t rows = x.rows();
        const index_t cols = x.cols();
        const bool training = n.ints[0] != 0;
        const view<T> mean = view<T>::row(n.saved[0].data());
        const view<T> istd = view<T>::row(n.saved[1].data());
        const view<T> gamma = view<T>::row(gn.value->data());
        Tensor<T, B>& total_dy = n.saved[2];
        Tensor<T, B>& total_dy_xhat = n.saved[3];
        const bool need_sum = bn.requires_grad || (training && xn.requires_grad);
        const bool need_sum_xhat = gn.requires_grad || (training && xn.requires_grad);
        total_dy.resize(1, cols);
        total_dy_xhat.resize(1, cols);
        const row_share<T, B>* share = t.split();
        if (share != nullptr && (need_sum || need_sum_xhat)) {
            // Per block, then (for dx) the whole batch's sums in block order.
            const index_t stride = parts * cols, blocks = share->layout.blocks;
            T* part = share->split->exchange(n.ints[1], blocks, stride);
            share->for_each_block([&](index_t j, index_t r, index_t block_rows) {
                T* pj = part + j * stride;
                const view<T> xj = view<T>::matrix(x.data() + r * cols, cols);
                const view<T> dyj = view<T>::matrix(dy.data() + r * cols, cols);
                kernels<B>::template reduce<fn::identity>(axis::rows, block_rows, cols, T(1), T(0), pj + sum_dy * cols,
                                                          dyj);
                kernels<B>::template reduce<fn::batch_norm_xhat_dy>(axis::rows, block_rows, cols, T(1), T(0),
                                                                    pj + sum_dy_xhat * cols, xj, mean, istd, dyj);
            });
            if (gn.requires_grad) send_block_sums(t, gn, *share, part, stride, sum_dy_xhat * cols, cols);
            if (bn.requires_grad) send_block_sums(t, bn, *share, part, stride, sum_dy * cols, cols);
            if (training && xn.requires_grad) {
                if (blocks > 1) share->split->barrier();
                if (rows > 0) {
                    sum_blocks<T, B>(blocks, cols, part + sum_dy * cols, stride, total_dy.data());
                    sum_blocks<T, B>(blocks, cols, part + sum_dy_xhat * cols, stride, total_dy_xhat.data());
                }
            }
        } else if (share == nullptr) {
            if (need_sum)
                kernels<B>::template reduce<fn::identity>(axis::rows, rows, cols, T(1), T(0), total_dy.data(),
                                                          dense(dy));
            if (need_sum_xhat)
                kernels<B>::template reduce<fn::batch_norm_xhat_dy>(axis::rows, rows, cols, T(1), T(0),
                                                                    total_dy_xhat.data(), dense(x), mean, istd,
                                                                    dense(dy));
            if (gn.requires_grad) send_grad<fn::identity>(t, gn, 1, cols, T(1), dense(total_dy_xhat));
            if (bn.requires_grad) send_grad<fn::identity>(t, bn, 1, cols, T(1), dense(total_dy));
        }
        if (!xn.requires_grad) return;
        const grad_target<T> g = t.grad_for(xn);
        if (training) {
            const index_t batch = share != nullptr ? share->layout.rows : rows;
            kernels<B>::template map<fn::batch_norm_train_dx>(
                rows, cols, T(1), g.beta, g.data, cols, dense(x), mean, istd, gamma, view<T>::row(total_dy.data()),
                view<T>::row(total_dy_xhat.data()), view<T>::constant(T(1) / static_cast<T>(batch)), dense(dy));
        } else {
            kernels<B>::template map<fn::mul3>(rows, cols, T(1), g.beta, g.data, cols, dense(dy), gamma, istd);
        }
    }
};

// ---- unary element-wise ----

/// An activation: Forward computes y; Grad gets (x, dy), or (y, dy) when FromOutput.
template <class Forward, class Grad, bool FromOutput>
struct unary_op {
    template <class T, class B>
    static void backward(tape<T, B>& t, node<T, B>& n) {
        node<T, B>& xn = t.input(n, 0);
        const index_t rows = n.own_value.rows();
        const index_t cols = n.own_value.cols();
        const grad_target<T> g = t.grad_for(xn);
        kernels<B>::template map<Grad>(rows, cols, T(1), g.beta, g.data, cols,
                                       dense(FromOutput ? n.own_value : *xn.value), dense(t.grad_of(n)));
    }

    template <class T, class B>
    static var<T, B> apply(const var<T, B>& x) {
        tape<T, B>& t = x.owner();
        node<T, B>& n = t.record(&backward<T, B>, {x});
        Tensor<T, B>& y = t.value_for_write(n, x.rows(), x.cols());
        kernels<B>::template map<Forward>(x.rows(), x.cols(), T(1), T(0), y.data(), x.cols(), dense(x.value()));
        return t.handle(n);
    }
};

/// swish(x) = x sigmoid(x). When a gradient will flow back, two passes, so that sigmoid(x) stays for the backward
/// (no second exp); otherwise (evaluation, no_grad) one pass that writes the output only.
/// Node fields: saved[0] = sigmoid(x), when the node requires a gradient.
struct swish_op {
    template <class T, class B>
    static void backward(tape<T, B>& t, node<T, B>& n) {
        node<T, B>& xn = t.input(n, 0);
        const index_t rows = n.own_value.rows();
        const index_t cols = n.own_value.cols();
        const grad_target<T> g = t.grad_for(xn);
        kernels<B>::template map<fn::swish_grad>(rows, cols, T(1), g.beta, g.data, cols, dense(*xn.value),
                                                 dense(n.saved[0]), dense(t.grad_of(n)));
    }

    template <class T, class B>
    static var<T, B> apply(const var<T, B>& x) {
        tape<T, B>& t = x.owner();
        node<T, B>& n = t.record(&backward<T, B>, {x});
        const index_t rows = x.rows();
        const index_t cols = x.cols();
        if (!n.requires_grad) {
            Tensor<T, B>& y = t.value_for_write(n, rows, cols);
            kernels<B>::template map<fn::swish>(rows, cols, T(1), T(0), y.data(), cols, dense(x.value()));
            return t.handle(n);
        }
        Tensor<T, B>& s = n.saved[0];
        s.resize(rows, cols);
        kernels<B>::template map<fn::sigmoid>(rows, cols, T(1), T(0), s.data(), cols, dense(x.value()));
        Tensor<T, B>& y = t.value_for_write(n, rows, cols);
        kernels<B>::template map<fn::mul>(rows, cols, T(1), T(0), y.data(), cols, dense(x.value()), dense(s));
        return t.handle(n);
    }
};

/// Node fields: saved[0] = the mask (0 or 1 / (1 - p)).
struct dropout_op {
    template <class T, class B>
    static void backward(tape<T, B>& t, node<T, B>& n) {
        node<T, B>& xn = t.input(n, 0);
        const grad_target<T> g = t.grad_for(xn);
        kernels<B>::template map<fn::mul>(1, n.own_value.size(), T(1), g.beta, g.data, n.own_value.size(),
                                          dense(t.grad_of(n)), dense(n.saved[0]));
    }
};

// ---- losses ----

/// Node fields: reals[0] = the scale of the sum (1 / count for means, counting the whole batch's elements on a
/// row-split tape). On a row-split tape the value is the whole batch's too: each member sums its blocks into row
/// j of the op's buffer, and after a barrier adds them in block order.
template <class Error, class Grad>
struct loss_op {
    template <class T, class B>
    static void backward(tape<T, B>& t, node<T, B>& n) {
        node<T, B>& pn = t.input(n, 0);
        node<T, B>& tn = t.input(n, 1);
        const Tensor<T, B>& p = *pn.value;
        const view<T> args[] = {dense(p), dense(*tn.value), view<T>::scalar(t.grad_of(n).data())};
        if (pn.requires_grad) send_grad<Grad>(t, pn, p.rows(), p.cols(), n.reals[0], args[0], args[1], args[2]);
        if (tn.requires_grad) send_grad<Grad>(t, tn, p.rows(), p.cols(), -n.reals[0], args[0], args[1], args[2]);
    }

    template <class T, class B>
    static var<T, B> apply(const var<T, B>& pred, const var<T, B>& target, reduction r, const char* name) {
        if (!pred.value().same_shape(target.value())) {
            throw error(std::string(name) + ": prediction " + pred.value().shape_string() + " and target " +
                        target.value().shape_string() + " differ in shape");
        }
        tape<T, B>& t = pred.owner();
        const index_t rows = pred.rows(), cols = pred.cols();
        const index_t count = batch_rows(t, rows, name) * cols;
        node<T, B>& n = t.record(&backward<T, B>, {pred, target});
        n.reals[0] = r == reduction::mean && count > 0 ? T(1) / static_cast<T>(count) : T(1);
        Tensor<T, B>& y = t.value_for_write(n, 1, 1);
        const row_share<T, B>* share = t.split();
        if (share == nullptr) {
            kernels<B>::template reduce<Error>(axis::all, rows, cols, n.reals[0], T(0), y.data(),
                                               dense(pred.value()), dense(target.value()));
            return t.handle(n);
        }
        const index_t blocks = share->layout.blocks;
        T* part = share->split->exchange(t.next_collective(), blocks, 1);
        share->for_each_block([&](index_t j, index_t first, index_t block_rows) {
            kernels<B>::template reduce<Error>(axis::all, block_rows, cols, T(1), T(0), part + j,
                                               view<T>::matrix(pred.value().data() + first * cols, cols),
                                               view<T>::matrix(target.value().data() + first * cols, cols));
        });
        if (blocks > 1) share->split->barrier();
        if (rows > 0 || blocks > 1) {
            sum_blocks<T, B>(blocks, 1, part, 1, y.data());
            kernels<B>::template map<fn::identity>(1, 1, n.reals[0], T(0), y.data(), 1, view<T>::row(y.data()));
        } else {
            kernels<B>::fill(index_t{1}, T(0), y.data());  // a member without rows (block 0 may be in the making)
        }
        return t.handle(n);
    }
};

}  // namespace detail

// ---- arithmetic ----

/// a + b, broadcasting.
template <class T, class B, class T2, class B2>
var<T, B> operator+(const var<T, B>& a, const var<T2, B2>& b) {
    detail::check_same_kind<T, B, T2, B2>();
    return detail::binary<detail::binary_kind::add>::apply(a, b, "add");
}
/// a - b, broadcasting.
template <class T, class B, class T2, class B2>
var<T, B> operator-(const var<T, B>& a, const var<T2, B2>& b) {
    detail::check_same_kind<T, B, T2, B2>();
    return detail::binary<detail::binary_kind::sub>::apply(a, b, "sub");
}
/// a * b element-wise, broadcasting.
template <class T, class B, class T2, class B2>
var<T, B> operator*(const var<T, B>& a, const var<T2, B2>& b) {
    detail::check_same_kind<T, B, T2, B2>();
    return detail::binary<detail::binary_kind::mul>::apply(a, b, "mul");
}
/// a / b element-wise, broadcasting.
template <class T, class B, class T2, class B2>
var<T, B> operator/(const var<T, B>& a, const var<T2, B2>& b) {
    detail::check_same_kind<T, B, T2, B2>();
    return detail::binary<detail::binary_kind::div>::apply(a, b, "div");
}
/// x + b with b a row of x.cols() values (a bias), checked.
template <class T, class B, class T2, class B2>
var<T, B> bias_add(const var<T, B>& x, const var<T2, B2>& b) {
    detail::check_same_kind<T, B, T2, B2>();
    if (b.rows() != 1 || b.cols() != x.cols()) {
        throw error("bias_add: bias " + b.value().shape_string() + " does not match " + x.value().shape_string());
    }
    return detail::binary<detail::binary_kind::add>::apply(x, b, "bias_add");
}

/// x + c, c + x, x - c, c - x, x * c, c * x, x / c, c / x with a host constant c.
template <class T, class B>
var<T, B> operator+(const var<T, B>& x, std::type_identity_t<T> c) {
    return detail::binary<detail::binary_kind::add>::apply(x, c, false);
}
template <class T, class B>
var<T, B> operator+(std::type_identity_t<T> c, const var<T, B>& x) {
    return detail::binary<detail::binary_kind::add>::apply(x, c, true);
}
template <class T, class B>
var<T, B> operator-(const var<T, B>& x, std::type_identity_t<T> c) {
    return detail::binary<detail::binary_kind::sub>::apply(x, c, false);
}
template <class T, class B>
var<T, B> operator-(std::type_identity_t<T> c, const var<T, B>& x) {
    return detail::binary<detail::binary_kind::sub>::apply(x, c, true);
}
template <class T, class B>
var<T, B> operator*(const var<T, B>& x, std::type_identity_t<T> c) {
    return detail::binary<detail::binary_kind::mul>::apply(x, c, false);
}
template <class T, class B>
var<T, B> operator*(std::type_identity_t<T> c, const var<T, B>& x) {
    return detail::binary<detail::binary_kind::mul>::apply(x, c, true);
}
template <class T, class B>
var<T, B> operator/(const var<T, B>& x, std::type_identity_t<T> c) {
    return detail::binary<detail::binary_kind::div>::apply(x, c, false);
}
template <class T, class B>
var<T, B> operator/(std::type_identity_t<T> c, const var<T, B>& x) {
    return detail::binary<detail::binary_kind::div>::apply(x, c, true);
}
/// -x.
template <class T, class B>
var<T, B> operator-(const var<T, B>& x) {
    return detail::binary<detail::binary_kind::mul>::apply(x, T(-1), false);
}

/// The same value, cut off from the gradient (backward never flows into it). Shares x's buffer.
template <class T, class B>
var<T, B> detach(const var<T, B>& x) {
    tape<T, B>& t = x.owner();
    detail::node<T, B>& n = t.record(nullptr, {});
    n.value = x.node().value;
    return t.handle(n);
}

// ---- products ----

/// op(a) op(b), with op the transpose where asked.
template <class T, class B, class T2, class B2>
var<T, B> matmul(const var<T, B>& a, const var<T2, B2>& b, bool transpose_a = false, bool transpose_b = false) {
    detail::check_same_kind<T, B, T2, B2>();
    const index_t m = transpose_a ? a.cols() : a.rows();
    const index_t k = transpose_a ? a.rows() : a.cols();
    const index_t k2 = transpose_b ? b.cols() : b.rows();
    const index_t n = transpose_b ? b.rows() : b.cols();
    if (k != k2) {
        throw error("matmul: inner dimensions differ: " + a.value().shape_string() + (transpose_a ? "^T" : "") +
                    " times " + b.value().shape_string() + (transpose_b ? "^T" : ""));
    }
    tape<T, B>& t = a.owner();
    detail::check_whole(t, "matmul");
    detail::node<T, B>& node = t.record(&detail::matmul_op::backward<T, B>, {a, b});
    node.ints = {transpose_a, transpose_b};
    Tensor<T, B>& y = t.value_for_write(node, m, n);
    detail::kernels<B>::gemm(transpose_a, transpose_b, m, n, k, T(1), a.value().data(), a.cols(), b.value().data(),
                             b.cols(), T(0), y.data(), n);
    return t.handle(node);
}

/// The fully connected layer x W^T + b: x [batch, in], W [out, in] (PyTorch's layout), b [out].
template <class T, class B, class T2, class B2, class T3, class B3>
var<T, B> linear(const var<T, B>& x, const var<T2, B2>& weight, const var<T3, B3>& bias) {
    detail::check_same_kind<T, B, T2, B2>();
    detail::check_same_kind<T, B, T3, B3>();
    if (weight.cols() != x.cols() || bias.rows() != 1 || bias.cols() != weight.rows()) {
        throw error("linear: input " + x.value().shape_string() + ", weight " + weight.value().shape_string() +
                    " and bias " + bias.value().shape_string() + " do not fit (weight is [out, in], bias [out])");
    }
    tape<T, B>& t = x.owner();
    detail::node<T, B>& n = t.record(&detail::linear_op::backward<T, B>, {x, weight, bias});
    n.ints[0] = 1;
    const index_t in = x.cols();
    const index_t out = weight.rows();
    Tensor<T, B>& y = t.value_for_write(n, x.rows(), out);
    detail::for_each_block(t, x.rows(), "linear", [&](index_t, index_t r, index_t rows) {
        // The bias goes in first and the GEMM adds onto it (beta 1): no separate pass over y.
        detail::kernels<B>::template map<detail::fn::identity>(rows, out, T(1), T(0), y.data() + r * out, out,
                                                               detail::view<T>::row(bias.value().data()));
        detail::kernels<B>::gemm(false, true, rows, out, in, T(1), x.value().data() + r * in, in,
                                 weight.value().data(), in, T(1), y.data() + r * out, out);
    });
    return t.handle(n);
}
/// x W^T without a bias.
template <class T, class B, class T2, class B2>
var<T, B> linear(const var<T, B>& x, const var<T2, B2>& weight) {
    detail::check_same_kind<T, B, T2, B2>();
    if (weight.cols() != x.cols()) {
        throw error("linear: input " + x.value().shape_string() + " and weight " + weight.value().shape_string() +
                    " do not fit (weight is [out, in])");
    }
    tape<T, B>& t = x.owner();
    detail::node<T, B>& n = t.record(&detail::linear_op::backward<T, B>, {x, weight});
    n.ints[0] = 0;
    const index_t in = x.cols();
    const index_t out = weight.rows();
    Tensor<T, B>& y = t.value_for_write(n, x.rows(), out);
    detail::for_each_block(t, x.rows(), "linear", [&](index_t, index_t r, index_t rows) {
        detail::kernels<B>::gemm(false, true, rows, out, in, T(1), x.value().data() + r * in, in,
                                 weight.value().data(), in, T(0), y.data() + r * out, out);
    });
    return t.handle(n);
}

// ---- reductions ----

/// The sum over an axis: axis::all gives 1 x 1, axis::rows 1 x cols (per column), axis::cols rows x 1 (per row).
template <class T, class B>
var<T, B> sum(const var<T, B>& x, axis over = axis::all) {
    return detail::sum_op::apply(x, over, false, "sum");
}
/// The mean over an axis, shaped as sum.
template <class T, class B>
var<T, B> mean(const var<T, B>& x, axis over = axis::all) {
    return detail::sum_op::apply(x, over, true, "mean");
}

// ---- columns ----

/// Columns [begin, begin + count) of x.
template <class T, class B>
var<T, B> slice_cols(const var<T, B>& x, index_t begin, index_t count) {
    if (begin < 0 || count < 0 || begin + count > x.cols()) {
        throw error("slice_cols: columns [" + std::to_string(begin) + ", " + std::to_string(begin + count) +
                    ") of " + x.value().shape_string());
    }
    tape<T, B>& t = x.owner();
    detail::node<T, B>& n = t.record(&detail::slice_cols_op::backward<T, B>, {x});
    n.ints[0] = begin;
    Tensor<T, B>& y = t.value_for_write(n, x.rows(), count);
    detail::kernels<B>::template map<detail::fn::identity>(
        x.rows(), count, T(1), T(0), y.data(), count, detail::view<T>::matrix(x.value().data() + begin, x.cols()));
    return t.handle(n);
}

/// The parts side by side (same rows), in order.
template <class T, class B>
var<T, B> concat_cols(std::span<const var<T, B>> parts) {
    if (parts.empty()) throw error("concat_cols: no parts");
    const index_t rows = parts[0].rows();
    index_t cols = 0;
    for (const var<T, B>& p : parts) {
        if (p.rows() != rows) {
            throw error("concat_cols: parts of " + std::to_string(rows) + " and " + std::to_string(p.rows()) +
                        " rows");
        }
        cols += p.cols();
    }
    tape<T, B>& t = parts[0].owner();
    detail::node<T, B>& n = t.record(&detail::concat_cols_op::backward<T, B>, parts);
    Tensor<T, B>& y = t.value_for_write(n, rows, cols);
    index_t offset = 0;
    for (const var<T, B>& p : parts) {
        detail::kernels<B>::template map<detail::fn::identity>(rows, p.cols(), T(1), T(0), y.data() + offset, cols,
                                                               detail::dense(p.value()));
        offset += p.cols();
    }
    return t.handle(n);
}
template <class T, class B>
var<T, B> concat_cols(std::initializer_list<var<T, B>> parts) {
    return concat_cols(std::span<const var<T, B>>(parts.begin(), parts.size()));
}

// ---- normalisation ----

/// BatchNorm1d over the rows of x [batch, features] with per-feature gamma and beta.
/// training: normalise with the batch mean and biased variance, then update the running statistics with
/// `momentum` (the unbiased variance goes into running_var, as PyTorch does). Otherwise normalise with the running
/// statistics. running_mean / running_var hold `features` values and belong to the caller.
/// On a row-split tape the statistics are the whole batch's: each member sums its blocks, the members meet at a
/// barrier, and each combines the blocks in block order (the mean from the sums, the variance from each block's
/// squared deviations and the distance of its mean from the batch's); member 0 moves the running statistics.
template <class T, class B, class T2, class B2, class T3, class B3>
var<T, B> batch_norm(const var<T, B>& x, const var<T2, B2>& gamma, const var<T3, B3>& beta,
                     Tensor<T, B>& running_mean, Tensor<T, B>& running_var, bool training,
                     std::type_identity_t<T> momentum = T(0.1), std::type_identity_t<T> eps = T(1e-5)) {
    detail::check_same_kind<T, B, T2, B2>();
    detail::check_same_kind<T, B, T3, B3>();
    const index_t rows = x.rows();
    const index_t cols = x.cols();
    const auto is_row = [cols](const Tensor<T, B>& v) { return v.rows() == 1 && v.cols() == cols; };
    if (!is_row(gamma.value()) || !is_row(beta.value()) || !is_row(running_mean) || !is_row(running_var)) {
        throw error("batch_norm: gamma " + gamma.value().shape_string() + ", beta " + beta.value().shape_string() +
                    ", running mean " + running_mean.shape_string() + " and running var " +
                    running_var.shape_string() + " must each hold the " + std::to_string(cols) +
                    " features of the input " + x.value().shape_string());
    }
    tape<T, B>& t = x.owner();
    const index_t batch = detail::batch_rows(t, rows, "batch_norm");
    if (training && batch < 2) {
        throw error("batch_norm: training needs more than one row per batch (the input is " +
                    x.value().shape_string() + ")");
    }
    using K = detail::kernels<B>;
    using view = detail::view<T>;
    using op = detail::batch_norm_op;
    namespace fn = detail::fn;
    const row_share<T, B>* share = t.split();
    detail::node<T, B>& n = t.record(&op::backward<T, B>, {x, gamma, beta});
    n.ints[0] = training;
    if (share != nullptr) n.ints[1] = t.next_collective();
    Tensor<T, B>& mean = n.saved[0];
    Tensor<T, B>& istd = n.saved[1];
    mean.resize(1, cols);
    istd.resize(1, cols);
    if (training) {
        Tensor<T, B>& variance = n.saved[2];  // scratch until backward reuses it
        variance.resize(1, cols);
        const T inv_batch = T(1) / static_cast<T>(batch);
        if (share == nullptr) {
            K::template reduce<fn::identity>(axis::rows, rows, cols, inv_batch, T(0), mean.data(),
                                             detail::dense(x.value()));
            K::template reduce<fn::squared_deviation>(axis::rows, rows, cols, inv_batch, T(0), variance.data(),
                                                      detail::dense(x.value()), view::row(mean.data()));
        } else {
            const index_t stride = op::parts * cols, blocks = share->layout.blocks;
            T* part = share->split->exchange(n.ints[1], blocks, stride);
            share->for_each_block([&](index_t j, index_t r, index_t block_rows) {
                T* pj = part + j * stride;
                const view xj = view::matrix(x.value().data() + r * cols, cols);
                K::template reduce<fn::identity>(axis::rows, block_rows, cols, T(1), T(0), pj + op::sum_x * cols, xj);
                K::template map<fn::identity>(1, cols, T(1) / static_cast<T>(block_rows), T(0),
                                              pj + op::block_mean * cols, cols, view::row(pj + op::sum_x * cols));
                K::template reduce<fn::squared_deviation>(axis::rows, block_rows, cols, T(1), T(0),
                                                          pj + op::sum_deviation * cols, xj,
                                                          view::row(pj + op::block_mean * cols));
            });
            if (blocks > 1) share->split->barrier();
            if (rows > 0 || blocks > 1) {
                // With one block this is the whole-batch formula: the block's mean is the batch's, to the bit.
                detail::sum_blocks<T, B>(blocks, cols, part + op::sum_x * cols, stride, mean.data());
                K::template map<fn::identity>(1, cols, inv_batch, T(0), mean.data(), cols, view::row(mean.data()));
                for (index_t j = 0; j < blocks; ++j) {
                    const T* pj = part + j * stride;
                    K::template map<fn::squared_deviation>(1, cols, static_cast<T>(share->layout.size(j)),
                                                           j == 0 ? T(0) : T(1), variance.data(), cols,
                                                           view::row(pj + op::block_mean * cols),
                                                           view::row(mean.data()));
                    K::template map<fn::identity>(1, cols, T(1), T(1), variance.data(), cols,
                                                  view::row(pj + op::sum_deviation * cols));
                }
                K::template map<fn::identity>(1, cols, inv_batch, T(0), variance.data(), cols,
                                              view::row(variance.data()));
            } else {
                // A member without rows normalises nothing (and block 0 may still be in the making).
                K::fill(cols, T(0), mean.data());
                K::fill(cols, T(0), variance.data());
            }
        }
        K::template map<fn::inverse_std>(1, cols, T(1), T(0), istd.data(), cols, view::row(variance.data()),
                                         view::constant(eps));
        if (share == nullptr || share->rank == 0) {
            K::template map<fn::identity>(1, cols, momentum, T(1) - momentum, running_mean.data(), cols,
                                          view::row(mean.data()));
            K::template map<fn::identity>(1, cols, momentum * static_cast<T>(batch) / static_cast<T>(batch - 1),
                                          T(1) - momentum, running_var.data(), cols, view::row(variance.data()));
        }
    } else {
        K::template map<fn::inverse_std>(1, cols, T(1), T(0), istd.data(), cols, view::row(running_var.data()),
                                         view::constant(eps));
        // Only d loss / d gamma reads the mean back.
        if (n.requires_grad && gamma.requires_grad()) K::copy(cols, running_mean.data(), mean.data());
    }
    Tensor<T, B>& y = t.value_for_write(n, rows, cols);
    K::template map<fn::batch_norm>(rows, cols, T(1), T(0), y.data(), cols, detail::dense(x.value()),
                                    view::row(training ? mean.data() : running_mean.data()),
                                    view::row(istd.data()), view::row(gamma.value().data()),
                                    view::row(beta.value().data()));
    return t.handle(n);
}

// ---- activations ----

/// max(x, 0).
template <class T, class B>
var<T, B> relu(const var<T, B>& x) {
    return detail::unary_op<detail::fn::relu, detail::fn::relu_grad, false>::apply(x);
}
/// min(max(x, 0), 6).
template <class T, class B>
var<T, B> relu6(const var<T, B>& x) {
    return detail::unary_op<detail::fn::relu6, detail::fn::relu6_grad, false>::apply(x);
}
/// x sigmoid(x).
template <class T, class B>
var<T, B> swish(const var<T, B>& x) {
    return detail::swish_op::apply(x);
}
/// tanh(x).
template <class T, class B>
var<T, B> tanh(const var<T, B>& x) {
    return detail::unary_op<detail::fn::tanh, detail::fn::tanh_grad, true>::apply(x);
}
/// 1 / (1 + e^-x).
template <class T, class B>
var<T, B> sigmoid(const var<T, B>& x) {
    return detail::unary_op<detail::fn::sigmoid, detail::fn::sigmoid_grad, true>::apply(x);
}

/// Inverted dropout: in training each element is zeroed with probability p and the rest scaled by 1 / (1 - p),
/// drawing from `stream` (advanced by the element count). Identity (x itself) in eval or when p == 0. Element
/// (r, c) of the batch draws element offset + r cols + c of the stream: on a row-split tape a member draws its rows'
/// elements, and the stream advances by the whole batch's once member 0 finishes the batch
/// (row_split::finish_batch), so the masks are those of the whole batch on one tape.
template <class T, class B>
var<T, B> dropout(const var<T, B>& x, std::type_identity_t<T> p, random_stream& stream, bool training) {
    if (!(p >= T(0) && p <= T(1))) throw error("dropout: probability " + std::to_string(p) + " is not in [0, 1]");
    if (!training || p == T(0)) return x;
    tape<T, B>& t = x.owner();
    const index_t batch = detail::batch_rows(t, x.rows(), "dropout");
    const row_share<T, B>* share = t.split();
    detail::node<T, B>& n = t.record(&detail::dropout_op::backward<T, B>, {x});
    Tensor<T, B>& mask = n.saved[0];
    mask.resize(x.rows(), x.cols());
    Tensor<T, B>& y = t.value_for_write(n, x.rows(), x.cols());
    const auto first = static_cast<std::uint64_t>(share != nullptr ? share->first_row() * x.cols() : 0);
    detail::kernels<B>::dropout(x.value().size(), p, stream.seed, stream.offset + first, x.value().data(),
                                mask.data(), y.data());
    const auto drawn = static_cast<std::uint64_t>(batch * x.cols());
    if (share == nullptr) {
        stream.offset += drawn;
    } else if (share->rank == 0) {
        share->split->defer_advance(stream.offset, drawn);
    }
    return t.handle(n);
}

// ---- losses (one value: the mean, or the sum, of the per-element terms) ----

/// (pred - target)^2.
template <class T, class B, class T2, class B2>
var<T, B> mse_loss(const var<T, B>& pred, const var<T2, B2>& target, reduction r = reduction::mean) {
    detail::check_same_kind<T, B, T2, B2>();
    return detail::loss_op<detail::fn::squared_error, detail::fn::squared_error_grad>::apply(pred, target, r,
                                                                                             "mse_loss");
}
/// |pred - target|; its gradient at pred == target is 0.
template <class T, class B, class T2, class B2>
var<T, B> l1_loss(const var<T, B>& pred, const var<T2, B2>& target, reduction r = reduction::mean) {
    detail::check_same_kind<T, B, T2, B2>();
    return detail::loss_op<detail::fn::absolute_error, detail::fn::absolute_error_grad>::apply(pred, target, r,
                                                                                               "l1_loss");
}
/// Huber with beta 1: (pred - target)^2 / 2 below 1 in magnitude, |pred - target| - 1/2 above.
template <class T, class B, class T2, class B2>
var<T, B> smooth_l1_loss(const var<T, B>& pred, const var<T2, B2>& target, reduction r = reduction::mean) {
    detail::check_same_kind<T, B, T2, B2>();
    return detail::loss_op<detail::fn::smooth_l1_error, detail::fn::smooth_l1_error_grad>::apply(pred, target, r,
                                                                                                 "smooth_l1_loss");
}
}  // namespace ncp::autograd

#pragma once
/// Data parallelism over the rows of a batch, for the tape.
///
/// A batch is cut into a number of row blocks fixed by the caller (`row_blocks`), and the members of a thread team
/// each record the same graph on a tape of their own over a contiguous run of blocks (`row_share`). Most ops act
/// row by row and need nothing more. The few that combine rows do it block by block: batch norm's statistics and
/// the sums of its backward pass, the losses, and the gradients of the parameters are computed per block, with the
/// block's shape, and combined in block order (batch norm and the losses meet at a barrier of the team to do so;
/// parameter gradients are combined by `reduce_gradients` after the backward pass). A block's partial result is
/// the same whichever member computes it and partial results are always added in the same order, so a step gives
/// the same bits for any number of members; they depend on the number of blocks only.
///
/// A parameter's per-block gradient is held in one of two ways. Most are written to a per-block buffer during the
/// backward pass. A linear layer's weight gradient, a product dy^T x over the block's rows, is instead left as the
/// two operands (tape::add_weight_product): `reduce_gradients` computes it a group of the weight's rows at a time,
/// summing the blocks' products in block order (a GEMM accumulating into the gradient), and updates the group
/// while it is in cache. The bits are those of the per-block buffers, without writing and reading them: for the
/// predictor's weights that buffer is most of a step's memory traffic.
///
/// `row_split` is what the members share: the team, the partial results of the ops that combine rows (one buffer
/// per such op, by its position among them on the tape) and the parameters' per-block gradients (by the
/// parameter's position among the tape's parameter leaves); every member records the same ops in the same order,
/// so positions agree. Buffers are created on first use and reused: a steady training loop allocates nothing.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "ncp/parallel/thread_team.hpp"
#include "ncp/tensor/tensor.hpp"

namespace ncp::autograd {

template <class T, class Backend>
struct parameter;

namespace detail {

/// out[0, n) = the sum over blocks j in [0, blocks), in order, of part[j stride, + n).
template <class T, class Backend>
void sum_blocks(index_t blocks, index_t n, const T* part, index_t stride, T* out) {
    using kernels = ncp::detail::kernels<Backend>;
    using view = ncp::detail::view<T>;
    namespace fn = ncp::detail::fn;
    if (blocks == 1) {
        kernels::copy(n, part, out);
        return;
    }
    kernels::template map<fn::add>(1, n, T(1), T(0), out, n, view::row(part), view::row(part + stride));
    for (index_t j = 2; j < blocks; ++j)
        kernels::template map<fn::identity>(1, n, T(1), T(1), out, n, view::row(part + j * stride));
}

/// c (count x in, leading dimension in) = rows [first, first + count) of dy^T x + beta c, over `rows` rows of dy
/// (rows x out) and x (rows x in), row-major: the gradient of a weight W [out, in] with y = x W^T, or a group of
/// its rows.
template <class T, class Backend>
void weight_product(index_t first, index_t count, index_t out, index_t in, index_t rows, const T* dy, const T* x,
                    T beta, T* c) {
    ncp::detail::kernels<Backend>::gemm(true, false, count, in, rows, T(1), dy + first, out, x, in, beta, c, in);
}

}  // namespace detail

/// How a block's gradient of a parameter leaf is held after the backward pass of the member owning the block.
enum class block_source : std::uint8_t {
    zero,     ///< the loss does not depend on the parameter
    partial,  ///< in the leaf's per-block buffer (row_split::partials)
    product,  ///< the weight product dy^T x of the entry's operands, computed by reduce_gradients
};

/// Block j's gradient of a parameter leaf: its source, and for a product the block's rows of dy and x.
template <class T>
struct block_gradient {
    block_source source = block_source::zero;  ///< where it is
    const T* dy = nullptr;                     ///< product: the block's rows x out gradient of y
    const T* x = nullptr;                      ///< product: the block's rows x in input
    index_t rows = 0;                          ///< product: the block's rows
};

/// How a batch is cut: block j holds rows [begin(j), begin(j + 1)), blocks differing by at most one row.
struct row_blocks {
    index_t rows = 0;    ///< rows of the batch
    index_t blocks = 1;  ///< number of blocks, 1..rows (1 for an empty batch)

    /// First row of block j (rows for j == blocks).
    [[nodiscard]] index_t begin(index_t j) const { return j * rows / blocks; }
    /// Rows of block j.
    [[nodiscard]] index_t size(index_t j) const { return begin(j + 1) - begin(j); }
};

template <class T = float, class Backend = default_backend>
class row_split;

/// One member's part of a batch: blocks [first_block, end_block), which are rows [first_row(), + rows()). Members
/// get contiguous runs of blocks, member 0 always at least one.
template <class T = float, class Backend = default_backend>
struct row_share {
    row_split<T, Backend>* split = nullptr;  ///< what the members share
    int rank = 0;                            ///< this member
    row_blocks layout;                       ///< the batch
    index_t first_block = 0;                 ///< first block of this member
    index_t end_block = 0;                   ///< one past its last

    [[nodiscard]] index_t first_row() const { return layout.begin(first_block); }
    [[nodiscard]] index_t rows() const { return layout.begin(end_block) - first_row(); }
    /// f(j, first, rows) for each of this member's blocks j: its rows [first, first + rows) of the member's
    /// tensors.
    template <class F>
    void for_each_block(F&& f) const {
        const index_t base = first_row();
        for (index_t j = first_block; j < end_block; ++j) f(j, layout.begin(j) - base, layout.size(j));
    }
};

/// What the members of a row-split batch share; see the header comment.
template <class T, class Backend>
class row_split {
public:
    using tensor = Tensor<T, Backend>;

    /// Members are `team`'s; it must outlive this.
    explicit row_split(parallel::thread_team& team) : m_team(team) {}
    row_split(const row_split&) = delete;
    row_split& operator=(const row_split&) = delete;

    /// Number of members: those of the team's current job.
    [[nodiscard]] int members() const { return m_team.active(); }
    /// Member `rank`'s part of a batch cut as `layout`.
    [[nodiscard]] row_share<T, Backend> share(int rank, row_blocks layout) {
        if (layout.blocks < 1 || (layout.rows > 0 && layout.blocks > layout.rows))
            throw error("row split: " + std::to_string(layout.blocks) + " blocks for " + std::to_string(layout.rows) +
                        " rows");
        // ceil(rank blocks / members): runs differ by at most one block and member 0 gets one.
        const auto first = [&](index_t r) { return (r * layout.blocks + members() - 1) / members(); };
        return {this, rank, layout, first(rank), first(rank + 1)};
    }
    /// Waits for every member (the team's barrier).
    void barrier() { m_team.barrier(); }

    /// \name For ops and the tape
    /// @{

    /// The buffer of the `index`-th op combining rows on a tape: blocks x width values, row j for block j.
    T* exchange(index_t index, index_t blocks, index_t width) {
        const std::lock_guard<parallel::spin_lock> lock(m_lock);
        return sized(slot(m_exchanges, index), blocks, width);
    }
    /// Registers the `index`-th parameter leaf of a tape, p, in a batch of `blocks` blocks.
    void add_leaf(index_t index, parameter<T, Backend>& p, index_t blocks) {
        const std::lock_guard<parallel::spin_lock> lock(m_lock);
        for (index_t i = 0; i < index && i < static_cast<index_t>(m_leaves.size()); ++i)
            if (m_leaves[static_cast<std::size_t>(i)]->param == &p)
                throw error("autograd: a parameter appears twice on a row-split tape (its gradient would be split "
                            "between two leaves)");
        leaf& l = slot(m_leaves, index);
        l.param = &p;
        // The optimiser keeps the address of p.grad: resize_like keeps a buffer of the right size in place.
        p.grad.resize_like(p.value);
        if (static_cast<index_t>(l.blocks.size()) < blocks) l.blocks.resize(static_cast<std::size_t>(blocks));
    }
    /// The per-block gradient buffer of the `index`-th parameter leaf: blocks x its size values, block j in row j.
    T* partials(index_t index, index_t blocks) {
        const std::lock_guard<parallel::spin_lock> lock(m_lock);
        leaf& l = *m_leaves[static_cast<std::size_t>(index)];
        return sized(l.partials, blocks, l.param->value.size());
    }
    /// How block j's gradient of the `index`-th parameter leaf is held, from the member owning the block.
    void set_block_gradient(index_t index, index_t j, const block_gradient<T>& b) {
        const std::lock_guard<parallel::spin_lock> lock(m_lock);
        m_leaves[static_cast<std::size_t>(index)]->blocks[static_cast<std::size_t>(j)] = b;
    }
    /// Advances `counter` by n when member 0 calls finish_batch (dropout's streams: every member draws from where
    /// the batch started).
    void defer_advance(std::uint64_t& counter, std::uint64_t n) { m_advances.emplace_back(&counter, n); }
    /// @}

    /// \name For the loop driving the members
    /// @{

    /// After every member's backward pass and a barrier, on member `rank`: its share of the elements of the first
    /// `leaves` parameters of the tapes (tape::split_leaves()) becomes the sum over the layout's blocks, in block
    /// order, of their per-block gradients; then f(parameter&, begin, end) for each finished range of elements
    /// (an optimiser's update, while they are in cache). A weight whose blocks hold products is shared out in
    /// groups of product_group_rows() of its rows, fixed by its shape, so each group's sums do not depend on the
    /// members.
    template <class F>
    void reduce_gradients(int rank, index_t leaves, index_t blocks, F&& f) {
        for (index_t i = 0; i < leaves; ++i) {
            leaf& l = *m_leaves[static_cast<std::size_t>(i)];
            switch (source_of(l, blocks)) {
                case block_source::zero: reduce_zero(l, rank, f); break;
                case block_source::partial: reduce_partials(l, rank, blocks, f); break;
                case block_source::product: reduce_products(l, rank, blocks, f); break;
            }
        }
    }
    /// Rows of a weight [out, in] that reduce_gradients computes and updates together: about 4096 elements (16 KB,
    /// in the L1 cache for the update; the predictor's trunk weight is still two groups, its heads' eight).
    [[nodiscard]] static index_t product_group_rows(index_t in) { return std::max<index_t>(1, 4096 / in); }
    /// On member 0, after the barrier that follows the backward passes: applies the deferred advances.
    void finish_batch() {
        for (const auto& [counter, n] : m_advances) *counter += n;
        m_advances.clear();
    }
    /// @}

private:
    /// Elements reduce_gradients sums and updates at a time from per-block buffers.
    static constexpr index_t chunk = 2048;

    /// What the members share about one parameter leaf.
    struct leaf {
        parameter<T, Backend>* param = nullptr;       ///< the parameter
        tensor partials;                               ///< per-block gradients, blocks x its size, when written
        std::vector<block_gradient<T>> blocks;         ///< per block: how its gradient is held
    };

    /// The source of every block of `l`'s gradient: the same for all, as every member records the same graph.
    static block_source source_of(const leaf& l, index_t blocks) {
        const block_source s = l.blocks.front().source;
        for (index_t j = 1; j < blocks; ++j)
            if (l.blocks[static_cast<std::size_t>(j)].source != s)
                throw error("autograd: the members of a row-split batch recorded different graphs (a parameter's "
                            "gradient reached some blocks only)");
        return s;
    }
    /// [begin, end) of n items that member `rank` takes.
    [[nodiscard]] std::pair<index_t, index_t> part_of(index_t n, int rank) const {
        return {n * rank / members(), n * (rank + 1) / members()};
    }
    /// The member's share of a gradient the loss does not reach: zeros.
    template <class F>
    void reduce_zero(leaf& l, int rank, F& f) {
        const auto [begin, end] = part_of(l.param->value.size(), rank);
        if (begin == end) return;
        ncp::detail::kernels<Backend>::fill(end - begin, T(0), l.param->grad.data() + begin);
        f(*l.param, begin, end);
    }
    /// The member's share of the elements: the per-block buffers added in block order, a chunk at a time.
    template <class F>
    void reduce_partials(leaf& l, int rank, index_t blocks, F& f) {
        const index_t n = l.param->value.size();
        const auto [first, end] = part_of(n, rank);
        for (index_t begin = first; begin < end; begin += chunk) {
            const index_t len = std::min(chunk, end - begin);
            detail::sum_blocks<T, Backend>(blocks, len, l.partials.data() + begin, n, l.param->grad.data() + begin);
            f(*l.param, begin, begin + len);
        }
    }
    /// The member's share of a weight's row groups: each group's products over the blocks, accumulated in block
    /// order.
    template <class F>
    void reduce_products(leaf& l, int rank, index_t blocks, F& f) {
        const index_t out = l.param->value.rows(), in = l.param->value.cols();
        const index_t group = product_group_rows(in), groups = (out + group - 1) / group;
        const auto [first, end] = part_of(groups, rank);
        for (index_t g = first; g < end; ++g) {
            const index_t row = g * group, count = std::min(group, out - row);
            T* c = l.param->grad.data() + row * in;
            for (index_t j = 0; j < blocks; ++j) {
                const block_gradient<T>& b = l.blocks[static_cast<std::size_t>(j)];
                detail::weight_product<T, Backend>(row, count, out, in, b.rows, b.dy, b.x, j == 0 ? T(0) : T(1), c);
            }
            f(*l.param, row * in, (row + count) * in);
        }
    }

    /// Entry `index` of `slots`, created on first use.
    template <class S>
    static S& slot(std::vector<std::unique_ptr<S>>& slots, index_t index) {
        while (static_cast<index_t>(slots.size()) <= index) slots.push_back(std::make_unique<S>());
        return *slots[static_cast<std::size_t>(index)];
    }

    /// t resized to rows x cols (reusing its buffer when large enough), its data.
    static T* sized(tensor& t, index_t rows, index_t cols) {
        t.resize(rows, cols);
        return t.data();
    }

    parallel::thread_team& m_team;                             ///< the members
    parallel::spin_lock m_lock;                                ///< guards the slot lists while members record
    std::vector<std::unique_ptr<tensor>> m_exchanges;          ///< per op combining rows: partial results
    std::vector<std::unique_ptr<leaf>> m_leaves;               ///< per parameter leaf position
    std::vector<std::pair<std::uint64_t*, std::uint64_t>> m_advances;  ///< member 0's deferred stream advances
};

}  // namespace ncp::autograd

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
/// `row_split` is what the members share: the team, the partial results of the ops that combine rows (one buffer
/// per such op, by its position among them on the tape) and the per-block parameter gradients (by the parameter's
/// position among the tape's parameter leaves); every member records the same ops in the same order, so positions
/// agree. Buffers are created on first use and reused: a steady training loop allocates nothing.

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

}  // namespace detail

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
    /// The per-block gradients of the `index`-th parameter leaf on a tape, p: blocks x p.value.size() values.
    T* partials(index_t index, parameter<T, Backend>& p, index_t blocks) {
        const std::lock_guard<parallel::spin_lock> lock(m_lock);
        for (index_t i = 0; i < index && i < static_cast<index_t>(m_leaves.size()); ++i)
            if (m_leaves[static_cast<std::size_t>(i)] == &p)
                throw error("autograd: a parameter appears twice on a row-split tape (its gradient would be split "
                            "between two leaves)");
        if (static_cast<index_t>(m_leaves.size()) <= index) m_leaves.resize(static_cast<std::size_t>(index) + 1);
        m_leaves[static_cast<std::size_t>(index)] = &p;
        // The optimiser keeps the address of p.grad: resize_like keeps a buffer of the right size in place.
        p.grad.resize_like(p.value);
        return sized(slot(m_partials, index), blocks, p.value.size());
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
    /// (an optimiser's update, while they are in cache).
    template <class F>
    void reduce_gradients(int rank, index_t leaves, index_t blocks, F&& f) {
        constexpr index_t chunk = 2048;
        for (index_t i = 0; i < leaves; ++i) {
            parameter<T, Backend>& p = *m_leaves[static_cast<std::size_t>(i)];
            const index_t n = p.value.size();
            const T* parts = m_partials[static_cast<std::size_t>(i)]->data();
            const index_t end = n * (rank + 1) / members();
            for (index_t begin = n * rank / members(); begin < end; begin += chunk) {
                const index_t len = std::min(chunk, end - begin);
                detail::sum_blocks<T, Backend>(blocks, len, parts + begin, n, p.grad.data() + begin);
                f(p, begin, begin + len);
            }
        }
    }
    /// On member 0, after the barrier that follows the backward passes: applies the deferred advances.
    void finish_batch() {
        for (const auto& [counter, n] : m_advances) *counter += n;
        m_advances.clear();
    }
    /// @}

private:
    /// Entry `index` of `slots`, created on first use.
    static tensor& slot(std::vector<std::unique_ptr<tensor>>& slots, index_t index) {
        while (static_cast<index_t>(slots.size()) <= index) slots.push_back(std::make_unique<tensor>());
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
    std::vector<std::unique_ptr<tensor>> m_partials;           ///< per parameter leaf: per-block gradients
    std::vector<parameter<T, Backend>*> m_leaves;              ///< the parameter of each leaf position
    std::vector<std::pair<std::uint64_t*, std::uint64_t>> m_advances;  ///< member 0's deferred stream advances
};

}  // namespace ncp::autograd

#pragma once
/// The kernel interface every backend implements: the operand type of element-wise kernels and the exact list of
/// entry points, checked by the concept `ncp::backend::kernel_set`.
///
/// A backend is a tag type plus one specialisation `ncp::detail::kernels<Tag>` providing, for T = float and double:
///
/// storage (pointers are backend pointers; n counts elements)
///   static constexpr bool host_accessible;           backend pointers may be dereferenced on the host
///   T*   allocate<T>(index_t n);                     uninitialised, 64-byte aligned; null when n == 0
///   void deallocate<T>(T* p, index_t n) noexcept;
///   std::size_t allocations() noexcept;              allocate calls so far, to prove steady-state reuse
///   void copy<T>(index_t n, const T* src, T* dst);
///   void fill<T>(index_t n, T value, T* dst);
///   void to_host<T>(index_t n, const T* src, T* host);
///   void from_host<T>(index_t n, const T* host, T* dst);
/// dense algebra (row-major; leading dimensions count elements between rows)
///   void gemm<T>(bool trans_a, bool trans_b, index_t m, index_t n, index_t k, T alpha, const T* a, index_t lda,
///                const T* b, index_t ldb, T beta, T* c, index_t ldc);
///        C (m x n) = alpha op(A) op(B) + beta C, op(X) = X or X^T; beta == 0 ignores C's old contents.
/// element-wise (F is a functor of backend/functors.hpp; every operand is a `view`)
///   void map<F>(index_t rows, index_t cols, T alpha, T beta, T* out, index_t ld_out, view<T>... in);
///        out(i, j) = alpha F::apply(in(i, j)...) + beta out(i, j); beta == 0 ignores out's old contents.
///   void reduce<F>(axis over, index_t rows, index_t cols, T alpha, T beta, T* out, view<T>... in);
///        s = the sum of F::apply(in(i, j)...) over `over`; out = alpha s + beta out, where out is contiguous:
///        1 value (axis::all), cols values (axis::rows) or rows values (axis::cols).
///   void dropout<T>(index_t n, T p, std::uint64_t key, std::uint64_t counter, const T* x, T* mask, T* y);
///        mask[i] = 1 / (1 - p) where random_bits(key, counter + i) >= p 2^32, else 0 (p = 1 drops everything);
///        y[i] = x[i] mask[i].
///
/// Nothing else reaches a backend: tensors, autograd and everything above call only these.

#include <concepts>
#include <cstddef>
#include <cstdint>

#include "ncp/backend/functors.hpp"
#include "ncp/fwd.hpp"

namespace ncp {

/// The axis a reduction sums over: all elements, the rows (one result per column) or the columns (one per row).
enum class axis { all, rows, cols };

namespace detail {

/// One operand of an element-wise kernel, read at (i, j) as data[i row_stride + j col_stride], or `value` when data
/// is null. col_stride is 0 or 1: 1 reads along a row, 0 repeats one element along it (broadcasting).
template <class T>
struct view {
    const T* data = nullptr;   ///< first element, or null for a constant
    index_t row_stride = 0;    ///< elements between rows (0 repeats one row down the matrix)
    index_t col_stride = 0;    ///< 1 (a row is contiguous) or 0 (one element repeated along the row)
    T value = T(0);            ///< the constant when data is null

    /// A rows x cols matrix stored with leading dimension ld.
    static constexpr view matrix(const T* p, index_t ld) { return {p, ld, 1, T(0)}; }
    /// A row vector repeated down every row.
    static constexpr view row(const T* p) { return {p, 0, 1, T(0)}; }
    /// A column vector repeated along every row.
    static constexpr view column(const T* p) { return {p, 1, 0, T(0)}; }
    /// One backend element repeated everywhere.
    static constexpr view scalar(const T* p) { return {p, 0, 0, T(0)}; }
    /// A host value repeated everywhere.
    static constexpr view constant(T v) { return {nullptr, 0, 0, v}; }
};

}  // namespace detail

namespace backend {

/// `K` provides every kernel entry point for the value type T (see the list at the top of this header).
template <class K, class T>
concept kernel_set_for = requires(T* p, const T* cp, index_t n, T s, bool b, detail::view<T> v, std::uint64_t u) {
    { K::host_accessible } -> std::convertible_to<bool>;
    { K::template allocate<T>(n) } -> std::same_as<T*>;
    { K::template deallocate<T>(p, n) } noexcept;
    { K::allocations() } noexcept -> std::same_as<std::size_t>;
    K::template copy<T>(n, cp, p);
    K::template fill<T>(n, s, p);
    K::template to_host<T>(n, cp, p);
    K::template from_host<T>(n, cp, p);
    K::template gemm<T>(b, b, n, n, n, s, cp, n, cp, n, s, p, n);
    K::template map<detail::fn::add>(n, n, s, s, p, n, v, v);
    K::template reduce<detail::fn::mul>(axis::all, n, n, s, s, p, v, v);
    K::template dropout<T>(n, s, u, u, cp, p, p);
};

/// `K` is a complete kernel set for float and double.
template <class K>
concept kernel_set = kernel_set_for<K, float> && kernel_set_for<K, double>;

}  // namespace backend

}  // namespace ncp

#pragma once
/// The host CPU backend: GEMM through Eigen's blocked kernels on Eigen::Map, element-wise loops the compiler
/// vectorises. Single-threaded: the library never starts threads of its own.

// GCC 12 warns about the intrinsics headers' deliberately undefined AVX-512 registers inside Eigen's GEMM packing
// (GCC bug 105593, fixed in 12.3). The warning's location is in those headers, first included here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <Eigen/Core>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

#include "ncp/backend/avx512_sgemm.hpp"
#include "ncp/backend/kernel_api.hpp"

namespace ncp::detail {

template <>
struct kernels<backend::eigen_cpu> {
    /// Backend pointers are host pointers.
    static constexpr bool host_accessible = true;

    /// n uninitialised elements, 64-byte aligned (one AVX-512 vector, one cache line); null when n == 0.
    template <class T>
    static T* allocate(index_t n) {
        if (n <= 0) return nullptr;
        if (static_cast<std::size_t>(n) > static_cast<std::size_t>(PTRDIFF_MAX) / sizeof(T)) throw std::bad_alloc();
        m_allocations.fetch_add(1, std::memory_order_relaxed);
        return static_cast<T*>(::operator new(static_cast<std::size_t>(n) * sizeof(T), std::align_val_t{alignment}));
    }
    /// Frees what allocate returned.
    template <class T>
    static void deallocate(T* p, index_t) noexcept {
        if (p != nullptr) ::operator delete(p, std::align_val_t{alignment});
    }
    /// Number of allocate calls that allocated, since the program started.
    static std::size_t allocations() noexcept { return m_allocations.load(std::memory_order_relaxed); }

    /// dst[0, n) = src[0, n).
    template <class T>
    static void copy(index_t n, const T* src, T* dst) {
        if (n > 0) std::copy_n(src, n, dst);
    }
    /// dst[0, n) = value.
    template <class T>
    static void fill(index_t n, T value, T* dst) {
        if (n > 0) std::fill_n(dst, n, value);
    }
    /// Backend to host memory (the same memory here).
    template <class T>
    static void to_host(index_t n, const T* src, T* host) { copy(n, src, host); }
    /// Host memory to backend.
    template <class T>
    static void from_host(index_t n, const T* host, T* dst) { copy(n, host, dst); }

    /// Row-major C = alpha op(A) op(B) + beta C through Eigen's GEMM (GEMV when m or n is 1), without temporaries.
    template <class T>
    static void gemm(bool trans_a, bool trans_b, index_t m, index_t n, index_t k, T alpha, const T* a, index_t lda,
                     const T* b, index_t ldb, T beta, T* c, index_t ldc) {
        if (m <= 0 || n <= 0) return;
#if defined(__AVX512F__)
        // The predictor's products are small and cache-resident: a register-blocked kernel beats Eigen's packing.
        if constexpr (std::is_same_v<T, float>) {
            if (avx512_sgemm::suits(trans_b, k)) {
                avx512_sgemm::run(trans_a, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
                return;
            }
        }
#endif
        using matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
        using stride = Eigen::OuterStride<>;
        Eigen::Map<matrix, Eigen::Unaligned, stride> cm(c, m, n, stride(ldc));
        if (beta == T(0)) {
            cm.setZero();
        } else if (beta != T(1)) {
            cm *= beta;
        }
        if (k <= 0) return;
        const Eigen::Map<const matrix, Eigen::Unaligned, stride> am(a, trans_a ? k : m, trans_a ? m : k, stride(lda));
        const Eigen::Map<const matrix, Eigen::Unaligned, stride> bm(b, trans_b ? n : k, trans_b ? k : n, stride(ldb));
        if (trans_a) {
            if (trans_b) {
                cm.noalias() += alpha * am.transpose() * bm.transpose();
            } else {
                cm.noalias() += alpha * am.transpose() * bm;
            }
        } else if (trans_b) {
            cm.noalias() += alpha * am * bm.transpose();
        } else {
            cm.noalias() += alpha * am * bm;
        }
    }

    /// out(i, j) = alpha F(in(i, j)...) + beta out(i, j).
    template <class F, class T, class... V>
        requires(std::same_as<V, view<T>> && ...)
    static void map(index_t rows, index_t cols, T alpha, T beta, T* out, index_t ld_out, const V&... in) {
        if (rows <= 0 || cols <= 0) return;
        if (ld_out == cols && (flattens(in, cols) && ...)) {
            cols *= rows;
            rows = 1;
        }
        operands<T, sizeof...(V)> ops(cols, in...);
        for (index_t j0 = 0; j0 < cols; j0 += chunk<T>) {
            const index_t w = std::min(chunk<T>, cols - j0);
            for (index_t i = 0; i < rows; ++i) {
                ops.start_row(i, j0, w, in...);
                map_span<F>(w, alpha, beta, out + i * ld_out + j0, ops, std::index_sequence_for<V...>{});
            }
        }
    }

    /// out = alpha (sum of F(in(i, j)...) over `over`) + beta out.
    template <class F, class T, class... V>
        requires(std::same_as<V, view<T>> && ...)
    static void reduce(axis over, index_t rows, index_t cols, T alpha, T beta, T* out, const V&... in) {
        const index_t outputs = over == axis::all ? 1 : (over == axis::rows ? cols : rows);
        if (outputs <= 0) return;
        if (rows <= 0 || cols <= 0) {
            for (index_t i = 0; i < outputs; ++i) out[i] = beta == T(0) ? T(0) : beta * out[i];
            return;
        }
        const auto store = [&](index_t i, T s) { out[i] = beta == T(0) ? alpha * s : alpha * s + beta * out[i]; };
        if (over == axis::all && (flattens(in, cols) && ...)) {
            cols *= rows;
            rows = 1;
        }
        operands<T, sizeof...(V)> ops(cols, in...);
        if (over == axis::rows) {
            alignas(alignment) std::array<T, chunk<T>> acc;
            for (index_t j0 = 0; j0 < cols; j0 += chunk<T>) {
                const index_t w = std::min(chunk<T>, cols - j0);
                std::fill_n(acc.data(), w, T(0));
                for (index_t i = 0; i < rows; ++i) {
                    ops.start_row(i, j0, w, in...);
                    accumulate_span<F>(w, acc.data(), ops, std::index_sequence_for<V...>{});
                }
                for (index_t j = 0; j < w; ++j) store(j0 + j, acc[j]);
            }
            return;
        }
        T total = T(0);
        for (index_t i = 0; i < rows; ++i) {
            T row_total = T(0);
            for (index_t j0 = 0; j0 < cols; j0 += chunk<T>) {
                const index_t w = std::min(chunk<T>, cols - j0);
                ops.start_row(i, j0, w, in...);
                row_total += sum_span<F>(w, ops, std::index_sequence_for<V...>{});
            }
            if (over == axis::cols) {
                store(i, row_total);
            } else {
                total += row_total;
            }
        }
        if (over == axis::all) store(0, total);
    }

    /// Inverted dropout with the counter-based stream (key, counter): mask = 0 or 1 / (1 - p), y = x mask.
    template <class T>
    static void dropout(index_t n, T p, std::uint64_t key, std::uint64_t counter, const T* x, T* mask, T* y) {
        const T scale = p < T(1) ? T(1) / (T(1) - p) : T(0);
        const auto threshold = static_cast<std::uint64_t>(static_cast<double>(p) * 4294967296.0);
        for (index_t i = 0; i < n; ++i) {
            const bool keep = random_bits(key, counter + static_cast<std::uint64_t>(i)) >= threshold;
            mask[i] = keep ? scale : T(0);
            y[i] = x[i] * mask[i];
        }
    }

private:
    static constexpr std::size_t alignment = 64;
    /// Columns processed per step: operand rows broadcast along a row are expanded into buffers of this length.
    template <class T>
    static constexpr index_t chunk = 1024 / sizeof(T);

    inline static std::atomic<std::size_t> m_allocations{0};

    /// Whether an operand can be read as one long row when the matrix is contiguous.
    template <class T>
    static bool flattens(const view<T>& v, index_t cols) {
        return v.data == nullptr || (v.col_stride == 1 && v.row_stride == cols) ||
               (v.col_stride == 0 && v.row_stride == 0);
    }

    /// Contiguous pointers to the current chunk of every operand; broadcast operands are expanded into buffers.
    template <class T, std::size_t N>
    struct operands {
        std::array<const T*, N> ptr;
        alignas(alignment) std::array<std::array<T, chunk<T>>, N> buffer;

        /// Expands the operands that are one value for the whole matrix, once.
        template <class... V>
        explicit operands(index_t cols, const V&... in) {
            std::size_t k = 0;
            ((expand_constant(k++, std::min(cols, chunk<T>), in)), ...);
        }
        /// Per row: point at the row of dense operands, expand column-broadcast ones.
        template <class... V>
        void start_row(index_t i, index_t j0, index_t w, const V&... in) {
            std::size_t k = 0;
            ((point_at_row(k++, i, j0, w, in)), ...);
        }

    private:
        void expand_constant(std::size_t k, index_t w, const view<T>& v) {
            if (v.data == nullptr || (v.col_stride == 0 && v.row_stride == 0)) {
                std::fill_n(buffer[k].data(), w, v.data == nullptr ? v.value : *v.data);
                ptr[k] = buffer[k].data();
            }
        }
        void point_at_row(std::size_t k, index_t i, index_t j0, index_t w, const view<T>& v) {
            if (v.data == nullptr) return;
            if (v.col_stride != 0) {
                ptr[k] = v.data + i * v.row_stride + j0;
            } else if (v.row_stride != 0) {
                std::fill_n(buffer[k].data(), w, v.data[i * v.row_stride]);
                ptr[k] = buffer[k].data();
            }
        }
    };

    template <class F, class T, std::size_t N, std::size_t... K>
    static void map_span(index_t n, T alpha, T beta, T* out, const operands<T, N>& ops, std::index_sequence<K...>) {
        apply_span<F>(n, alpha, beta, out, ops.ptr[K]...);
    }
    template <class F, class T, class... P>
    static void apply_span(index_t n, T alpha, T beta, T* out, const P*... p) {
        if (beta == T(0)) {
            for (index_t j = 0; j < n; ++j) out[j] = alpha * F::apply(p[j]...);
        } else {
            for (index_t j = 0; j < n; ++j) out[j] = alpha * F::apply(p[j]...) + beta * out[j];
        }
    }

    template <class F, class T, std::size_t N, std::size_t... K>
    static void accumulate_span(index_t n, T* acc, const operands<T, N>& ops, std::index_sequence<K...>) {
        add_span<F>(n, acc, ops.ptr[K]...);
    }
    template <class F, class T, class... P>
    static void add_span(index_t n, T* acc, const P*... p) {
        for (index_t j = 0; j < n; ++j) acc[j] += F::apply(p[j]...);
    }

    template <class F, class T, std::size_t N, std::size_t... K>
    static T sum_span(index_t n, const operands<T, N>& ops, std::index_sequence<K...>) {
        return lane_sum<F, T>(n, ops.ptr[K]...);
    }
    /// Sum with independent lanes (two 512-bit vectors wide), then a pairwise combine: vectorises without
    /// -ffast-math and loses less precision than one running sum.
    template <class F, class T, class... P>
    static T lane_sum(index_t n, const P*... p) {
        constexpr index_t lanes = 128 / sizeof(T);
        alignas(alignment) std::array<T, lanes> acc{};
        const index_t body = n - n % lanes;
        for (index_t j = 0; j < body; j += lanes) {
            for (index_t l = 0; l < lanes; ++l) acc[l] += F::apply(p[j + l]...);
        }
        T tail = T(0);
        for (index_t l = 0; l < n % lanes; ++l) tail += F::apply(p[body + l]...);
        for (index_t half = lanes / 2; half > 0; half /= 2) {
            for (index_t l = 0; l < half; ++l) acc[l] += acc[l + half];
        }
        return acc[0] + tail;
    }
};

static_assert(backend::kernel_set<kernels<backend::eigen_cpu>>);

}  // namespace ncp::detail

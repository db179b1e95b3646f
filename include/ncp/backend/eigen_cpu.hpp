#pragma once
/// The host CPU backend: GEMM through Eigen's blocked kernels on Eigen::Map, or, where the build targets AVX-512,
/// through ncp's register-blocked float kernel (avx512_sgemm.hpp) and AVX-512 vector-times-matrix loops;
/// element-wise loops the compiler vectorises. Every kernel runs on the calling thread; the layers above
/// parallelise across calls (training, prediction and search share work out over a parallel::thread_team).

// GCC 12 warns about the intrinsics headers' deliberately undefined AVX-512 registers inside Eigen's GEMM packing
// (GCC bug 105593, fixed in 12.3). The warning's location is in those headers, first included here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
// nvcc compiles this header too, in translation units that use the cuBLAS backend. Eigen runs on the host only: keep
// nvcc from marking its functions __device__, and quiet nvcc's front end about Eigen's sign conversions and unused
// variables.
#if defined(__CUDACC__)
#ifndef EIGEN_NO_CUDA
#define EIGEN_NO_CUDA
#endif
#pragma nv_diag_suppress 68, 177
#endif
#include <Eigen/Core>
#if defined(__CUDACC__)
#pragma nv_diag_default 68, 177
#endif
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "ncp/backend/avx512_sgemm.hpp"
#include "ncp/backend/kernel_api.hpp"

namespace ncp::detail {

#if defined(__AVX512F__)
namespace avx512 {

/// The AVX-512 operations vector_products needs, for float and for double.
struct f32 {
    using value = float;
    using vec = __m512;
    static constexpr index_t lanes = 16;
    /// Lanes [0, count) set (none for count <= 0).
    static __mmask16 first(index_t count) {
        return count >= 16 ? __mmask16(0xffff) : (count <= 0 ? __mmask16(0) : __mmask16((1u << count) - 1u));
    }
    static vec zero() { return _mm512_setzero_ps(); }
    static vec broadcast(float v) { return _mm512_set1_ps(v); }
    /// Elements [0, count) of p and zeros beyond; the masked-off memory is not read.
    static vec load(const float* p, index_t count) { return _mm512_maskz_loadu_ps(first(count), p); }
    static vec load(const float* p) { return _mm512_loadu_ps(p); }
    static void store(float* p, vec v, index_t count) { _mm512_mask_storeu_ps(p, first(count), v); }
    static vec fma(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
    static vec add(vec a, vec b) { return _mm512_add_ps(a, b); }
    static float sum(vec v) { return _mm512_reduce_add_ps(v); }
};
struct f64 {
    using value = double;
    using vec = __m512d;
    static constexpr index_t lanes = 8;
    static __mmask8 first(index_t count) {
        return count >= 8 ? __mmask8(0xff) : (count <= 0 ? __mmask8(0) : __mmask8((1u << count) - 1u));
    }
    static vec zero() { return _mm512_setzero_pd(); }
    static vec broadcast(double v) { return _mm512_set1_pd(v); }
    static vec load(const double* p, index_t count) { return _mm512_maskz_loadu_pd(first(count), p); }
    static vec load(const double* p) { return _mm512_loadu_pd(p); }
    static void store(double* p, vec v, index_t count) { _mm512_mask_storeu_pd(p, first(count), v); }
    static vec fma(vec a, vec b, vec c) { return _mm512_fmadd_pd(a, b, c); }
    static vec add(vec a, vec b) { return _mm512_add_pd(a, b); }
    static double sum(vec v) { return _mm512_reduce_add_pd(v); }
};

/// y = alpha x M + beta y for a contiguous vector x of k elements: the batch-1 products that are most of an NCP
/// step. Eigen's GEMV finishes rows that are not a multiple of the vector width (the predictor's 27 inputs) with
/// scalar code and reads slower than these loops; full vectors use plain loads, only the last partial one a mask.
template <class S>
struct vector_products {
    using T = typename S::value;
    using vec = typename S::vec;
    static constexpr index_t lanes = S::lanes;

    /// rows: y[j] = alpha sum_l x[l] M[l ld + j] + beta y[j] (M is k x n); otherwise dots:
    /// y[j] = alpha sum_l x[l] M[j ld + l] + beta y[j] (M is n x k). beta == 0 ignores y's old contents.
    static void run(bool rows, index_t n, index_t k, T alpha, const T* x, const T* mat, index_t ld, T beta, T* y) {
        if (!rows) {
            const index_t blocks = n - n % 4;
            for (index_t j = 0; j < blocks; j += 4) dot_block<4>(j, k, alpha, x, mat, ld, beta, y);
            for (index_t r = 0; r < n % 4; ++r) dot_block<1>(blocks + r, k, alpha, x, mat, ld, beta, y);
        } else if (n > 4 * lanes) {
            combine_rows<8>(n, k, alpha, x, mat, ld, beta, y);
        } else if (n > 2 * lanes) {
            combine_rows<4>(n, k, alpha, x, mat, ld, beta, y);
        } else if (n > lanes) {
            combine_rows<2>(n, k, alpha, x, mat, ld, beta, y);
        } else {
            combine_rows<1>(n, k, alpha, x, mat, ld, beta, y);
        }
    }

private:
    /// Elements [0, count) of p; with Partial, zeros from `count` on (the masked-off memory is not read).
    template <bool Partial>
    static vec load(const T* p, index_t count) {
        return Partial ? S::load(p, count) : S::load(p);
    }

    /// Columns in blocks of V vectors held in registers while the rows of M stream past; even and odd rows feed
    /// separate accumulators so that narrow blocks do not wait on FMA latency.
    template <int V>
    static void combine_rows(index_t n, index_t k, T alpha, const T* x, const T* mat, index_t ld, T beta, T* y) {
        for (index_t j0 = 0; j0 < n; j0 += V * lanes) {
            const index_t width = std::min(V * lanes, n - j0);
            if (width == V * lanes) {
                combine_block<V, false>(width, k, alpha, x, mat + j0, ld, beta, y + j0);
            } else {
                combine_block<V, true>(width, k, alpha, x, mat + j0, ld, beta, y + j0);
            }
        }
    }
    template <int V, bool Partial>
    static void combine_block(index_t width, index_t k, T alpha, const T* x, const T* mat, index_t ld, T beta, T* y) {
        vec even[V], odd[V];
        for (int v = 0; v < V; ++v) even[v] = odd[v] = S::zero();
        const index_t pairs = k / 2;
        for (index_t p = 0; p < pairs; ++p) {
            const vec x0 = S::broadcast(x[2 * p]);
            const vec x1 = S::broadcast(x[2 * p + 1]);
            const T* row = mat + 2 * p * ld;
            for (int v = 0; v < V; ++v) {
                even[v] = S::fma(x0, load<Partial>(row + v * lanes, width - v * lanes), even[v]);
                odd[v] = S::fma(x1, load<Partial>(row + ld + v * lanes, width - v * lanes), odd[v]);
            }
        }
        if (k % 2 != 0) {
            const vec x0 = S::broadcast(x[k - 1]);
            const T* row = mat + (k - 1) * ld;
            for (int v = 0; v < V; ++v)
                even[v] = S::fma(x0, load<Partial>(row + v * lanes, width - v * lanes), even[v]);
        }
        for (int v = 0; v < V && v * lanes < width; ++v) {
            const index_t count = width - v * lanes;
            const vec old =
                beta == T(0) ? S::zero() : S::fma(S::broadcast(beta), S::load(y + v * lanes, count), S::zero());
            S::store(y + v * lanes, S::fma(S::broadcast(alpha), S::add(even[v], odd[v]), old), count);
        }
    }

    /// R (4 or 1) dot products at a time, each over the whole of x (R rows of M stream together).
    template <int R>
    static void dot_block(index_t j, index_t k, T alpha, const T* x, const T* mat, index_t ld, T beta, T* y) {
        vec acc[R];
        for (int r = 0; r < R; ++r) acc[r] = S::zero();
        const index_t full = k - k % lanes;
        for (index_t l = 0; l < full; l += lanes) {
            const vec xv = S::load(x + l);
            for (int r = 0; r < R; ++r) acc[r] = S::fma(S::load(mat + (j + r) * ld + l), xv, acc[r]);
        }
        if (full < k) {
            const vec xv = S::load(x + full, k - full);
            for (int r = 0; r < R; ++r) acc[r] = S::fma(S::load(mat + (j + r) * ld + full, k - full), xv, acc[r]);
        }
        for (int r = 0; r < R; ++r) {
            y[j + r] = beta == T(0) ? alpha * S::sum(acc[r]) : alpha * S::sum(acc[r]) + beta * y[j + r];
        }
    }
};

}  // namespace avx512
#endif

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

    /// Row-major C = alpha op(A) op(B) + beta C. With AVX-512: avx512::vector_products when m or n is 1, and
    /// avx512_sgemm for float products of either layout. Otherwise Eigen's GEMM without temporaries, and loop_gemm
    /// when m or n is 1 or the product has fewer than 20 rows, columns and depth together. A row of C then never
    /// depends on where the operands lie in memory (see loop_gemm).
    template <class T>
    static void gemm(bool trans_a, bool trans_b, index_t m, index_t n, index_t k, T alpha, const T* a, index_t lda,
                     const T* b, index_t ldb, T beta, T* c, index_t ldc) {
        if (m <= 0 || n <= 0) return;
#if defined(__AVX512F__)
        // A vector times a matrix (batch 1): see avx512::vector_products.
        if (m == 1 && (!trans_a || lda == 1)) {
            vector_products<T>::run(!trans_b, n, k, alpha, a, b, ldb, beta, c);
            return;
        }
        if (n == 1 && ldc == 1 && (trans_b || ldb == 1)) {
            vector_products<T>::run(trans_a, m, k, alpha, b, a, lda, beta, c);
            return;
        }
        // The predictor's products are small and cache-resident: a register-blocked kernel beats Eigen's packing.
        if constexpr (std::is_same_v<T, float>) {
            if (avx512_sgemm::suits(k)) {
                avx512_sgemm::run(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
                return;
            }
        }
#endif
        if (m == 1 || n == 1 || m + n + k < 20) {
            loop_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            return;
        }
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
        // A scaled operand would make Eigen's GEMV path copy it into a temporary: scale only when alpha != 1.
        const auto product = [&](const auto& lhs, const auto& rhs) {
            if (alpha == T(1)) {
                cm.noalias() += lhs * rhs;
            } else {
                cm.noalias() += alpha * lhs * rhs;
            }
        };
        if (trans_a) {
            if (trans_b) {
                product(am.transpose(), bm.transpose());
            } else {
                product(am.transpose(), bm);
            }
        } else if (trans_b) {
            product(am, bm.transpose());
        } else {
            product(am, bm);
        }
    }

    /// out(i, j) = alpha F(in(i, j)...) + beta out(i, j).
    template <class F, class T, class... V>
        requires(std::same_as<V, view<T>> && ...)
    static void map(index_t rows, index_t cols, T alpha, T beta, T* out, index_t ld_out, const V&... in) {
        if (rows <= 0 || cols <= 0) return;
        if (ld_out == cols && (in.flattens(cols) && ...)) {
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

    /// out = alpha (sum of F(in(i, j)...) over `over`) + beta out. Kept out of line: inlined into the row split's
    /// per-block loops, GCC vectorised the sums over rows across rows, with gathers (batch norm's backward pass took
    /// twice as long).
    template <class F, class T, class... V>
        requires(std::same_as<V, view<T>> && ...)
    [[gnu::noinline]] static void reduce(axis over, index_t rows, index_t cols, T alpha, T beta, T* out,
                                         const V&... in) {
        const index_t outputs = over == axis::all ? 1 : (over == axis::rows ? cols : rows);
        if (outputs <= 0) return;
        if (rows <= 0 || cols <= 0) {
            for (index_t i = 0; i < outputs; ++i) out[i] = beta == T(0) ? T(0) : beta * out[i];
            return;
        }
        const auto store = [&](index_t i, T s) { out[i] = beta == T(0) ? alpha * s : alpha * s + beta * out[i]; };
        if (over == axis::all && (in.flattens(cols) && ...)) {
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
        // keep <=> bits >= p 2^32, i.e. bits >= ceil(p 2^32) (exact in double for float and double p).
        const double threshold = std::ceil(static_cast<double>(p) * 4294967296.0);
        if (threshold >= 4294967296.0) {
            fill(n, T(0), mask);
            fill(n, T(0), y);
            return;
        }
        const auto limit = static_cast<std::uint32_t>(threshold);
        const T scale = T(1) / (T(1) - p);
        for (index_t i = 0; i < n;) {
            // One block of the stream at a time: the counter's high word is constant inside it.
            const std::uint64_t at = counter + static_cast<std::uint64_t>(i);
            const auto low = static_cast<std::uint32_t>(at);
            const index_t block_left = static_cast<index_t>(std::min<std::uint64_t>(
                std::uint64_t{0x100000000} - low, static_cast<std::uint64_t>(n - i)));
            const random_block bits(key, static_cast<std::uint32_t>(at >> 32));
            for (index_t j = 0; j < block_left; ++j) {
                const bool keep = bits(low + static_cast<std::uint32_t>(j)) >= limit;
                mask[i + j] = math::select(keep, scale, T(0));
                y[i + j] = x[i + j] * mask[i + j];
            }
            i += block_left;
        }
    }

private:
    static constexpr std::size_t alignment = 64;

    /// gemm by loops, for the products Eigen evaluates as GEMVs (m or n of 1) or coefficient by coefficient (fewer
    /// than 20 rows, columns and depth together): both vectorise with a scalar head as long as the operands' first
    /// aligned element, so a row's bits would depend on its address, and the row-split training (autograd's
    /// row_split) needs a block's results to be the same in any member's buffer. Here each element of C is a sum
    /// over k in an order fixed by k alone: in order, vectorised across a row of C, when B is not transposed; in 16
    /// lanes along k (as lane_sum) when it is.
    template <class T>
    static void loop_gemm(bool trans_a, bool trans_b, index_t m, index_t n, index_t k, T alpha, const T* a,
                          index_t lda, const T* b, index_t ldb, T beta, T* c, index_t ldc) {
        const auto a_at = [&](index_t i, index_t p) { return trans_a ? a[p * lda + i] : a[i * lda + p]; };
        const auto store = [&](T& out, T s) { out = beta == T(0) ? alpha * s : alpha * s + beta * out; };
        if (!trans_b) {
            alignas(alignment) std::array<T, chunk<T>> acc;
            for (index_t i = 0; i < m; ++i)
                for (index_t j0 = 0; j0 < n; j0 += chunk<T>) {
                    const index_t w = std::min(chunk<T>, n - j0);
                    std::fill_n(acc.data(), w, T(0));
                    for (index_t p = 0; p < k; ++p) {
                        const T x = a_at(i, p);
                        const T* row = b + p * ldb + j0;
                        for (index_t j = 0; j < w; ++j) acc[j] += x * row[j];
                    }
                    for (index_t j = 0; j < w; ++j) store(c[i * ldc + j0 + j], acc[j]);
                }
            return;
        }
        constexpr index_t lanes = 16;
        const index_t body = k - k % lanes;
        for (index_t i = 0; i < m; ++i)
            for (index_t j = 0; j < n; ++j) {
                const T* row = b + j * ldb;
                std::array<T, lanes> acc{};
                for (index_t p = 0; p < body; p += lanes)
                    for (index_t l = 0; l < lanes; ++l) acc[l] += a_at(i, p + l) * row[p + l];
                T tail = T(0);
                for (index_t p = body; p < k; ++p) tail += a_at(i, p) * row[p];
                for (index_t half = lanes / 2; half > 0; half /= 2)
                    for (index_t l = 0; l < half; ++l) acc[l] += acc[l + half];
                store(c[i * ldc + j], acc[0] + tail);
            }
    }
    /// Columns processed per step: operand rows broadcast along a row are expanded into buffers of this length.
    template <class T>
    static constexpr index_t chunk = 1024 / sizeof(T);

    inline static std::atomic<std::size_t> m_allocations{0};
#if defined(__AVX512F__)
    template <class T>
    using vector_products =
        avx512::vector_products<std::conditional_t<std::is_same_v<T, float>, avx512::f32, avx512::f64>>;
#endif

    /// Contiguous pointers to the current chunk of every operand; broadcast operands are expanded into buffers.
    template <class T, std::size_t N>
    struct operands {
        std::array<const T*, N> ptr{};
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

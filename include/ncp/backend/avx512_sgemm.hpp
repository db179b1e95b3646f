#pragma once
/// Single-precision GEMM with AVX-512 register blocking, for the small cache-resident products of the predictor
/// (m, n, k of a few hundred). Eigen's general GEMM packs both operands on every call and reaches about two thirds
/// of a core's FMA peak on these shapes; an 8 x 32 block held in 16 accumulators, reading B's rows in place,
/// reaches over 90%. A transposed B (x W^T, the forward pass of a linear layer) is first copied, 32 of its rows at
/// a time, into a k x 32 panel by 16 x 16 register transposes: k n moves against m k n multiply-adds, so a few
/// percent at the predictor's 64-row blocks. Every element of C is its sum over k in order, whatever the layout.
/// Compiled in only where the compiler targets AVX-512 (-march=native on such a CPU); elsewhere `suits` is false
/// and callers keep their general GEMM.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "ncp/fwd.hpp"

// GCC 12 warns about the deliberately undefined registers inside the shuffle intrinsics (GCC bug 105593, fixed in
// 12.3). The warning's location is in the intrinsics headers: silenced where they are first included.
#if defined(__AVX512F__)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

// GCC's unroll pragma; CUDA's front end, which also reads host code in .cu files, does not know it and warns.
#if defined(__CUDACC__)
#define NCP_UNROLL_8
#define NCP_UNROLL_16
#else
#define NCP_UNROLL_8 _Pragma("GCC unroll 8")
#define NCP_UNROLL_16 _Pragma("GCC unroll 16")
#endif

namespace ncp::detail {

struct avx512_sgemm {
#if defined(__AVX512F__)
    static constexpr bool available = true;
#else
    static constexpr bool available = false;
#endif
    /// Largest inner dimension handled: a 32-column strip of B (k x 32 floats) then still fits the L2 cache.
    static constexpr index_t max_k = 2048;

    /// Whether run() handles a product of inner dimension k: small enough that a block's strip of B stays
    /// cache-resident (beyond that a packing GEMM is faster).
    static constexpr bool suits(index_t k) { return available && k <= max_k; }

#if defined(__AVX512F__)
    /// Row-major C (m x n) = alpha op(A) op(B) + beta C, op(A) = A (m x k, leading dimension lda) or A^T (A stored
    /// k x m), op(B) = B (k x n) or B^T (B stored n x k). beta == 0 ignores C's old contents. Needs suits(k).
    static void run(bool trans_a, bool trans_b, index_t m, index_t n, index_t k, float alpha, const float* a,
                    index_t lda, const float* b, index_t ldb, float beta, float* c, index_t ldc) {
        if (trans_a) {
            blocks<true>(trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        } else if (trans_b && n <= max_narrow) {
            narrow(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        } else {
            blocks<false>(trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        }
    }

private:
    static constexpr index_t mr = 8;   ///< rows per block: 8 broadcasts of A per step of k
    static constexpr index_t nr = 32;  ///< columns per block: two 16-float vectors of B per step of k
    /// Widest A B^T computed by `narrow`: a strip of 32 columns would leave most lanes idle (a linear layer with
    /// one or two outputs, the predictor's heads).
    static constexpr index_t max_narrow = 8;

    /// The lanes of a 16-float vector that lie within `width` columns.
    static __mmask16 lanes(index_t width) {
        return width >= 16 ? __mmask16(0xFFFF) : width <= 0 ? __mmask16(0) : __mmask16((1u << width) - 1u);
    }

    // Kept out of line: inlined into a caller with many live values, the eight row addresses of A spill.
    template <bool TransA>
    [[gnu::noinline]] static void blocks(bool trans_b, index_t m, index_t n, index_t k, float alpha, const float* a,
                                         index_t lda, const float* b, index_t ldb, float beta, float* c,
                                         index_t ldc) {
        // The panel of a transposed B; grown once per thread, then reused.
        thread_local std::vector<float> panel;
        if (trans_b && panel.size() < static_cast<std::size_t>(k * nr)) panel.resize(static_cast<std::size_t>(k * nr));
        // Column strips outside, row blocks inside: a strip of B is read by every row block while cache-hot.
        for (index_t j = 0; j < n; j += nr) {
            const __mmask16 m0 = lanes(n - j);
            const __mmask16 m1 = lanes(n - j - 16);
            const float* strip = b + j;
            index_t ld = ldb;
            if (trans_b) {
                pack_transposed(std::min(nr, n - j), k, b + j * ldb, ldb, panel.data());
                strip = panel.data();
                ld = nr;
            }
            float* cj = c + j;
            index_t i = 0;
            for (; i + mr <= m; i += mr) block<TransA, mr>(i, k, alpha, a, lda, strip, ld, beta, cj, ldc, m0, m1);
            switch (m - i) {
                case 7: block<TransA, 7>(i, k, alpha, a, lda, strip, ld, beta, cj, ldc, m0, m1); break;
                case 6: block<TransA, 6>(i, k, alpha, a, lda, strip, ld, beta, cj, ldc, m0, m1); break;
                case 5: block<TransA, 5>(i, k, alpha, a, lda, strip, ld, beta, cj, ldc, m0, m1); break;
                case 4: block<TransA, 4>(i, k, alpha, a, lda, strip, ld, beta, cj, ldc, m0, m1); break;
                case 3: block<TransA, 3>(i, k, alpha, a, lda, strip, ld, beta, cj, ldc, m0, m1); break;
                case 2: block<TransA, 2>(i, k, alpha, a, lda, strip, ld, beta, cj, ldc, m0, m1); break;
                case 1: block<TransA, 1>(i, k, alpha, a, lda, strip, ld, beta, cj, ldc, m0, m1); break;
                default: break;
            }
        }
    }

    /// C = alpha A B^T + beta C for n <= max_narrow columns, vectorised over 16 rows of C: each 16 x 16 tile of A
    /// is transposed in registers, and column j of the rows' C is summed over k in order, the same sums as block's.
    [[gnu::noinline]] static void narrow(index_t m, index_t n, index_t k, float alpha, const float* a, index_t lda,
                                         const float* b, index_t ldb, float beta, float* c, index_t ldc) {
        switch (n) {
            case 1: narrow_columns<1>(m, k, alpha, a, lda, b, ldb, beta, c, ldc); break;
            case 2: narrow_columns<2>(m, k, alpha, a, lda, b, ldb, beta, c, ldc); break;
            case 3: narrow_columns<3>(m, k, alpha, a, lda, b, ldb, beta, c, ldc); break;
            case 4: narrow_columns<4>(m, k, alpha, a, lda, b, ldb, beta, c, ldc); break;
            case 5: narrow_columns<5>(m, k, alpha, a, lda, b, ldb, beta, c, ldc); break;
            case 6: narrow_columns<6>(m, k, alpha, a, lda, b, ldb, beta, c, ldc); break;
            case 7: narrow_columns<7>(m, k, alpha, a, lda, b, ldb, beta, c, ldc); break;
            case 8: narrow_columns<8>(m, k, alpha, a, lda, b, ldb, beta, c, ldc); break;
            default: break;
        }
    }

    /// narrow() for N columns.
    template <int N>
    static void narrow_columns(index_t m, index_t k, float alpha, const float* a, index_t lda, const float* b,
                               index_t ldb, float beta, float* c, index_t ldc) {
        for (index_t i = 0; i < m; i += 16) {
            const index_t rows = std::min<index_t>(16, m - i);
            __m512 acc[N];
            for (int j = 0; j < N; ++j) acc[j] = _mm512_setzero_ps();
            for (index_t p = 0; p < k; p += 16) {
                __m512 t[16];
                load_transposed(a + i * lda + p, lda, rows, k - p, t);  // t[q] = column p + q of the rows
                const index_t steps = std::min<index_t>(16, k - p);
                for (index_t q = 0; q < steps; ++q)
                    for (int j = 0; j < N; ++j)
                        acc[j] = _mm512_fmadd_ps(t[q], _mm512_set1_ps(b[j * ldb + p + q]), acc[j]);
            }
            alignas(64) float out[N][16];
            for (int j = 0; j < N; ++j) _mm512_store_ps(out[j], _mm512_mul_ps(_mm512_set1_ps(alpha), acc[j]));
            for (index_t r = 0; r < rows; ++r)
                for (int j = 0; j < N; ++j) {
                    float& cij = c[(i + r) * ldc + j];
                    cij = beta != 0.0f ? std::fma(beta, cij, out[j][r]) : out[j][r];
                }
        }
    }

    /// panel (k x 32, row-major) = the transpose of `rows` <= 32 rows of k values (leading dimension ld) at b, in
    /// 16 x 16 tiles; panel columns from `rows` on are left as they are (the block's masks never read them).
    static void pack_transposed(index_t rows, index_t k, const float* b, index_t ld, float* panel) {
        for (index_t g = 0; g < rows; g += 16) {
            const index_t tile_rows = std::min<index_t>(16, rows - g);
            for (index_t p = 0; p < k; p += 16) {
                __m512 t[16];
                load_transposed(b + g * ld + p, ld, tile_rows, k - p, t);
                const index_t out_rows = std::min<index_t>(16, k - p);
                for (index_t q = 0; q < out_rows; ++q) _mm512_storeu_ps(panel + (p + q) * nr + g, t[q]);
            }
        }
    }

    /// t[q] = column q of the `rows` <= 16 rows of up to 16 values at src (leading dimension ld, `width` of them
    /// valid): a 16 x 16 tile loaded and transposed, zeros outside it.
    static void load_transposed(const float* src, index_t ld, index_t rows, index_t width, __m512 (&t)[16]) {
        const __mmask16 along = lanes(width);
NCP_UNROLL_16
        for (int r = 0; r < 16; ++r) t[r] = r < rows ? _mm512_maskz_loadu_ps(along, src + r * ld) : _mm512_setzero_ps();
        transpose_16x16(t);
    }

    /// Transposes the 16 x 16 matrix whose rows are r[0..16), in registers: pairs of rows interleaved as 32-, 64-
    /// and 128-bit units, then the 128-bit lanes gathered.
    static void transpose_16x16(__m512 (&r)[16]) {
        __m512 t[16];
        for (int i = 0; i < 16; i += 2) {
            t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
            t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
        }
        for (int i = 0; i < 16; i += 4) {
            r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
            r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
            r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
            r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
        }
        for (int h = 0; h < 16; h += 8)
            for (int i = 0; i < 4; ++i) {
                t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
                t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xDD);
            }
        for (int i = 0; i < 8; ++i) {
            r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
            r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
        }
    }

    /// Rows [i, i + R) of C and 32 (masked) columns, from the k x 32 strip of op(B) (leading dimension ldb) and C's
    /// matching columns at c: the whole sum over k in registers, then one store.
    template <bool TransA, int R>
    static void block(index_t i, index_t k, float alpha, const float* a, index_t lda, const float* strip,
                      index_t ldb, float beta, float* c, index_t ldc, __mmask16 m0, __mmask16 m1) {
        // Fully unrolled loops over r let the compiler keep acc0/acc1 in registers instead of spilling them.
        __m512 acc0[R], acc1[R];
NCP_UNROLL_8
        for (int r = 0; r < R; ++r) {
            acc0[r] = _mm512_setzero_ps();
            acc1[r] = _mm512_setzero_ps();
        }
        const float* bp = strip;
        for (index_t p = 0; p < k; ++p, bp += ldb) {
            const __m512 b0 = _mm512_maskz_loadu_ps(m0, bp);
            const __m512 b1 = _mm512_maskz_loadu_ps(m1, bp + 16);
NCP_UNROLL_8
            for (int r = 0; r < R; ++r) {
                const __m512 av = _mm512_set1_ps(TransA ? a[p * lda + i + r] : a[(i + r) * lda + p]);
                acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);
                acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);
            }
        }
        const __m512 va = _mm512_set1_ps(alpha);
        const __m512 vb = _mm512_set1_ps(beta);
NCP_UNROLL_8
        for (int r = 0; r < R; ++r) {
            float* cp = c + (i + r) * ldc;
            __m512 c0 = _mm512_mul_ps(va, acc0[r]);
            __m512 c1 = _mm512_mul_ps(va, acc1[r]);
            if (beta != 0.0f) {
                c0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, cp), c0);
                c1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, cp + 16), c1);
            }
            _mm512_mask_storeu_ps(cp, m0, c0);
            _mm512_mask_storeu_ps(cp + 16, m1, c1);
        }
    }
#endif
};

}  // namespace ncp::detail

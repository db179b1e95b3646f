#pragma once
/// Single-precision GEMM with AVX-512 register blocking, for the small cache-resident products of the predictor
/// (m, n, k of a few hundred). Eigen's general GEMM packs both operands on every call and reaches about two thirds
/// of a core's FMA peak on these shapes; an 8 x 32 block held in 16 accumulators, reading B's rows in place,
/// reaches over 90%. Compiled in only where the compiler targets AVX-512 (-march=native on such a CPU); elsewhere
/// `suits` is false and callers keep their general GEMM.

#include <cstddef>

#include "ncp/fwd.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

// GCC's unroll pragma; CUDA's front end, which also reads host code in .cu files, does not know it and warns.
#if defined(__CUDACC__)
#define NCP_UNROLL_8
#else
#define NCP_UNROLL_8 _Pragma("GCC unroll 8")
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

    /// Whether run() handles this product: B not transposed, and k small enough that a block's strip of B stays
    /// cache-resident (beyond that a packing GEMM is faster).
    static constexpr bool suits(bool trans_b, index_t k) { return available && !trans_b && k <= max_k; }

#if defined(__AVX512F__)
    /// Row-major C (m x n) = alpha op(A) B + beta C, op(A) = A (m x k, leading dimension lda) or A^T (A stored
    /// k x m); B is k x n. beta == 0 ignores C's old contents. Needs suits(false, k).
    static void run(bool trans_a, index_t m, index_t n, index_t k, float alpha, const float* a, index_t lda,
                    const float* b, index_t ldb, float beta, float* c, index_t ldc) {
        if (trans_a) {
            blocks<true>(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        } else {
            blocks<false>(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        }
    }

private:
    static constexpr index_t mr = 8;   ///< rows per block: 8 broadcasts of A per step of k
    static constexpr index_t nr = 32;  ///< columns per block: two 16-float vectors of B per step of k

    /// The lanes of a 16-float vector that lie within `width` columns.
    static __mmask16 lanes(index_t width) {
        return width >= 16 ? __mmask16(0xFFFF) : width <= 0 ? __mmask16(0) : __mmask16((1u << width) - 1u);
    }

    // Kept out of line: inlined into a caller with many live values, the eight row addresses of A spill.
    template <bool TransA>
    [[gnu::noinline]] static void blocks(index_t m, index_t n, index_t k, float alpha, const float* a, index_t lda,
                                         const float* b, index_t ldb, float beta, float* c, index_t ldc) {
        // Column strips outside, row blocks inside: a strip of B is read by every row block while cache-hot.
        for (index_t j = 0; j < n; j += nr) {
            const __mmask16 m0 = lanes(n - j);
            const __mmask16 m1 = lanes(n - j - 16);
            index_t i = 0;
            for (; i + mr <= m; i += mr) block<TransA, mr>(i, j, k, alpha, a, lda, b, ldb, beta, c, ldc, m0, m1);
            switch (m - i) {
                case 7: block<TransA, 7>(i, j, k, alpha, a, lda, b, ldb, beta, c, ldc, m0, m1); break;
                case 6: block<TransA, 6>(i, j, k, alpha, a, lda, b, ldb, beta, c, ldc, m0, m1); break;
                case 5: block<TransA, 5>(i, j, k, alpha, a, lda, b, ldb, beta, c, ldc, m0, m1); break;
                case 4: block<TransA, 4>(i, j, k, alpha, a, lda, b, ldb, beta, c, ldc, m0, m1); break;
                case 3: block<TransA, 3>(i, j, k, alpha, a, lda, b, ldb, beta, c, ldc, m0, m1); break;
                case 2: block<TransA, 2>(i, j, k, alpha, a, lda, b, ldb, beta, c, ldc, m0, m1); break;
                case 1: block<TransA, 1>(i, j, k, alpha, a, lda, b, ldb, beta, c, ldc, m0, m1); break;
                default: break;
            }
        }
    }

    /// Rows [i, i + R) and the (masked) 32 columns from j: the whole sum over k in registers, then one store.
    template <bool TransA, int R>
    static void block(index_t i, index_t j, index_t k, float alpha, const float* a, index_t lda, const float* b,
                      index_t ldb, float beta, float* c, index_t ldc, __mmask16 m0, __mmask16 m1) {
        // Fully unrolled loops over r let the compiler keep acc0/acc1 in registers instead of spilling them.
        __m512 acc0[R], acc1[R];
NCP_UNROLL_8
        for (int r = 0; r < R; ++r) {
            acc0[r] = _mm512_setzero_ps();
            acc1[r] = _mm512_setzero_ps();
        }
        const float* bp = b + j;
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
            float* cp = c + (i + r) * ldc + j;
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

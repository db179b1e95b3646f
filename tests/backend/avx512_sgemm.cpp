/// The AVX-512 GEMM against a naive triple loop: every row and column tail, both layouts of A and of B (a
/// transposed B goes through the packed panel, whose 16 x 16 transposes see every tail of k and of n, or for at
/// most 8 columns through the row-vectorised path), padded leading dimensions, alpha and beta (beta 0 must ignore
/// NaN in C); and a column of A B^T has the same bits whichever path computes it.

#include <doctest/doctest.h>

#include <cmath>
#include <iostream>
#include <limits>
#include <random>
#include <vector>

#include "ncp/backend/avx512_sgemm.hpp"

using ncp::index_t;
using ncp::detail::avx512_sgemm;

namespace {

/// One product of random operands against the naive loop; C's padding columns must come back untouched.
void check_product(bool trans_a, bool trans_b, index_t m, index_t n, index_t k, float alpha, float beta,
                   std::mt19937& gen) {
    std::uniform_real_distribution<float> u(-1, 1);
    const index_t lda = (trans_a ? m : k) + 3, ldb = (trans_b ? k : n) + 5, ldc = n + 2;
    std::vector<float> a((trans_a ? k : m) * lda + 1), b((trans_b ? n : k) * ldb + 1), c(m * ldc);
    for (auto& v : a) v = u(gen);
    for (auto& v : b) v = u(gen);
    for (auto& v : c) v = beta == 0 ? std::numeric_limits<float>::quiet_NaN() : u(gen);
    std::vector<float> want = c;
    for (index_t i = 0; i < m; ++i)
        for (index_t j = 0; j < n; ++j) {
            double s = 0;
            for (index_t p = 0; p < k; ++p)
                s += double(trans_a ? a[p * lda + i] : a[i * lda + p]) * (trans_b ? b[j * ldb + p] : b[p * ldb + j]);
            want[i * ldc + j] = static_cast<float>(alpha * s + (beta == 0 ? 0.0 : beta * double(c[i * ldc + j])));
        }
    avx512_sgemm::run(trans_a, trans_b, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
    for (index_t i = 0; i < m; ++i)
        for (index_t j = 0; j < ldc; ++j) {
            CAPTURE(trans_a);
            CAPTURE(trans_b);
            CAPTURE(m);
            CAPTURE(n);
            CAPTURE(k);
            CAPTURE(i);
            CAPTURE(j);
            if (j < n) {
                REQUIRE(c[i * ldc + j] == doctest::Approx(want[i * ldc + j]).epsilon(1e-5).scale(1));
            } else if (beta == 0) {
                REQUIRE(std::isnan(c[i * ldc + j]));  // padding untouched
            } else {
                REQUIRE(c[i * ldc + j] == want[i * ldc + j]);
            }
        }
}

}  // namespace

TEST_CASE("matches the naive product on all tails") {
    if constexpr (!avx512_sgemm::available) {
        std::cout << "skipped: the AVX-512 GEMM is not compiled in (no AVX-512 target)\n";
        return;
    } else {
        std::mt19937 gen(11);
        for (bool trans_a : {false, true})
            for (bool trans_b : {false, true})
                for (index_t m : {1, 7, 8, 9, 16, 23, 40})
                    for (index_t n : {1, 2, 3, 8, 9, 15, 16, 17, 32, 33, 64, 85})
                        for (index_t k : {0, 1, 5, 16, 27, 64})
                            for (const auto& [alpha, beta] :
                                 {std::pair{1.0f, 0.0f}, std::pair{-0.5f, 1.0f}, std::pair{2.0f, 0.25f}})
                                check_product(trans_a, trans_b, m, n, k, alpha, beta, gen);
        CHECK(avx512_sgemm::suits(256));
        CHECK_FALSE(avx512_sgemm::suits(avx512_sgemm::max_k + 1));
    }
}

TEST_CASE("A B^T: the narrow path's columns have the bits of the wide path's") {
    if constexpr (!avx512_sgemm::available) {
        std::cout << "skipped: the AVX-512 GEMM is not compiled in (no AVX-512 target)\n";
        return;
    } else {
        std::mt19937 gen(12);
        std::uniform_real_distribution<float> u(-1, 1);
        const index_t m = 37, k = 45, wide = 33;
        std::vector<float> a(m * k), b(wide * k), c_wide(m * wide);
        for (auto& v : a) v = u(gen);
        for (auto& v : b) v = u(gen);
        avx512_sgemm::run(false, true, m, wide, k, 1.0f, a.data(), k, b.data(), k, 0.0f, c_wide.data(), wide);
        for (index_t n = 1; n <= 8; ++n) {
            CAPTURE(n);
            std::vector<float> c(m * n);
            avx512_sgemm::run(false, true, m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f, c.data(), n);
            for (index_t i = 0; i < m; ++i)
                for (index_t j = 0; j < n; ++j) REQUIRE(c[i * n + j] == c_wide[i * wide + j]);
        }
    }
}

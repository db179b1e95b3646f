// The CPU kernels against naive loops: storage, GEMM with every transpose, maps and reductions over every operand
// kind, dropout.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "ncp/backend/eigen_cpu.hpp"

using K = ncp::detail::kernels<ncp::backend::eigen_cpu>;
using ncp::axis;
using ncp::index_t;
namespace fn = ncp::detail::fn;

namespace {

template <class T>
std::vector<T> random_values(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 gen(seed);
    std::uniform_real_distribution<double> u(-1, 1);
    std::vector<T> v(n);
    for (T& x : v) x = static_cast<T>(u(gen));
    return v;
}

template <class T>
double tolerance() {
    return std::is_same_v<T, float> ? 2e-5 : 1e-12;
}

}  // namespace

TEST_CASE("allocate: aligned, counted, null for nothing") {
    const std::size_t before = K::allocations();
    float* p = K::allocate<float>(3);
    CHECK(reinterpret_cast<std::uintptr_t>(p) % 64 == 0);
    CHECK(K::allocations() == before + 1);
    CHECK(K::allocate<double>(0) == nullptr);
    CHECK(K::allocations() == before + 1);
    K::deallocate(p, 3);
    K::deallocate<double>(nullptr, 0);
}

TEST_CASE_TEMPLATE("copy, fill, host transfers", T, float, double) {
    std::vector<T> host = random_values<T>(37, 1);
    T* a = K::allocate<T>(37);
    T* b = K::allocate<T>(37);
    K::from_host<T>(37, host.data(), a);
    K::copy<T>(37, a, b);
    std::vector<T> back(37);
    K::to_host<T>(37, b, back.data());
    CHECK(back == host);
    K::fill<T>(37, T(2.5), a);
    K::to_host<T>(37, a, back.data());
    CHECK(back == std::vector<T>(37, T(2.5)));
    K::deallocate(a, 37);
    K::deallocate(b, 37);
}

TEST_CASE_TEMPLATE("gemm: every transpose, alpha, beta, leading dimensions, GEMV shapes", T, float, double) {
    struct shape {
        index_t m, n, k;
    };
    for (const shape s : {shape{5, 7, 3}, shape{1, 9, 6}, shape{8, 1, 4}, shape{33, 65, 70}, shape{4, 3, 0}}) {
        for (int trans = 0; trans < 4; ++trans) {
            const bool ta = (trans & 1) != 0;
            const bool tb = (trans & 2) != 0;
            for (const T beta : {T(0), T(1), T(-0.5)}) {
                CAPTURE(s.m); CAPTURE(s.n); CAPTURE(s.k); CAPTURE(ta); CAPTURE(tb); CAPTURE(beta);
                const index_t ar = ta ? s.k : s.m, ac = ta ? s.m : s.k;
                const index_t br = tb ? s.n : s.k, bc = tb ? s.k : s.n;
                const index_t lda = ac + 2, ldb = bc + 3, ldc = s.n + 1;  // padded rows
                std::vector<T> a = random_values<T>(static_cast<std::size_t>(std::max<index_t>(ar, 1) * lda), 2);
                std::vector<T> b = random_values<T>(static_cast<std::size_t>(std::max<index_t>(br, 1) * ldb), 3);
                std::vector<T> c = random_values<T>(static_cast<std::size_t>(s.m * ldc), 4);
                if (beta == T(0)) {
                    for (index_t i = 0; i < s.m; ++i) c[i * ldc] = std::numeric_limits<T>::quiet_NaN();
                }
                std::vector<T> expected = c;
                const T alpha = T(1.5);
                for (index_t i = 0; i < s.m; ++i) {
                    for (index_t j = 0; j < s.n; ++j) {
                        double acc = 0;
                        for (index_t l = 0; l < s.k; ++l) {
                            const double x = ta ? a[l * lda + i] : a[i * lda + l];
                            const double y = tb ? b[j * ldb + l] : b[l * ldb + j];
                            acc += x * y;
                        }
                        const double old = beta == T(0) ? 0.0 : beta * static_cast<double>(c[i * ldc + j]);
                        expected[i * ldc + j] = static_cast<T>(alpha * acc + old);
                    }
                }
                K::gemm<T>(ta, tb, s.m, s.n, s.k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
                for (index_t i = 0; i < s.m; ++i) {
                    for (index_t j = 0; j < ldc; ++j) {
                        CHECK(c[i * ldc + j] == doctest::Approx(expected[i * ldc + j]).epsilon(tolerance<T>()));
                    }
                }
            }
        }
    }
}

TEST_CASE_TEMPLATE("gemm: vector times matrix, unpadded (the batch-1 paths)", T, float, double) {
    // Every transpose with natural leading dimensions, widths on and off the vector width, one and several blocks.
    for (const index_t len : {index_t{1}, index_t{5}, index_t{16}, index_t{27}, index_t{300}}) {
        for (const index_t k : {index_t{1}, index_t{8}, index_t{27}, index_t{128}}) {
            for (int trans = 0; trans < 8; ++trans) {
                const bool ta = (trans & 1) != 0, tb = (trans & 2) != 0, column = (trans & 4) != 0;
                const index_t m = column ? len : 1, n = column ? 1 : len;
                const index_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
                for (const T beta : {T(0), T(0.5)}) {
                    CAPTURE(m); CAPTURE(n); CAPTURE(k); CAPTURE(ta); CAPTURE(tb); CAPTURE(beta);
                    const std::vector<T> a = random_values<T>(static_cast<std::size_t>(ar * ac), 20);
                    const std::vector<T> b = random_values<T>(static_cast<std::size_t>(br * bc), 21);
                    std::vector<T> c = random_values<T>(static_cast<std::size_t>(m * n), 22);
                    std::vector<double> expected(c.size());
                    for (index_t i = 0; i < m; ++i) {
                        for (index_t j = 0; j < n; ++j) {
                            double acc = 0;
                            for (index_t l = 0; l < k; ++l) {
                                acc += double(ta ? a[l * ac + i] : a[i * ac + l]) * (tb ? b[j * bc + l] : b[l * bc + j]);
                            }
                            expected[i * n + j] = 2 * acc + beta * double(c[i * n + j]);
                        }
                    }
                    K::gemm<T>(ta, tb, m, n, k, T(2), a.data(), ac, b.data(), bc, beta, c.data(), n);
                    for (std::size_t i = 0; i < c.size(); ++i) {
                        CHECK(c[i] == doctest::Approx(expected[i]).epsilon(tolerance<T>() * 10).scale(1));
                    }
                }
            }
        }
    }
}

TEST_CASE_TEMPLATE("map: dense, row, column, scalar and constant operands; alpha, beta, strided output", T, float,
                   double) {
    using view = ncp::detail::view<T>;
    // Wide enough to span several chunks of the CPU loop.
    for (const index_t cols : {index_t{1}, index_t{7}, index_t{300}}) {
        const index_t rows = 5;
        const index_t ld_x = cols + 4;
        const index_t ld_out = cols + 2;
        const std::vector<T> x = random_values<T>(static_cast<std::size_t>(rows * ld_x), 5);
        const std::vector<T> r = random_values<T>(static_cast<std::size_t>(cols), 6);
        const std::vector<T> c = random_values<T>(static_cast<std::size_t>(rows), 7);
        const std::vector<T> s = {T(0.25)};
        for (const T beta : {T(0), T(1), T(2)}) {
            CAPTURE(cols); CAPTURE(beta);
            std::vector<T> out = random_values<T>(static_cast<std::size_t>(rows * ld_out), 8);
            std::vector<T> expected = out;
            const T alpha = T(-0.5);
            for (index_t i = 0; i < rows; ++i) {
                for (index_t j = 0; j < cols; ++j) {
                    const double v = static_cast<double>(x[i * ld_x + j]) * r[j] * c[i] * s[0] * 3.0;
                    const double old = beta == T(0) ? 0.0 : beta * static_cast<double>(out[i * ld_out + j]);
                    expected[i * ld_out + j] = static_cast<T>(alpha * v + old);
                }
            }
            struct product5 {
                static T apply(T a, T b, T c2, T d, T e) { return a * b * c2 * d * e; }
            };
            K::map<product5>(rows, cols, alpha, beta, out.data(), ld_out, view::matrix(x.data(), ld_x),
                             view::row(r.data()), view::column(c.data()), view::scalar(s.data()),
                             view::constant(T(3)));
            for (std::size_t i = 0; i < out.size(); ++i) {
                CHECK(out[i] == doctest::Approx(expected[i]).epsilon(tolerance<T>()));
            }
        }
    }
}

TEST_CASE_TEMPLATE("map: contiguous operands take the flat path with the same result", T, float, double) {
    using view = ncp::detail::view<T>;
    const index_t rows = 9, cols = 130;
    const std::vector<T> x = random_values<T>(static_cast<std::size_t>(rows * cols), 9);
    std::vector<T> out(x.size());
    K::map<fn::sigmoid>(rows, cols, T(1), T(0), out.data(), cols, view::matrix(x.data(), cols));
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(out[i] == fn::sigmoid::apply(x[i]));
}

TEST_CASE_TEMPLATE("reduce: every axis over broadcast operands, alpha and beta", T, float, double) {
    using view = ncp::detail::view<T>;
    for (const index_t cols : {index_t{1}, index_t{3}, index_t{290}}) {
        for (const index_t rows : {index_t{1}, index_t{6}, index_t{67}}) {
            const std::vector<T> x = random_values<T>(static_cast<std::size_t>(rows * cols), 10);
            const std::vector<T> r = random_values<T>(static_cast<std::size_t>(cols), 11);
            const std::vector<T> c = random_values<T>(static_cast<std::size_t>(rows), 12);
            const auto term = [&](index_t i, index_t j) {
                return static_cast<double>(x[i * cols + j]) * r[j] * c[i] * 2.0;
            };
            struct product4 {
                static T apply(T a, T b, T c2, T d) { return a * b * c2 * d; }
            };
            for (const axis over : {axis::all, axis::rows, axis::cols}) {
                for (const T beta : {T(0), T(1)}) {
                    CAPTURE(rows); CAPTURE(cols); CAPTURE(static_cast<int>(over)); CAPTURE(beta);
                    const index_t outputs = over == axis::all ? 1 : (over == axis::rows ? cols : rows);
                    std::vector<T> out = random_values<T>(static_cast<std::size_t>(outputs), 13);
                    std::vector<double> expected(out.size(), 0.0);
                    for (index_t i = 0; i < rows; ++i) {
                        for (index_t j = 0; j < cols; ++j) {
                            expected[over == axis::all ? 0 : (over == axis::rows ? j : i)] += term(i, j);
                        }
                    }
                    const T alpha = T(0.75);
                    for (std::size_t o = 0; o < out.size(); ++o) {
                        expected[o] = alpha * expected[o] + (beta == T(0) ? 0.0 : beta * static_cast<double>(out[o]));
                    }
                    K::reduce<product4>(over, rows, cols, alpha, beta, out.data(), view::matrix(x.data(), cols),
                                        view::row(r.data()), view::column(c.data()), view::constant(T(2)));
                    for (std::size_t o = 0; o < out.size(); ++o) {
                        CHECK(out[o] == doctest::Approx(expected[o]).epsilon(tolerance<T>() * 10).scale(1));
                    }
                }
            }
        }
    }
}

TEST_CASE_TEMPLATE("dropout: reproducible inverted masks with the asked rate", T, float, double) {
    const index_t n = 20000;
    const std::vector<T> x = random_values<T>(static_cast<std::size_t>(n), 14);
    std::vector<T> mask(x.size()), y(x.size());
    for (const T p : {T(0), T(0.2), T(0.5), T(1)}) {
        CAPTURE(p);
        K::dropout<T>(n, p, 42, 1000, x.data(), mask.data(), y.data());
        index_t kept = 0;
        for (index_t i = 0; i < n; ++i) {
            const bool keep = ncp::detail::random_bits(42, 1000 + static_cast<std::uint64_t>(i)) >=
                              static_cast<std::uint64_t>(static_cast<double>(p) * 4294967296.0);
            CHECK(mask[i] == (keep ? T(1) / (T(1) - p) : T(0)));
            CHECK(y[i] == x[i] * mask[i]);
            kept += keep;
        }
        CHECK(static_cast<double>(kept) / n == doctest::Approx(1 - static_cast<double>(p)).epsilon(0.03).scale(1));
    }
    // The stream is counter-based: element i of a call at counter c is element 0 of a call at counter c + i.
    std::vector<T> one(1), y1(1);
    K::dropout<T>(n, T(0.5), 42, 1000, x.data(), mask.data(), y.data());
    K::dropout<T>(1, T(0.5), 42, 1000 + 777, x.data() + 777, one.data(), y1.data());
    CHECK(one[0] == mask[777]);
}

static_assert(ncp::backend::kernel_set<K>);
static_assert(K::host_accessible);

// The kernels of the backend under test (tests/backends.hpp) against naive loops: storage, GEMM with every
// transpose, maps and reductions over every operand kind, dropout's counter-based stream.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "backends.hpp"

using ncp::axis;
using ncp::index_t;
using ncp::test::on;
using ncp::test::uniform_values;
namespace fn = ncp::detail::fn;

namespace {

/// Backend memory holding host values, freed at scope exit: kernels take raw backend pointers.
template <class T, class B>
class buffer {
public:
    using kernels = ncp::detail::kernels<B>;

    explicit buffer(const std::vector<T>& values)
        : m_size(static_cast<index_t>(values.size())), m_data(kernels::template allocate<T>(m_size)) {
        kernels::from_host(m_size, values.data(), m_data);
    }
    buffer(const buffer&) = delete;
    buffer& operator=(const buffer&) = delete;
    ~buffer() { kernels::deallocate(m_data, m_size); }

    T* get() { return m_data; }
    /// The values, on the host.
    std::vector<T> host() const {
        std::vector<T> v(static_cast<std::size_t>(m_size));
        kernels::to_host(m_size, m_data, v.data());
        return v;
    }

private:
    index_t m_size;
    T* m_data;
};

template <class T>
double tolerance() {
    return std::is_same_v<T, float> ? 2e-5 : 1e-12;
}

/// a b c d e: five operands of different kinds through one kernel.
struct product5 {
    template <class T>
    NCP_HOST_DEVICE static T apply(T a, T b, T c, T d, T e) { return a * b * c * d * e; }
};
/// a b c d.
struct product4 {
    template <class T>
    NCP_HOST_DEVICE static T apply(T a, T b, T c, T d) { return a * b * c * d; }
};

}  // namespace

TEST_CASE_TEMPLATE("allocate: aligned, counted, null for nothing", P, on<float>) {
    using K = ncp::detail::kernels<typename P::backend>;
    static_assert(ncp::backend::kernel_set<K>);
    const std::size_t before = K::allocations();
    float* p = K::template allocate<float>(3);
    CHECK(reinterpret_cast<std::uintptr_t>(p) % 64 == 0);
    CHECK(K::allocations() == before + 1);
    CHECK(K::template allocate<double>(0) == nullptr);
    CHECK(K::allocations() == before + 1);
    K::deallocate(p, 3);
    K::template deallocate<double>(nullptr, 0);
}

TEST_CASE_TEMPLATE("copy, fill, host transfers", P, on<float>, on<double>) {
    using T = typename P::value_type;
    using K = ncp::detail::kernels<typename P::backend>;
    const std::vector<T> values = uniform_values<T>(37, 1);
    buffer<T, typename P::backend> a(values), b(std::vector<T>(37));
    K::copy(index_t{37}, a.get(), b.get());
    CHECK(b.host() == values);
    K::fill(index_t{37}, T(2.5), a.get());
    CHECK(a.host() == std::vector<T>(37, T(2.5)));
    K::fill(index_t{0}, T(1), a.get());  // nothing to do
    K::copy(index_t{0}, b.get(), a.get());
    CHECK(a.host() == std::vector<T>(37, T(2.5)));
}

TEST_CASE_TEMPLATE("gemm: every transpose, alpha, beta, leading dimensions, GEMV shapes", P, on<float>, on<double>) {
    using T = typename P::value_type;
    using B = typename P::backend;
    using K = ncp::detail::kernels<B>;
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
                const std::vector<T> a = uniform_values<T>(static_cast<std::size_t>(std::max<index_t>(ar, 1) * lda), 2);
                const std::vector<T> b = uniform_values<T>(static_cast<std::size_t>(std::max<index_t>(br, 1) * ldb), 3);
                std::vector<T> c = uniform_values<T>(static_cast<std::size_t>(s.m * ldc), 4);
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
                buffer<T, B> da(a), db(b), dc(c);
                K::gemm(ta, tb, s.m, s.n, s.k, alpha, da.get(), lda, db.get(), ldb, beta, dc.get(), ldc);
                c = dc.host();
                for (index_t i = 0; i < s.m; ++i) {
                    for (index_t j = 0; j < ldc; ++j) {
                        CHECK(c[i * ldc + j] == doctest::Approx(expected[i * ldc + j]).epsilon(tolerance<T>()));
                    }
                }
            }
        }
    }
}

TEST_CASE_TEMPLATE("gemm on a host backend: a row of C has the same bits wherever the operands lie", P, on<float>,
                   on<double>) {
    // The row-split training (autograd's row_split) computes a block of rows at the start of one member's buffers
    // or in the middle of another's: the results must not depend on the addresses. Here each operand sits at the
    // start of a buffer or a few elements further on, for products of every path (vectors, tiny, general).
    using T = typename P::value_type;
    using B = typename P::backend;
    using K = ncp::detail::kernels<B>;
    if constexpr (K::host_accessible) {
        struct shape {
            index_t m, n, k;
        };
        for (const shape s : {shape{1, 37, 29}, shape{23, 1, 29}, shape{5, 2, 7}, shape{3, 4, 1}, shape{10, 7, 1}, shape{10, 7, 2}, shape{10, 2, 7},
                              shape{33, 70, 45}, shape{9, 300, 27}}) {
            for (int trans = 0; trans < 4; ++trans) {
                const bool ta = (trans & 1) != 0, tb = (trans & 2) != 0;
                CAPTURE(s.m); CAPTURE(s.n); CAPTURE(s.k); CAPTURE(ta); CAPTURE(tb);
                const index_t ar = ta ? s.k : s.m, ac = ta ? s.m : s.k, br = tb ? s.n : s.k, bc = tb ? s.k : s.n;
                const std::vector<T> a = uniform_values<T>(static_cast<std::size_t>(ar * ac), 30);
                const std::vector<T> b = uniform_values<T>(static_cast<std::size_t>(br * bc), 31);
                const std::vector<T> c0 = uniform_values<T>(static_cast<std::size_t>(s.m * s.n), 32);
                const auto at = [](const std::vector<T>& v, index_t shift) {
                    std::vector<T> shifted(static_cast<std::size_t>(shift), T(0));
                    shifted.insert(shifted.end(), v.begin(), v.end());
                    return shifted;
                };
                std::vector<std::vector<T>> results;
                for (const index_t sa : {0, 1, 3})
                    for (const index_t sb : {0, 2, 7})
                        for (const index_t sc : {0, 1, 5}) {
                            buffer<T, B> da(at(a, sa)), db(at(b, sb)), dc(at(c0, sc));
                            K::gemm(ta, tb, s.m, s.n, s.k, T(1), da.get() + sa, ac, db.get() + sb, bc, T(1),
                                    dc.get() + sc, s.n);
                            std::vector<T> c = dc.host();
                            results.emplace_back(c.begin() + sc, c.end());
                        }
                for (const auto& r : results) CHECK(r == results.front());
            }
        }
    }
}

TEST_CASE_TEMPLATE("gemm: vector times matrix, unpadded (the batch-1 paths)", P, on<float>, on<double>) {
    using T = typename P::value_type;
    using B = typename P::backend;
    using K = ncp::detail::kernels<B>;
    // Every transpose with natural leading dimensions, widths on and off the vector width, one and several blocks.
    for (const index_t len : {index_t{1}, index_t{5}, index_t{16}, index_t{27}, index_t{300}}) {
        for (const index_t k : {index_t{1}, index_t{8}, index_t{27}, index_t{128}}) {
            for (int trans = 0; trans < 8; ++trans) {
                const bool ta = (trans & 1) != 0, tb = (trans & 2) != 0, column = (trans & 4) != 0;
                const index_t m = column ? len : 1, n = column ? 1 : len;
                const index_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
                for (const T beta : {T(0), T(0.5)}) {
                    CAPTURE(m); CAPTURE(n); CAPTURE(k); CAPTURE(ta); CAPTURE(tb); CAPTURE(beta);
                    const std::vector<T> a = uniform_values<T>(static_cast<std::size_t>(ar * ac), 20);
                    const std::vector<T> b = uniform_values<T>(static_cast<std::size_t>(br * bc), 21);
                    const std::vector<T> c0 = uniform_values<T>(static_cast<std::size_t>(m * n), 22);
                    std::vector<double> expected(c0.size());
                    for (index_t i = 0; i < m; ++i) {
                        for (index_t j = 0; j < n; ++j) {
                            double acc = 0;
                            for (index_t l = 0; l < k; ++l) {
                                const double y = tb ? b[j * bc + l] : b[l * bc + j];
                                acc += double(ta ? a[l * ac + i] : a[i * ac + l]) * y;
                            }
                            expected[i * n + j] = 2 * acc + beta * double(c0[i * n + j]);
                        }
                    }
                    buffer<T, B> da(a), db(b), dc(c0);
                    K::gemm(ta, tb, m, n, k, T(2), da.get(), ac, db.get(), bc, beta, dc.get(), n);
                    const std::vector<T> c = dc.host();
                    for (std::size_t i = 0; i < c.size(); ++i) {
                        CHECK(c[i] == doctest::Approx(expected[i]).epsilon(tolerance<T>() * 10).scale(1));
                    }
                }
            }
        }
    }
}

TEST_CASE_TEMPLATE("map: dense, row, column, scalar and constant operands; alpha, beta, strided output", P,
                   on<float>, on<double>) {
    using T = typename P::value_type;
    using B = typename P::backend;
    using K = ncp::detail::kernels<B>;
    using view = ncp::detail::view<T>;
    // Wide enough to span several chunks of the CPU loop.
    for (const index_t cols : {index_t{1}, index_t{7}, index_t{300}}) {
        const index_t rows = 5;
        const index_t ld_x = cols + 4;
        const index_t ld_out = cols + 2;
        const std::vector<T> x = uniform_values<T>(static_cast<std::size_t>(rows * ld_x), 5);
        const std::vector<T> r = uniform_values<T>(static_cast<std::size_t>(cols), 6);
        const std::vector<T> c = uniform_values<T>(static_cast<std::size_t>(rows), 7);
        const std::vector<T> s = {T(0.25)};
        buffer<T, B> dx(x), dr(r), dc(c), ds(s);
        for (const T beta : {T(0), T(1), T(2)}) {
            CAPTURE(cols); CAPTURE(beta);
            const std::vector<T> out0 = uniform_values<T>(static_cast<std::size_t>(rows * ld_out), 8);
            std::vector<T> expected = out0;
            const T alpha = T(-0.5);
            for (index_t i = 0; i < rows; ++i) {
                for (index_t j = 0; j < cols; ++j) {
                    const double v = static_cast<double>(x[i * ld_x + j]) * r[j] * c[i] * s[0] * 3.0;
                    const double old = beta == T(0) ? 0.0 : beta * static_cast<double>(out0[i * ld_out + j]);
                    expected[i * ld_out + j] = static_cast<T>(alpha * v + old);
                }
            }
            buffer<T, B> dout(out0);
            K::template map<product5>(rows, cols, alpha, beta, dout.get(), ld_out, view::matrix(dx.get(), ld_x),
                                      view::row(dr.get()), view::column(dc.get()), view::scalar(ds.get()),
                                      view::constant(T(3)));
            const std::vector<T> out = dout.host();
            for (std::size_t i = 0; i < out.size(); ++i) {
                CHECK(out[i] == doctest::Approx(expected[i]).epsilon(tolerance<T>()));
            }
        }
    }
}

TEST_CASE_TEMPLATE("map: contiguous operands take the flat path with the same result", P, on<float>, on<double>) {
    using T = typename P::value_type;
    using B = typename P::backend;
    using view = ncp::detail::view<T>;
    // The large shape needs more threads than a GPU launch has: each thread takes several elements.
    for (const auto& [rows, cols] : {std::pair<index_t, index_t>{9, 130}, std::pair<index_t, index_t>{700, 401}}) {
        const std::vector<T> x = uniform_values<T>(static_cast<std::size_t>(rows * cols), 9, -9, 9);
        buffer<T, B> dx(x), dout(std::vector<T>(x.size()));
        ncp::detail::kernels<B>::template map<fn::sigmoid>(rows, cols, T(1), T(0), dout.get(), cols,
                                                           view::matrix(dx.get(), cols));
        const std::vector<T> out = dout.host();
        for (std::size_t i = 0; i < x.size(); ++i) {
            if constexpr (ncp::detail::kernels<B>::host_accessible) {
                CHECK(out[i] == fn::sigmoid::apply(x[i]));
            } else {  // the device computes e^x with its own exp, to within a few ulp of ours
                const double ulp = std::numeric_limits<T>::epsilon();
                CHECK(out[i] == doctest::Approx(fn::sigmoid::apply(x[i])).epsilon(8 * ulp));
            }
        }
    }
}

TEST_CASE_TEMPLATE("reduce: every axis over broadcast operands, alpha and beta", P, on<float>, on<double>) {
    using T = typename P::value_type;
    using B = typename P::backend;
    using view = ncp::detail::view<T>;
    for (const index_t cols : {index_t{1}, index_t{3}, index_t{290}}) {
        for (const index_t rows : {index_t{1}, index_t{6}, index_t{67}}) {
            const std::vector<T> x = uniform_values<T>(static_cast<std::size_t>(rows * cols), 10);
            const std::vector<T> r = uniform_values<T>(static_cast<std::size_t>(cols), 11);
            const std::vector<T> c = uniform_values<T>(static_cast<std::size_t>(rows), 12);
            buffer<T, B> dx(x), dr(r), dc(c);
            const auto term = [&](index_t i, index_t j) {
                return static_cast<double>(x[i * cols + j]) * r[j] * c[i] * 2.0;
            };
            for (const axis over : {axis::all, axis::rows, axis::cols}) {
                for (const T beta : {T(0), T(1)}) {
                    CAPTURE(rows); CAPTURE(cols); CAPTURE(static_cast<int>(over)); CAPTURE(beta);
                    const index_t outputs = over == axis::all ? 1 : (over == axis::rows ? cols : rows);
                    const std::vector<T> out0 = uniform_values<T>(static_cast<std::size_t>(outputs), 13);
                    std::vector<double> expected(out0.size(), 0.0);
                    for (index_t i = 0; i < rows; ++i) {
                        for (index_t j = 0; j < cols; ++j) {
                            expected[over == axis::all ? 0 : (over == axis::rows ? j : i)] += term(i, j);
                        }
                    }
                    const T alpha = T(0.75);
                    for (std::size_t o = 0; o < out0.size(); ++o) {
                        expected[o] = alpha * expected[o] + (beta == T(0) ? 0.0 : beta * static_cast<double>(out0[o]));
                    }
                    buffer<T, B> dout(out0);
                    ncp::detail::kernels<B>::template reduce<product4>(over, rows, cols, alpha, beta, dout.get(),
                                                                       view::matrix(dx.get(), cols),
                                                                       view::row(dr.get()), view::column(dc.get()),
                                                                       view::constant(T(2)));
                    const std::vector<T> out = dout.host();
                    for (std::size_t o = 0; o < out.size(); ++o) {
                        CHECK(out[o] == doctest::Approx(expected[o]).epsilon(tolerance<T>() * 10).scale(1));
                    }
                }
            }
        }
    }
}

TEST_CASE_TEMPLATE("reduce: empty inputs give beta out", P, on<float>) {
    using B = typename P::backend;
    using view = ncp::detail::view<float>;
    buffer<float, B> out(std::vector<float>{1, 2, 3}), none(std::vector<float>(1));
    ncp::detail::kernels<B>::template reduce<fn::identity>(axis::rows, 0, 3, 1.0f, 0.5f, out.get(),
                                                           view::matrix(none.get(), 3));
    CHECK(out.host() == std::vector<float>{0.5f, 1, 1.5f});
    ncp::detail::kernels<B>::template reduce<fn::identity>(axis::cols, 3, 0, 1.0f, 0.0f, out.get(),
                                                           view::matrix(none.get(), 0));
    CHECK(out.host() == std::vector<float>{0, 0, 0});
}

TEST_CASE_TEMPLATE("dropout: the counter-based stream's masks with the asked rate", P, on<float>, on<double>) {
    using T = typename P::value_type;
    using B = typename P::backend;
    using K = ncp::detail::kernels<B>;
    const index_t n = 20000;
    const std::vector<T> x = uniform_values<T>(static_cast<std::size_t>(n), 14);
    buffer<T, B> dx(x), dmask(std::vector<T>(x.size())), dy(std::vector<T>(x.size()));
    for (const T p : {T(0), T(0.2), T(0.5), T(1)}) {
        CAPTURE(p);
        K::dropout(n, p, 42, 1000, dx.get(), dmask.get(), dy.get());
        const std::vector<T> mask = dmask.host(), y = dy.host();
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
    buffer<T, B> one(std::vector<T>(1)), y1(std::vector<T>(1));
    K::dropout(n, T(0.5), 42, 1000, dx.get(), dmask.get(), dy.get());
    K::dropout(index_t{1}, T(0.5), 42, 1000 + 777, dx.get() + 777, one.get(), y1.get());
    CHECK(one.host()[0] == dmask.host()[777]);
}

TEST_CASE_TEMPLATE("dropout: a call crossing a 2^32 block of the stream draws the elements on both sides", P,
                   on<float>) {
    using B = typename P::backend;
    const index_t n = 64;
    const std::uint64_t counter = (std::uint64_t{5} << 32) - 20;
    const std::vector<float> ones(static_cast<std::size_t>(n), 1.0f);
    buffer<float, B> x(ones), mask(ones), y(ones);
    ncp::detail::kernels<B>::dropout(n, 0.5f, 7, counter, x.get(), mask.get(), y.get());
    const std::vector<float> m = mask.host();
    for (index_t i = 0; i < n; ++i) {
        const bool keep = ncp::detail::random_bits(7, counter + static_cast<std::uint64_t>(i)) >= 0x80000000U;
        CHECK(m[static_cast<std::size_t>(i)] == (keep ? 2.0f : 0.0f));
    }
}

// Tensor on the backend under test (tests/backends.hpp): shapes, ownership, capacity reuse, host transfers, errors.
#include <doctest/doctest.h>

#include <type_traits>
#include <vector>

#include "backends.hpp"

using ncp::index_t;
using ncp::test::on;

static_assert(!std::is_copy_constructible_v<ncp::Tensor<float>>);
static_assert(std::is_nothrow_move_constructible_v<ncp::Tensor<float>>);
static_assert(std::is_same_v<ncp::Tensor<>, ncp::Tensor<float, ncp::backend::eigen_cpu>>);

TEST_CASE_TEMPLATE("shapes: 1-D is one row, 2-D rows x cols", P, on<float>, on<double>) {
    using tensor = ncp::Tensor<typename P::value_type, typename P::backend>;
    tensor empty;
    CHECK(empty.rank() == 1);
    CHECK(empty.size() == 0);
    CHECK(empty.empty());
    CHECK(empty.data() == nullptr);

    tensor v(5);
    CHECK(v.rank() == 1);
    CHECK(v.rows() == 1);
    CHECK(v.cols() == 5);
    CHECK(v.shape_string() == "5");

    tensor m(3, 4);
    CHECK(m.rank() == 2);
    CHECK(m.size() == 12);
    CHECK(m.shape_string() == "3 x 4");
    CHECK_FALSE(m.same_shape(v));
}

TEST_CASE_TEMPLATE("host transfers", P, on<float>, on<double>) {
    using T = typename P::value_type;
    using tensor = ncp::Tensor<T, typename P::backend>;
    const std::vector<T> values = {1, 2, 3, 4, 5, 6};
    auto m = tensor::from_host(values, 2, 3);
    CHECK(m.rows() == 2);
    CHECK(m.to_host() == values);

    auto v = tensor::from_host(values);
    CHECK(v.rank() == 1);
    CHECK(v.cols() == 6);

    auto f = tensor::filled(2, 2, T(7));
    CHECK(f.to_host() == std::vector<T>(4, T(7)));
    f.fill(T(0.5));
    CHECK(f.to_host() == std::vector<T>(4, T(0.5)));

    std::vector<T> out(4);
    f.copy_to_host(out);
    CHECK(out == std::vector<T>(4, T(0.5)));
    f.copy_from_host(std::vector<T>{1, 2, 3, 4});
    CHECK(f.to_host() == std::vector<T>{1, 2, 3, 4});

    // Element access on the host exists only where backend memory is host memory.
    if constexpr (tensor::kernels::host_accessible) {
        CHECK(m(1, 0) == T(4));
        CHECK(m[5] == T(6));
        m(0, 1) = T(-2);
        CHECK(m.to_host() == std::vector<T>{1, -2, 3, 4, 5, 6});
    }
}

TEST_CASE_TEMPLATE("copies are explicit and deep; moves steal the buffer", P, on<double>) {
    using tensor = ncp::Tensor<double, typename P::backend>;
    auto a = tensor::from_host(std::vector<double>{1, 2, 3, 4}, 2, 2);
    tensor b = a.clone();
    b.fill(9);
    CHECK(a.to_host() == std::vector<double>{1, 2, 3, 4});
    CHECK(b.same_shape(a));

    tensor c(10, 10);
    const double* buffer = c.data();
    c.assign(a);  // fits: no new buffer
    CHECK(c.data() == buffer);
    CHECK(c.to_host() == a.to_host());
    CHECK(c.rank() == 2);
    c.assign(c);
    CHECK(c.to_host() == a.to_host());

    const double* owned = a.data();
    tensor d(std::move(a));
    CHECK(d.data() == owned);
    CHECK(a.data() == nullptr);  // NOLINT(bugprone-use-after-move): moved-from tensors are empty
    CHECK(a.size() == 0);
    tensor e;
    e = std::move(d);
    CHECK(e.data() == owned);
}

TEST_CASE_TEMPLATE("resize reuses capacity: no allocation unless it grows", P, on<float>) {
    using tensor = ncp::Tensor<float, typename P::backend>;
    using K = typename tensor::kernels;
    tensor t(8, 16);
    const std::size_t before = K::allocations();
    t.resize(16, 8);
    t.resize(3, 5);
    t.resize(128);
    t.resize(8, 16);
    CHECK(K::allocations() == before);
    CHECK(t.capacity() == 128);
    t.resize(9, 16);
    CHECK(K::allocations() == before + 1);
    CHECK(t.capacity() == 144);
    tensor like;
    like.resize_like(tensor(7));
    CHECK(like.rank() == 1);
    CHECK(like.cols() == 7);
}

TEST_CASE_TEMPLATE("bad shapes and host sizes are errors naming the shape", P, on<float>) {
    using tensor = ncp::Tensor<float, typename P::backend>;
    tensor t;
    CHECK_THROWS_WITH_AS(t.resize(-1, 3), "Tensor: invalid shape -1 x 3", ncp::error);
    CHECK_THROWS_AS(t.resize(index_t{1} << 40, index_t{1} << 40), ncp::error);
    CHECK_THROWS_WITH_AS(tensor::from_host(std::vector<float>{1, 2, 3}, 2, 2),
                         "Tensor::copy_from_host: 3 host values for a tensor of 2 x 2", ncp::error);
    std::vector<float> small(1);
    CHECK_THROWS_AS(tensor(2).copy_to_host(small), ncp::error);
}

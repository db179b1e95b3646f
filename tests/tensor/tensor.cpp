// Tensor: shapes, ownership, capacity reuse, host transfers, errors.
#include <doctest/doctest.h>

#include <type_traits>
#include <vector>

#include "ncp/tensor/tensor.hpp"

using ncp::index_t;
using K = ncp::detail::kernels<ncp::backend::eigen_cpu>;

static_assert(!std::is_copy_constructible_v<ncp::Tensor<float>>);
static_assert(std::is_nothrow_move_constructible_v<ncp::Tensor<float>>);
static_assert(std::is_same_v<ncp::Tensor<>, ncp::Tensor<float, ncp::backend::eigen_cpu>>);

TEST_CASE_TEMPLATE("shapes: 1-D is one row, 2-D rows x cols", T, float, double) {
    ncp::Tensor<T> empty;
    CHECK(empty.rank() == 1);
    CHECK(empty.size() == 0);
    CHECK(empty.empty());
    CHECK(empty.data() == nullptr);

    ncp::Tensor<T> v(5);
    CHECK(v.rank() == 1);
    CHECK(v.rows() == 1);
    CHECK(v.cols() == 5);
    CHECK(v.shape_string() == "5");

    ncp::Tensor<T> m(3, 4);
    CHECK(m.rank() == 2);
    CHECK(m.size() == 12);
    CHECK(m.shape_string() == "3 x 4");
    CHECK_FALSE(m.same_shape(v));
}

TEST_CASE_TEMPLATE("host access and transfers", T, float, double) {
    const std::vector<T> values = {1, 2, 3, 4, 5, 6};
    auto m = ncp::Tensor<T>::from_host(values, 2, 3);
    CHECK(m(1, 0) == T(4));
    CHECK(m[5] == T(6));
    m(0, 1) = T(-2);
    CHECK(m.to_host() == std::vector<T>{1, -2, 3, 4, 5, 6});

    auto v = ncp::Tensor<T>::from_host(values);
    CHECK(v.rank() == 1);
    CHECK(v.cols() == 6);

    auto f = ncp::Tensor<T>::filled(2, 2, T(7));
    CHECK(f.to_host() == std::vector<T>(4, T(7)));
    f.fill(T(0.5));
    CHECK(f.to_host() == std::vector<T>(4, T(0.5)));

    std::vector<T> out(4);
    f.copy_to_host(out);
    CHECK(out == std::vector<T>(4, T(0.5)));
    f.copy_from_host(std::vector<T>{1, 2, 3, 4});
    CHECK(f(1, 1) == T(4));
}

TEST_CASE("copies are explicit and deep; moves steal the buffer") {
    auto a = ncp::Tensor<double>::from_host(std::vector<double>{1, 2, 3, 4}, 2, 2);
    ncp::Tensor<double> b = a.clone();
    b(0, 0) = 9;
    CHECK(a(0, 0) == 1);
    CHECK(b.same_shape(a));

    ncp::Tensor<double> c(10, 10);
    const double* buffer = c.data();
    c.assign(a);  // fits: no new buffer
    CHECK(c.data() == buffer);
    CHECK(c.to_host() == a.to_host());
    CHECK(c.rank() == 2);
    c.assign(c);
    CHECK(c.to_host() == a.to_host());

    const double* owned = a.data();
    ncp::Tensor<double> d(std::move(a));
    CHECK(d.data() == owned);
    CHECK(a.data() == nullptr);  // NOLINT(bugprone-use-after-move): moved-from tensors are empty
    CHECK(a.size() == 0);
    ncp::Tensor<double> e;
    e = std::move(d);
    CHECK(e.data() == owned);
}

TEST_CASE("resize reuses capacity: no allocation unless it grows") {
    ncp::Tensor<float> t(8, 16);
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
    ncp::Tensor<float> like;
    like.resize_like(ncp::Tensor<float>(7));
    CHECK(like.rank() == 1);
    CHECK(like.cols() == 7);
}

TEST_CASE("bad shapes and host sizes are errors naming the shape") {
    ncp::Tensor<float> t;
    CHECK_THROWS_WITH_AS(t.resize(-1, 3), "Tensor: invalid shape -1 x 3", ncp::error);
    CHECK_THROWS_AS(t.resize(index_t{1} << 40, index_t{1} << 40), ncp::error);
    CHECK_THROWS_WITH_AS(ncp::Tensor<float>::from_host(std::vector<float>{1, 2, 3}, 2, 2),
                         "Tensor::copy_from_host: 3 host values for a tensor of 2 x 2", ncp::error);
    std::vector<float> small(1);
    CHECK_THROWS_AS(ncp::Tensor<float>(2).copy_to_host(small), ncp::error);
}

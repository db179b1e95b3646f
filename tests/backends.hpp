#pragma once
/// The backend under test, for the test bodies shared by every backend (tests/backend/kernel_api.cpp,
/// tests/tensor/tensor.cpp, tests/autograd/*.cpp, tests/nn/predictor.cpp, tests/optim/optimizers.cpp,
/// tests/search/editor.cpp): the g++ test programs run them on the CPU backend; tests/gpu compiles the same sources as
/// CUDA with NCP_WITH_CUBLAS and runs them on the cuBLAS backend. Test data is made and
/// checked on the host and crosses to the backend through from_host / to_host only, as a user's data does.

#include <cstdint>
#include <random>
#include <vector>

#ifdef NCP_WITH_CUBLAS
#include "ncp/backend/cublas.hpp"
#endif
#include "ncp/tensor/tensor.hpp"

namespace ncp::test {

#ifdef NCP_WITH_CUBLAS
using backend_under_test = ncp::backend::cublas;
#else
using backend_under_test = ncp::backend::eigen_cpu;
#endif

/// A TEST_CASE_TEMPLATE parameter: the value type and the backend one instance of a test body runs with.
template <class T, class B = backend_under_test>
struct on {
    using value_type = T;
    using backend = B;
};

/// n values uniform in [lo, hi], the same for a seed on every backend.
template <class T>
std::vector<T> uniform_values(std::size_t n, std::uint64_t seed, double lo = -1, double hi = 1) {
    std::mt19937_64 gen(seed);
    std::uniform_real_distribution<double> u(lo, hi);
    std::vector<T> v(n);
    for (T& x : v) x = static_cast<T>(u(gen));
    return v;
}

/// A rows x cols tensor of uniform_values.
template <class T, class B>
Tensor<T, B> uniform(index_t rows, index_t cols, std::uint64_t seed, double lo = -1, double hi = 1) {
    return Tensor<T, B>::from_host(uniform_values<T>(static_cast<std::size_t>(rows * cols), seed, lo, hi), rows,
                                   cols);
}

/// A host copy of a tensor's values, read by (i, j) or [i].
template <class T>
struct host_matrix {
    index_t rows = 0;
    index_t cols = 0;
    std::vector<T> values;

    T operator()(index_t i, index_t j) const { return values[static_cast<std::size_t>(i * cols + j)]; }
    T operator[](index_t i) const { return values[static_cast<std::size_t>(i)]; }
};

/// The values of t, on the host.
template <class T, class B>
host_matrix<T> host(const Tensor<T, B>& t) {
    return {t.rows(), t.cols(), t.to_host()};
}

}  // namespace ncp::test

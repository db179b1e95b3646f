#pragma once
/// Forward declarations and the default template arguments, declared once here.

#include <cstddef>

#include "ncp/config.hpp"

namespace ncp {

/// Sizes and indices of tensors (signed, like Eigen::Index).
using index_t = std::ptrdiff_t;

namespace backend {
/// Host CPU; kernels from Eigen.
struct eigen_cpu {};
/// NVIDIA GPU; kernels from cuBLAS and CUDA (include "ncp/backend/cublas.hpp", link ncp::cublas).
struct cublas;
}  // namespace backend

/// The backend used when none is named.
using default_backend = backend::eigen_cpu;

namespace detail {
/// Storage and numerical kernels, specialised once per backend tag.
template <class Backend>
struct kernels;
}  // namespace detail

/// Dense row-major tensor whose storage lives on `Backend`.
template <class T = float, class Backend = default_backend>
class Tensor;

}  // namespace ncp

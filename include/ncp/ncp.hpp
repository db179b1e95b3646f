#pragma once
/// Umbrella header: everything ncp offers on the CPU. The cuBLAS backend is opt-in: "ncp/backend/cublas.hpp".

#include "ncp/fwd.hpp"
#include "ncp/backend/eigen_cpu.hpp"
#include "ncp/tensor/tensor.hpp"
#include "ncp/autograd/tape.hpp"
#include "ncp/autograd/ops.hpp"

#pragma once
/// Umbrella header: everything ncp offers on the CPU. The cuBLAS backend is opt-in: "ncp/backend/cublas.hpp".

#include "ncp/fwd.hpp"

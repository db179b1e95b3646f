#pragma once
/// Umbrella header: everything ncp offers on the CPU. The cuBLAS backend is opt-in: "ncp/backend/cublas.hpp".

#include "ncp/fwd.hpp"
#include "ncp/data/format.hpp"
#include "ncp/data/dataset.hpp"
#include "ncp/io/atomic.hpp"
#include "ncp/io/json.hpp"
#include "ncp/io/benchmark_writer.hpp"

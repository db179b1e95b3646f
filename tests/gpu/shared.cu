// The backend-generic test sources, compiled again as CUDA with NCP_WITH_CUBLAS: tests/backends.hpp then runs their
// bodies on the cuBLAS backend. Included into one translation unit because each nvcc run repeats a fixed cost
// (front end, host compiler, one device pass per architecture) that dominates these small sources.
#include "backend/kernel_api.cpp"
#include "tensor/tensor.cpp"
#include "autograd/tape.cpp"
#include "autograd/ops.cpp"
#include "nn/predictor.cpp"
#include "optim/optimizers.cpp"
#include "search/editor.cpp"

#pragma once
/// The NVIDIA GPU backend: buffers in device memory from a caching allocator, GEMM through cuBLAS, and every other
/// entry point of kernel_api.hpp as a CUDA kernel running the functors of backend/functors.hpp, so the CPU and the
/// GPU compute the same formulas. Host memory is touched only by to_host and from_host. Work goes to one stream in
/// call order; to_host and from_host wait for it, so results reach the host complete.
///
/// Use it through the CMake target ncp::cublas (which defines NCP_WITH_CUBLAS and links cuBLAS and the CUDA runtime)
/// in translation units compiled as CUDA: `ncp::Tensor<float, ncp::backend::cublas>`, `autograd::tape<float,
/// ncp::backend::cublas>`, and so on. This is the only header of the library that includes CUDA headers.

#if !defined(NCP_WITH_CUBLAS)
#error "ncp/backend/cublas.hpp: the cuBLAS backend is not enabled here. Link the CMake target ncp::cublas (configure ncp with -DNCP_WITH_CUBLAS=ON; consumers: find_package(ncp COMPONENTS cublas)), which defines NCP_WITH_CUBLAS and links cuBLAS and the CUDA runtime."
#elif !defined(__CUDACC__)
#error "ncp/backend/cublas.hpp holds CUDA kernels: compile this translation unit as CUDA (a .cu file, or set_source_files_properties(FILE PROPERTIES LANGUAGE CUDA))."
#endif

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <climits>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "ncp/backend/kernel_api.hpp"

namespace ncp {

namespace backend {

/// NVIDIA GPU; kernels from cuBLAS and CUDA (declared in fwd.hpp).
struct cublas {};

/// The CUDA devices this process can use.
struct cuda_devices {
    int count = 0;        ///< usable devices
    std::string problem;  ///< why there are none (CUDA's error name and text); empty when count > 0
};

/// Asks the CUDA runtime how many devices there are. A missing device or driver is an answer, not an error.
inline cuda_devices probe_cuda_devices() {
    cuda_devices found;
    const cudaError_t status = cudaGetDeviceCount(&found.count);
    if (status != cudaSuccess) {
        (void)cudaGetLastError();
        found.count = 0;
        found.problem = std::string("cudaGetDeviceCount failed: ") + cudaGetErrorName(status) + " (" +
                        cudaGetErrorString(status) + ")";
    } else if (found.count == 0) {
        found.problem = "cudaGetDeviceCount found no device";
    }
    return found;
}

/// Throws ncp::error ("no CUDA device is usable: ...") unless probe_cuda_devices() finds one.
inline void require_cuda_device() {
    const cuda_devices found = probe_cuda_devices();
    if (found.count == 0) throw error("no CUDA device is usable: " + found.problem);
}

/// Makes CUDA device `device` (CUDA's numbering, from 0) the current one, which the backend then uses from its first
/// call on (call this before it). Throws ncp::error when no device is usable, naming the device and how many there
/// are when it does not exist, or CUDA's reason when it cannot be selected.
inline void select_cuda_device(int device) {
    require_cuda_device();
    const int count = probe_cuda_devices().count;
    if (device < 0 || device >= count)
        throw error("CUDA device " + std::to_string(device) + " does not exist (CUDA sees " + std::to_string(count) +
                    " device" + (count == 1 ? "" : "s") + ", numbered from 0)");
    if (const cudaError_t status = cudaSetDevice(device); status != cudaSuccess)
        throw error("cudaSetDevice(" + std::to_string(device) + ") failed: " + cudaGetErrorName(status) + " (" +
                    cudaGetErrorString(status) + ")");
}

}  // namespace backend

namespace detail {

namespace cuda {

/// Threads per block of every kernel here (a multiple of the warp size).
inline constexpr int threads = 256;
/// The most blocks of a grid-stride launch; also the most partial sums of a full reduction.
inline constexpr index_t max_blocks = 1024;

/// Throws ncp::error naming the failed CUDA call and CUDA's error code.
[[noreturn]] inline void fail(cudaError_t status, const std::string& call) {
    (void)cudaGetLastError();  // a non-sticky error would otherwise be reported again by the next launch check
    throw error("cuBLAS backend: " + call + " failed: " + cudaGetErrorName(status) + " (" +
                cudaGetErrorString(status) + ")");
}
/// fail() unless the CUDA call succeeded.
inline void check(cudaError_t status, const char* call) {
    if (status != cudaSuccess) fail(status, call);
}
/// Turns a failed cuBLAS call into ncp::error naming the call and the cuBLAS status.
inline void check(cublasStatus_t status, const char* call) {
    if (status == CUBLAS_STATUS_SUCCESS) return;
    throw error(std::string("cuBLAS backend: ") + call + " failed: " + cublasGetStatusName(status) + " (" +
                cublasGetStatusString(status) + ")");
}

/// Device memory in power-of-two blocks of at least 256 bytes. Freed blocks wait in a free list per size, so a loop
/// that allocates the same sizes again (a training step, a batch of search steps) stops calling cudaMalloc after
/// its first pass; a block may be handed out again at once because every use of it is queued on the one stream.
class device_pool {
public:
    /// A block of at least `bytes` bytes, 256-byte aligned.
    void* take(std::size_t bytes) {
        const int b = bucket(bytes);
        {
            const std::lock_guard lock(m_mutex);
            if (!m_free[b].empty()) {
                void* p = m_free[b].back();
                m_free[b].pop_back();
                return p;
            }
        }
        const std::size_t size = std::size_t{1} << b;
        void* p = nullptr;
        cudaError_t status = cudaMalloc(&p, size);
        if (status == cudaErrorMemoryAllocation) {
            (void)cudaGetLastError();
            release();  // cached blocks of other sizes may be what is missing
            status = cudaMalloc(&p, size);
        }
        if (status != cudaSuccess) fail(status, "cudaMalloc of " + std::to_string(size) + " bytes");
        m_mallocs.fetch_add(1, std::memory_order_relaxed);
        return p;
    }
    /// Returns a block that take(bytes) gave, for reuse.
    void give(void* p, std::size_t bytes) noexcept {
        const int b = bucket(bytes);
        const std::lock_guard lock(m_mutex);
        try {
            m_free[b].push_back(p);
        } catch (...) {
            (void)cudaFree(p);  // no room to remember it: give it back to CUDA instead
        }
    }
    /// cudaMalloc calls so far.
    std::size_t mallocs() const noexcept { return m_mallocs.load(std::memory_order_relaxed); }

private:
    /// log2 of the block size serving `bytes`.
    static int bucket(std::size_t bytes) { return std::max(8, static_cast<int>(std::bit_width(bytes - 1))); }
    /// Frees every cached block.
    void release() noexcept {
        const std::lock_guard lock(m_mutex);
        for (std::vector<void*>& blocks : m_free) {
            for (void* p : blocks) (void)cudaFree(p);
            blocks.clear();
        }
    }

    std::mutex m_mutex;
    std::array<std::vector<void*>, 64> m_free;  ///< free blocks by log2 of their size
    std::atomic<std::size_t> m_mallocs{0};
};

/// The stream every kernel and copy runs on, and the cuBLAS handle bound to it; made on first use, on the device
/// current then.
struct stream_context {
    cudaStream_t stream = nullptr;
    cublasHandle_t blas = nullptr;

    stream_context() {
        check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
        try {
            check(cublasCreate(&blas), "cublasCreate");
            // Full FP32 products (no TF32): results agree with the CPU backend to float rounding.
            check(cublasSetMathMode(blas, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
            check(cublasSetStream(blas, stream), "cublasSetStream");
        } catch (...) {
            if (blas != nullptr) (void)cublasDestroy(blas);
            (void)cudaStreamDestroy(stream);
            throw;
        }
    }
};

// Both are created once and never destroyed: tensors with static storage may free their buffers while the program
// exits, after other statics are gone, and the driver releases everything of a process when it ends.
inline device_pool& memory() {
    static device_pool* pool = new device_pool();
    return *pool;
}
inline stream_context& context() {
    static stream_context* ctx = new stream_context();
    return *ctx;
}

/// Reports a failed kernel launch (bad configuration, no device) as ncp::error naming the kernel.
inline void check_launch(const char* kernel) {
    const cudaError_t status = cudaGetLastError();
    if (status != cudaSuccess) fail(status, std::string("launching ") + kernel);
}

/// Blocks for n work items, `per_thread` each, at most max_blocks (the kernels loop over the rest).
inline unsigned blocks_for(index_t n, index_t per_thread = 1) {
    const index_t per_block = threads * per_thread;
    return static_cast<unsigned>(std::clamp<index_t>((n + per_block - 1) / per_block, 1, max_blocks));
}

/// The operands of one kernel, passed by value as a kernel argument.
template <class T, std::size_t N>
struct operand_list {
    view<T> at[N];
};

template <class T>
__device__ inline T read(const view<T>& v, index_t i, index_t j) {
    return v.data == nullptr ? v.value : v.data[i * v.row_stride + j * v.col_stride];
}

template <class F, class T, std::size_t N, std::size_t... K>
__device__ inline T apply_at(const operand_list<T, N>& in, index_t i, index_t j, std::index_sequence<K...>) {
    return F::apply(read(in.at[K], i, j)...);
}

template <class F, class T, std::size_t N>
__device__ inline T apply_at(const operand_list<T, N>& in, index_t i, index_t j) {
    return apply_at<F>(in, i, j, std::make_index_sequence<N>{});
}

/// out = alpha s + beta out, ignoring out's old contents when beta == 0 (as every kernel of the API does).
template <class T>
__device__ inline void store(T* out, T s, T alpha, T beta) {
    *out = beta == T(0) ? alpha * s : alpha * s + beta * *out;
}

__device__ inline index_t first_item() { return static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ inline index_t item_stride() { return static_cast<index_t>(gridDim.x) * blockDim.x; }

template <class T>
__device__ inline T warp_sum(T v) {
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffU, v, offset);
    return v;
}
/// The sum of v over a one-dimensional block, in thread 0. A fixed tree: the result does not depend on timing.
template <class T>
__device__ inline T block_sum(T v) {
    __shared__ T warps[threads / 32];
    v = warp_sum(v);
    const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    if (lane == 0) warps[warp] = v;
    __syncthreads();
    if (warp == 0) v = warp_sum(lane < blockDim.x / 32 ? warps[lane] : T(0));
    return v;
}

/// out(i, j) = alpha F(in(i, j)...) + beta out(i, j): one thread per element, grid-stride.
template <class F, class T, std::size_t N>
__global__ void map_kernel(index_t rows, index_t cols, T alpha, T beta, T* out, index_t ld_out,
                           operand_list<T, N> in) {
    const index_t n = rows * cols;
    for (index_t k = first_item(); k < n; k += item_stride()) {
        const index_t i = k / cols, j = k - i * cols;
        store(out + i * ld_out + j, apply_at<F>(in, i, j), alpha, beta);
    }
}

/// Sums F over all elements: each block sums its share. A single block stores the result; several write one partial
/// sum each, which finish_sum_kernel adds up.
template <class F, class T, std::size_t N>
__global__ void sum_all_kernel(index_t rows, index_t cols, T alpha, T beta, T* out, T* partial,
                               operand_list<T, N> in) {
    const index_t n = rows * cols;
    T acc = T(0);
    for (index_t k = first_item(); k < n; k += item_stride()) {
        const index_t i = k / cols;
        acc += apply_at<F>(in, i, k - i * cols);
    }
    acc = block_sum(acc);
    if (threadIdx.x != 0) return;
    if (gridDim.x == 1) {
        store(out, acc, alpha, beta);
    } else {
        partial[blockIdx.x] = acc;
    }
}
template <class T>
__global__ void finish_sum_kernel(index_t parts, const T* partial, T alpha, T beta, T* out) {
    T acc = T(0);
    for (index_t k = threadIdx.x; k < parts; k += blockDim.x) acc += partial[k];
    acc = block_sum(acc);
    if (threadIdx.x == 0) store(out, acc, alpha, beta);
}

/// Per-column sums (over the rows): blocks of 32 columns x 8 row lanes; each column's 8 lane sums meet in shared
/// memory. Reads are coalesced along the row.
template <class F, class T, std::size_t N>
__global__ void sum_rows_kernel(index_t rows, index_t cols, T alpha, T beta, T* out, operand_list<T, N> in) {
    __shared__ T lanes[8][33];
    for (index_t j0 = static_cast<index_t>(blockIdx.x) * 32; j0 < cols; j0 += static_cast<index_t>(gridDim.x) * 32) {
        const index_t j = j0 + threadIdx.x;
        T acc = T(0);
        if (j < cols) {
            for (index_t i = threadIdx.y; i < rows; i += 8) acc += apply_at<F>(in, i, j);
        }
        lanes[threadIdx.y][threadIdx.x] = acc;
        __syncthreads();
        if (threadIdx.y == 0 && j < cols) {
            T s = T(0);
            for (int r = 0; r < 8; ++r) s += lanes[r][threadIdx.x];
            store(out + j, s, alpha, beta);
        }
        __syncthreads();
    }
}

/// Per-row sums (over the columns): one warp per row, 8 rows per block.
template <class F, class T, std::size_t N>
__global__ void sum_cols_kernel(index_t rows, index_t cols, T alpha, T beta, T* out, operand_list<T, N> in) {
    for (index_t i = static_cast<index_t>(blockIdx.x) * 8 + threadIdx.y; i < rows;
         i += static_cast<index_t>(gridDim.x) * 8) {
        T acc = T(0);
        for (index_t j = threadIdx.x; j < cols; j += 32) acc += apply_at<F>(in, i, j);
        acc = warp_sum(acc);
        if (threadIdx.x == 0) store(out + i, acc, alpha, beta);
    }
}

/// Inverted dropout from the counter-based stream: element i draws random_bits(key, counter + i), exactly as the
/// CPU backend does, so both backends make the same masks.
template <class T>
__global__ void dropout_kernel(index_t n, std::uint32_t limit, T scale, std::uint64_t key, std::uint64_t counter,
                               const T* x, T* mask, T* y) {
    for (index_t i = first_item(); i < n; i += item_stride()) {
        const bool keep = random_bits(key, counter + static_cast<std::uint64_t>(i)) >= limit;
        mask[i] = keep ? scale : T(0);
        y[i] = x[i] * mask[i];
    }
}

}  // namespace cuda

template <>
struct kernels<backend::cublas> {
    /// Backend pointers are device pointers.
    static constexpr bool host_accessible = false;

    /// n uninitialised elements of device memory (256-byte aligned) from the caching pool; null when n == 0.
    template <class T>
    static T* allocate(index_t n) {
        if (n <= 0) return nullptr;
        if (static_cast<std::size_t>(n) > static_cast<std::size_t>(PTRDIFF_MAX) / sizeof(T)) throw std::bad_alloc();
        T* p = static_cast<T*>(cuda::memory().take(static_cast<std::size_t>(n) * sizeof(T)));
        m_allocations.fetch_add(1, std::memory_order_relaxed);
        return p;
    }
    /// Returns what allocate gave to the pool.
    template <class T>
    static void deallocate(T* p, index_t n) noexcept {
        if (p != nullptr) cuda::memory().give(p, static_cast<std::size_t>(n) * sizeof(T));
    }
    /// Number of allocate calls that allocated, since the program started (whether or not the pool had a block).
    static std::size_t allocations() noexcept { return m_allocations.load(std::memory_order_relaxed); }
    /// Number of cudaMalloc calls: allocations the pool could not serve from freed blocks.
    static std::size_t device_allocations() noexcept { return cuda::memory().mallocs(); }
    /// Waits until every kernel and copy issued so far has finished (to time them; to_host waits by itself).
    static void synchronize() { cuda::check(cudaStreamSynchronize(stream()), "cudaStreamSynchronize"); }

    /// dst[0, n) = src[0, n), device to device.
    template <class T>
    static void copy(index_t n, const T* src, T* dst) {
        if (n <= 0) return;
        cuda::check(cudaMemcpyAsync(dst, src, bytes<T>(n), cudaMemcpyDeviceToDevice, stream()),
                    "cudaMemcpyAsync (device to device)");
    }
    /// dst[0, n) = value.
    template <class T>
    static void fill(index_t n, T value, T* dst) {
        map<fn::identity>(1, n, T(1), T(0), dst, n, view<T>::constant(value));
    }
    /// Device to host memory, after everything queued before has finished.
    template <class T>
    static void to_host(index_t n, const T* src, T* host) {
        if (n <= 0) return;
        cuda::check(cudaMemcpyAsync(host, src, bytes<T>(n), cudaMemcpyDeviceToHost, stream()),
                    "cudaMemcpyAsync (device to host)");
        synchronize();
    }
    /// Host memory to device; returns when the copy is done, so the caller may reuse `host` at once.
    template <class T>
    static void from_host(index_t n, const T* host, T* dst) {
        if (n <= 0) return;
        cuda::check(cudaMemcpyAsync(dst, host, bytes<T>(n), cudaMemcpyHostToDevice, stream()),
                    "cudaMemcpyAsync (host to device)");
        synchronize();
    }

    /// Row-major C = alpha op(A) op(B) + beta C through cuBLAS, which is column-major: it sees every row-major
    /// matrix transposed, so it computes C^T = op(B)^T op(A)^T with the operands swapped.
    template <class T>
    static void gemm(bool trans_a, bool trans_b, index_t m, index_t n, index_t k, T alpha, const T* a, index_t lda,
                     const T* b, index_t ldb, T beta, T* c, index_t ldc) {
        if (m <= 0 || n <= 0) return;
        if (k <= 0) {  // nothing to multiply (cuBLAS would want leading dimensions of at least 1)
            scale(m, n, beta, c, ldc);
            return;
        }
        for (const index_t v : {m, n, k, lda, ldb, ldc}) {
            if (v > INT_MAX) {
                throw error("cuBLAS backend: gemm of " + std::to_string(m) + " x " + std::to_string(k) + " times " +
                            std::to_string(k) + " x " + std::to_string(n) + " exceeds cuBLAS's 32-bit sizes");
            }
        }
        const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
        const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
        const auto i = [](index_t v) { return static_cast<int>(v); };
        if constexpr (std::same_as<T, float>) {
            cuda::check(cublasSgemm(handle(), op_b, op_a, i(n), i(m), i(k), &alpha, b, i(ldb), a, i(lda), &beta, c,
                                    i(ldc)),
                        "cublasSgemm");
        } else {
            cuda::check(cublasDgemm(handle(), op_b, op_a, i(n), i(m), i(k), &alpha, b, i(ldb), a, i(lda), &beta, c,
                                    i(ldc)),
                        "cublasDgemm");
        }
    }

    /// out(i, j) = alpha F(in(i, j)...) + beta out(i, j).
    template <class F, class T, class... V>
        requires(std::same_as<V, view<T>> && ...)
    static void map(index_t rows, index_t cols, T alpha, T beta, T* out, index_t ld_out, const V&... in) {
        if (rows <= 0 || cols <= 0) return;
        if (ld_out == cols && (in.flattens(cols) && ...)) {
            cols *= rows;
            rows = 1;
        }
        cuda::map_kernel<F><<<cuda::blocks_for(rows * cols), cuda::threads, 0, stream()>>>(
            rows, cols, alpha, beta, out, ld_out, operands(in...));
        cuda::check_launch("map_kernel");
    }

    /// out = alpha (sum of F(in(i, j)...) over `over`) + beta out. The summation order is fixed by the shape, so
    /// results repeat exactly from run to run.
    template <class F, class T, class... V>
        requires(std::same_as<V, view<T>> && ...)
    static void reduce(axis over, index_t rows, index_t cols, T alpha, T beta, T* out, const V&... in) {
        const index_t outputs = over == axis::all ? 1 : (over == axis::rows ? cols : rows);
        if (outputs <= 0) return;
        if (rows <= 0 || cols <= 0) {
            scale(1, outputs, beta, out, outputs);
            return;
        }
        const auto ops = operands(in...);
        if (over == axis::rows) {
            const auto blocks = static_cast<unsigned>(std::min<index_t>((cols + 31) / 32, cuda::max_blocks));
            cuda::sum_rows_kernel<F><<<blocks, dim3(32, 8), 0, stream()>>>(rows, cols, alpha, beta, out, ops);
            cuda::check_launch("sum_rows_kernel");
        } else if (over == axis::cols) {
            const auto blocks = static_cast<unsigned>(std::min<index_t>((rows + 7) / 8, cuda::max_blocks));
            cuda::sum_cols_kernel<F><<<blocks, dim3(32, 8), 0, stream()>>>(rows, cols, alpha, beta, out, ops);
            cuda::check_launch("sum_cols_kernel");
        } else {
            // At least 8 elements per thread: small sums (the losses) take one block and one launch.
            const unsigned blocks = cuda::blocks_for(rows * cols, 8);
            T* partial = nullptr;
            if (blocks > 1) partial = static_cast<T*>(cuda::memory().take(blocks * sizeof(T)));
            cuda::sum_all_kernel<F><<<blocks, cuda::threads, 0, stream()>>>(rows, cols, alpha, beta, out, partial,
                                                                            ops);
            cuda::check_launch("sum_all_kernel");
            if (blocks > 1) {
                cuda::finish_sum_kernel<<<1, cuda::threads, 0, stream()>>>(index_t{blocks}, partial, alpha, beta, out);
                cuda::memory().give(partial, blocks * sizeof(T));  // queued uses of it come first on the stream
                cuda::check_launch("finish_sum_kernel");
            }
        }
    }

    /// Inverted dropout with the counter-based stream (key, counter): mask = 0 or 1 / (1 - p), y = x mask; the same
    /// masks as the CPU backend's.
    template <class T>
    static void dropout(index_t n, T p, std::uint64_t key, std::uint64_t counter, const T* x, T* mask, T* y) {
        if (n <= 0) return;
        // keep <=> bits >= ceil(p 2^32), as on the CPU.
        const double threshold = std::ceil(static_cast<double>(p) * 4294967296.0);
        if (threshold >= 4294967296.0) {
            fill(n, T(0), mask);
            fill(n, T(0), y);
            return;
        }
        cuda::dropout_kernel<<<cuda::blocks_for(n), cuda::threads, 0, stream()>>>(
            n, static_cast<std::uint32_t>(threshold), T(1) / (T(1) - p), key, counter, x, mask, y);
        cuda::check_launch("dropout_kernel");
    }

private:
    inline static std::atomic<std::size_t> m_allocations{0};

    static cudaStream_t stream() { return cuda::context().stream; }
    static cublasHandle_t handle() { return cuda::context().blas; }
    template <class T>
    static std::size_t bytes(index_t n) {
        return static_cast<std::size_t>(n) * sizeof(T);
    }
    template <class T, class... V>
    static cuda::operand_list<T, 1 + sizeof...(V)> operands(const view<T>& first, const V&... rest) {
        return {{first, rest...}};
    }
    /// c = beta c over rows x cols (zeros when beta == 0, whatever c held).
    template <class T>
    static void scale(index_t rows, index_t cols, T beta, T* c, index_t ldc) {
        map<fn::identity>(rows, cols, beta, T(0), c, ldc,
                          beta == T(0) ? view<T>::constant(T(0)) : view<T>::matrix(c, ldc));
    }
};

static_assert(backend::kernel_set<kernels<backend::cublas>>);

}  // namespace detail

}  // namespace ncp

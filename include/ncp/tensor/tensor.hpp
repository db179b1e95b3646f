#pragma once
/// `ncp::Tensor<T, Backend>`: a dense row-major 1-D or 2-D array of float or double whose storage the backend's
/// kernels allocate. It owns its buffer, moves but does not copy implicitly, and keeps its capacity when resized
/// smaller, so loops that reuse tensors stop allocating after their first iteration.

#include <concepts>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ncp/backend/eigen_cpu.hpp"
#include "ncp/backend/kernel_api.hpp"
#include "ncp/fwd.hpp"

namespace ncp {

template <class T, class Backend>
class Tensor {
    static_assert(std::same_as<T, float> || std::same_as<T, double>, "ncp::Tensor holds float or double");

public:
    using value_type = T;
    using backend_type = Backend;
    using kernels = detail::kernels<Backend>;

    /// An empty 1-D tensor.
    Tensor() noexcept = default;
    /// A 1-D tensor of n uninitialised elements (seen as 1 x n by the ops).
    explicit Tensor(index_t n) { resize(n); }
    /// A rows x cols tensor of uninitialised elements.
    Tensor(index_t rows, index_t cols) { resize(rows, cols); }
    Tensor(Tensor&& other) noexcept { swap(other); }
    Tensor& operator=(Tensor&& other) noexcept {
        Tensor(std::move(other)).swap(*this);
        return *this;
    }
    /// Copies are explicit: clone() or assign().
    Tensor(const Tensor&) = delete;
    Tensor& operator=(const Tensor&) = delete;
    ~Tensor() { kernels::template deallocate<T>(m_data, m_capacity); }

    /// rows x cols, every element `value`.
    static Tensor filled(index_t rows, index_t cols, T value) {
        Tensor t(rows, cols);
        t.fill(value);
        return t;
    }
    /// rows x cols from row-major host values.
    static Tensor from_host(std::span<const T> values, index_t rows, index_t cols) {
        Tensor t(rows, cols);
        t.copy_from_host(values);
        return t;
    }
    /// 1-D from host values.
    static Tensor from_host(std::span<const T> values) {
        Tensor t(static_cast<index_t>(values.size()));
        t.copy_from_host(values);
        return t;
    }

    /// A deep copy.
    [[nodiscard]] Tensor clone() const {
        Tensor t;
        t.assign(*this);
        return t;
    }
    /// Becomes a copy of `other` (shape and values), reusing this tensor's capacity.
    void assign(const Tensor& other) {
        if (&other == this) return;
        resize_like(other);
        kernels::copy(size(), other.data(), data());
    }
    /// Overwrites every element from row-major host values; their count must equal size().
    void copy_from_host(std::span<const T> values) {
        check_host_size(values.size(), "copy_from_host");
        kernels::from_host(static_cast<index_t>(values.size()), values.data(), data());
    }
    /// Copies every element into host memory of exactly size() elements.
    void copy_to_host(std::span<T> values) const {
        check_host_size(values.size(), "copy_to_host");
        kernels::to_host(static_cast<index_t>(values.size()), data(), values.data());
    }
    /// The elements in row-major order, on the host.
    [[nodiscard]] std::vector<T> to_host() const {
        std::vector<T> values(static_cast<std::size_t>(size()));
        copy_to_host(values);
        return values;
    }
    /// Sets every element to `value`.
    void fill(T value) { kernels::fill(size(), value, data()); }

    /// Becomes rows x cols (2-D); contents are unspecified afterwards. Allocates only beyond the capacity.
    void resize(index_t rows, index_t cols) {
        if (rows < 0 || cols < 0 || (rows > 0 && cols > PTRDIFF_MAX / rows)) {
            throw error("Tensor: invalid shape " + std::to_string(rows) + " x " + std::to_string(cols));
        }
        reserve(rows * cols);
        m_rank = 2;
        m_rows = rows;
        m_cols = cols;
    }
    /// Becomes 1-D with n elements; contents are unspecified afterwards.
    void resize(index_t n) {
        resize(1, n);
        m_rank = 1;
    }
    /// Takes the shape (and rank) of `other`.
    void resize_like(const Tensor& other) {
        resize(other.rows(), other.cols());
        m_rank = other.rank();
    }
    /// Makes room for n elements without changing the shape; contents are kept only when no allocation happens.
    void reserve(index_t n) {
        if (n <= m_capacity) return;
        T* fresh = kernels::template allocate<T>(n);
        kernels::template deallocate<T>(m_data, m_capacity);
        m_data = fresh;
        m_capacity = n;
    }

    /// 1 or 2.
    [[nodiscard]] int rank() const noexcept { return m_rank; }
    /// Rows (1 for a 1-D tensor).
    [[nodiscard]] index_t rows() const noexcept { return m_rows; }
    /// Columns (the length of a 1-D tensor).
    [[nodiscard]] index_t cols() const noexcept { return m_cols; }
    /// Number of elements.
    [[nodiscard]] index_t size() const noexcept { return m_rows * m_cols; }
    /// Elements the buffer holds before resize allocates.
    [[nodiscard]] index_t capacity() const noexcept { return m_capacity; }
    [[nodiscard]] bool empty() const noexcept { return size() == 0; }
    /// Whether both tensors have the same rows and columns.
    [[nodiscard]] bool same_shape(const Tensor& other) const noexcept {
        return m_rows == other.m_rows && m_cols == other.m_cols;
    }
    /// "rows x cols" (or "n" for 1-D), for error messages.
    [[nodiscard]] std::string shape_string() const {
        return m_rank == 1 ? std::to_string(m_cols) : std::to_string(m_rows) + " x " + std::to_string(m_cols);
    }

    /// The backend pointer to element (0, 0); host memory only where kernels::host_accessible.
    [[nodiscard]] T* data() noexcept { return m_data; }
    [[nodiscard]] const T* data() const noexcept { return m_data; }
    /// Element (i, j) (host backends only; unchecked).
    [[nodiscard]] T& operator()(index_t i, index_t j) noexcept
        requires kernels::host_accessible
    {
        return m_data[i * m_cols + j];
    }
    [[nodiscard]] const T& operator()(index_t i, index_t j) const noexcept
        requires kernels::host_accessible
    {
        return m_data[i * m_cols + j];
    }
    /// Element i in row-major order (host backends only; unchecked).
    [[nodiscard]] T& operator[](index_t i) noexcept
        requires kernels::host_accessible
    {
        return m_data[i];
    }
    [[nodiscard]] const T& operator[](index_t i) const noexcept
        requires kernels::host_accessible
    {
        return m_data[i];
    }

    void swap(Tensor& other) noexcept {
        std::swap(m_data, other.m_data);
        std::swap(m_capacity, other.m_capacity);
        std::swap(m_rows, other.m_rows);
        std::swap(m_cols, other.m_cols);
        std::swap(m_rank, other.m_rank);
    }

private:
    void check_host_size(std::size_t n, const char* what) const {
        if (n != static_cast<std::size_t>(size())) {
            throw error("Tensor::" + std::string(what) + ": " + std::to_string(n) + " host values for a tensor of " +
                        shape_string());
        }
    }

    T* m_data = nullptr;
    index_t m_capacity = 0;
    index_t m_rows = 1;
    index_t m_cols = 0;
    int m_rank = 1;
};

}  // namespace ncp

#pragma once
/// A vector with its capacity fixed at compile time: no allocation, usable in constant expressions.

#include <cstddef>
#include <initializer_list>

#include "ncp/config.hpp"

namespace ncp::arch::detail {

/// Up to `N` elements stored inline. The slots past size() stay default-initialised (not zeroed), so building a
/// large graph writes only what it uses; copies touch only the live elements for the same reason, and because
/// reading an uninitialised slot is not allowed in a constant expression.
template <class T, std::size_t N>
class static_vector {
public:
    using value_type = T;

    constexpr static_vector() = default;
    constexpr static_vector(std::initializer_list<T> values) {
        for (const T& v : values) push_back(v);
    }
    constexpr static_vector(const static_vector& other) : m_size(other.m_size) {
        for (std::size_t i = 0; i < m_size; ++i) m_data[i] = other.m_data[i];
    }
    constexpr static_vector& operator=(const static_vector& other) {
        m_size = other.m_size;
        for (std::size_t i = 0; i < m_size; ++i) m_data[i] = other.m_data[i];
        return *this;
    }

    /// The fixed capacity.
    static constexpr std::size_t capacity() { return N; }
    /// Number of live elements.
    constexpr std::size_t size() const { return m_size; }
    /// True when there is no element.
    constexpr bool empty() const { return m_size == 0; }

    /// Removes every element.
    constexpr void clear() { m_size = 0; }
    /// Appends a copy of `value`; throws ncp::error when full.
    constexpr void push_back(const T& value) { emplace_back() = value; }
    /// Appends a default-initialised element and returns it, to be filled in place; throws ncp::error when full.
    constexpr T& emplace_back() {
        if (m_size == N) throw error("static_vector: capacity " + std::to_string(N) + " exceeded");
        return m_data[m_size++];
    }

    constexpr T& operator[](std::size_t i) { return m_data[i]; }
    constexpr const T& operator[](std::size_t i) const { return m_data[i]; }
    constexpr T& back() { return m_data[m_size - 1]; }
    constexpr const T& back() const { return m_data[m_size - 1]; }
    constexpr T* begin() { return m_data; }
    constexpr T* end() { return m_data + m_size; }
    constexpr const T* begin() const { return m_data; }
    constexpr const T* end() const { return m_data + m_size; }

    friend constexpr bool operator==(const static_vector& a, const static_vector& b) {
        if (a.m_size != b.m_size) return false;
        for (std::size_t i = 0; i < a.m_size; ++i)
            if (!(a.m_data[i] == b.m_data[i])) return false;
        return true;
    }

private:
    T m_data[N];
    std::size_t m_size = 0;
};

}  // namespace ncp::arch::detail

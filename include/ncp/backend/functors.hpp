#pragma once
/// Element-wise functors and the counter-based random bits, shared by every backend.
///
/// Each functor is a stateless struct with one `static T apply(...)`, callable on the host and (through
/// NCP_HOST_DEVICE) on a CUDA device. Kernels take the functor as a template argument, so a backend runs the same
/// formula everywhere. The CPU formulas avoid branches and library calls: plain arithmetic lets the compiler
/// vectorise the loops that call them (std::exp does not vectorise without -ffast-math).

#include <bit>
#include <cmath>
#include <cstdint>

#include "ncp/config.hpp"

namespace ncp::detail {

namespace math {

/// e^x to within 2 ulp for |x| < 87 (beyond it the input is clamped, so the result stays finite); NaN propagates.
NCP_HOST_DEVICE inline float exp(float x) {
#ifdef __CUDA_ARCH__
    return ::expf(x);
#else
    x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
    // Round x / ln2 to the nearest integer n with the 1.5 * 2^23 shifter; n's bits then sit in t's low bits.
    constexpr float shifter = 12582912.0f;
    const float t = x * 1.44269504088896341f + shifter;
    const float n = t - shifter;
    const std::int32_t ni = std::bit_cast<std::int32_t>(t) - std::bit_cast<std::int32_t>(shifter);
    // r = x - n ln2 in two parts (Cody-Waite) so the reduction stays exact.
    const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    return p * std::bit_cast<float>((ni + 127) << 23);
#endif
}

/// e^x to within 2 ulp for |x| < 708 (beyond it the input is clamped); NaN propagates.
NCP_HOST_DEVICE inline double exp(double x) {
#ifdef __CUDA_ARCH__
    return ::exp(x);
#else
    x = x < -708.3 ? -708.3 : (x > 709.0 ? 709.0 : x);
    constexpr double shifter = 6755399441055744.0;  // 1.5 * 2^52
    const double t = x * 1.4426950408889634074 + shifter;
    const double n = t - shifter;
    const std::int64_t ni = std::bit_cast<std::int64_t>(t) - std::bit_cast<std::int64_t>(shifter);
    const double r = (x - n * 6.93145751953125e-1) - n * 1.42860682030941723212e-6;
    // Taylor series to degree 13: the remainder on |r| <= ln2 / 2 is below 1e-17.
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r * r + r + 1.0;
    return p * std::bit_cast<double>((ni + 1023) << 52);
#endif
}

/// 1 / (1 + e^-x).
template <class T>
NCP_HOST_DEVICE inline T sigmoid(T x) {
    return T(1) / (T(1) + exp(-x));
}

/// 1 / sqrt(x), as one division of the correctly rounded square root.
template <class T>
NCP_HOST_DEVICE inline T rsqrt(T x) {
    using std::sqrt;
    return T(1) / sqrt(x);
}

/// -1, 0 or 1 (0 for NaN), as PyTorch's sign in the L1 gradient.
template <class T>
NCP_HOST_DEVICE inline T sign(T x) {
    return T(x > T(0)) - T(x < T(0));
}

}  // namespace math

/// The "lowbias32" integer hash (C. Wellons): a bijection on 32 bits with good avalanche.
NCP_HOST_DEVICE inline std::uint32_t mix32(std::uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

/// Bits of one element of a counter-based random stream: element `counter` of the stream named `key`. Any element
/// is computed on its own, so every backend and every thread count draws the same numbers.
NCP_HOST_DEVICE inline std::uint32_t random_bits(std::uint64_t key, std::uint64_t counter) {
    // Three keyed rounds: two keys differing in a few bits give unrelated streams, not shifted or permuted copies.
    const std::uint32_t ka = mix32(static_cast<std::uint32_t>(key) ^ 0x85ebca6bU);
    const std::uint32_t kb = mix32(static_cast<std::uint32_t>(key >> 32) ^ ka);
    std::uint32_t x = mix32(static_cast<std::uint32_t>(counter) ^ ka);
    x = mix32(x ^ kb ^ (0x9e3779b9U * static_cast<std::uint32_t>(counter >> 32)));
    return mix32(x + ka);
}

/// The functors kernels apply element by element. Gradient functors take the upstream gradient `dy` last.
namespace fn {

/// x.
struct identity {
    template <class T>
    NCP_HOST_DEVICE static T apply(T x) { return x; }
};
/// a + b.
struct add {
    template <class T>
    NCP_HOST_DEVICE static T apply(T a, T b) { return a + b; }
};
/// a - b.
struct sub {
    template <class T>
    NCP_HOST_DEVICE static T apply(T a, T b) { return a - b; }
};
/// a * b.
struct mul {
    template <class T>
    NCP_HOST_DEVICE static T apply(T a, T b) { return a * b; }
};
/// a * b * c.
struct mul3 {
    template <class T>
    NCP_HOST_DEVICE static T apply(T a, T b, T c) { return a * b * c; }
};
/// a / b.
struct div {
    template <class T>
    NCP_HOST_DEVICE static T apply(T a, T b) { return a / b; }
};
/// d(a / b) / db times dy: -dy a / b^2.
struct div_rhs_grad {
    template <class T>
    NCP_HOST_DEVICE static T apply(T a, T b, T dy) { return -dy * a / (b * b); }
};
/// x clamped to [lo, hi] (NaN stays NaN).
struct clamp {
    template <class T>
    NCP_HOST_DEVICE static T apply(T x, T lo, T hi) { return x < lo ? lo : (x > hi ? hi : x); }
};
/// (x - mean)^2.
struct squared_deviation {
    template <class T>
    NCP_HOST_DEVICE static T apply(T x, T mean) { return (x - mean) * (x - mean); }
};
/// 1 / sqrt(variance + eps).
struct inverse_std {
    template <class T>
    NCP_HOST_DEVICE static T apply(T variance, T eps) { return math::rsqrt(variance + eps); }
};

/// max(x, 0).
struct relu {
    template <class T>
    NCP_HOST_DEVICE static T apply(T x) { return x > T(0) ? x : T(0); }
};
/// dy where x > 0.
struct relu_grad {
    template <class T>
    NCP_HOST_DEVICE static T apply(T x, T dy) { return x > T(0) ? dy : T(0); }
};
/// min(max(x, 0), 6).
struct relu6 {
    template <class T>
    NCP_HOST_DEVICE static T apply(T x) { return x > T(0) ? (x < T(6) ? x : T(6)) : T(0); }
};
/// dy where 0 < x < 6.
struct relu6_grad {
    template <class T>
    NCP_HOST_DEVICE static T apply(T x, T dy) { return (x > T(0) && x < T(6)) ? dy : T(0); }
};
/// 1 / (1 + e^-x).
struct sigmoid {
    template <class T>
    NCP_HOST_DEVICE static T apply(T x) { return math::sigmoid(x); }
};
/// dy y (1 - y), from the output y.
struct sigmoid_grad {
    template <class T>
    NCP_HOST_DEVICE static T apply(T y, T dy) { return dy * y * (T(1) - y); }
};
/// tanh x = 1 - 2 / (e^2x + 1).
struct tanh {
    template <class T>
    NCP_HOST_DEVICE static T apply(T x) { return T(1) - T(2) / (math::exp(T(2) * x) + T(1)); }
};
/// dy (1 - y^2), from the output y.
struct tanh_grad {
    template <class T>
    NCP_HOST_DEVICE static T apply(T y, T dy) { return dy * (T(1) - y * y); }
};
/// x sigmoid(x) (SiLU).
struct swish {
    template <class T>
    NCP_HOST_DEVICE static T apply(T x) { return x * math::sigmoid(x); }
};
/// dy (s + x s (1 - s)) with s = sigmoid(x).
struct swish_grad {
    template <class T>
    NCP_HOST_DEVICE static T apply(T x, T dy) {
        const T s = math::sigmoid(x);
        return dy * s * (T(1) + x * (T(1) - s));
    }
};

/// Batch norm output gamma (x - mean) istd + beta.
struct batch_norm {
    template <class T>
    NCP_HOST_DEVICE static T apply(T x, T mean, T istd, T gamma, T beta) { return (x - mean) * istd * gamma + beta; }
};
/// dy times the normalised input, dy (x - mean) istd: summed over the batch it is d loss / d gamma.
struct batch_norm_xhat_dy {
    template <class T>
    NCP_HOST_DEVICE static T apply(T x, T mean, T istd, T dy) { return (x - mean) * istd * dy; }
};
/// d loss / dx of batch norm with batch statistics over n rows, given the batch sums s = sum dy and
/// sx = sum dy xhat: gamma istd (dy - (s + xhat sx) / n). `inv_n` is 1 / n.
struct batch_norm_train_dx {
    template <class T>
    NCP_HOST_DEVICE static T apply(T x, T mean, T istd, T gamma, T s, T sx, T inv_n, T dy) {
        const T xhat = (x - mean) * istd;
        return gamma * istd * (dy - (s + xhat * sx) * inv_n);
    }
};

/// (p - t)^2.
struct squared_error {
    template <class T>
    NCP_HOST_DEVICE static T apply(T p, T t) { return (p - t) * (p - t); }
};
/// d/dp (p - t)^2 times dy.
struct squared_error_grad {
    template <class T>
    NCP_HOST_DEVICE static T apply(T p, T t, T dy) { return T(2) * (p - t) * dy; }
};
/// |p - t|.
struct absolute_error {
    template <class T>
    NCP_HOST_DEVICE static T apply(T p, T t) { return p > t ? p - t : t - p; }
};
/// sign(p - t) dy.
struct absolute_error_grad {
    template <class T>
    NCP_HOST_DEVICE static T apply(T p, T t, T dy) { return math::sign(p - t) * dy; }
};
/// Huber with beta 1: (p - t)^2 / 2 where |p - t| < 1, else |p - t| - 1/2.
struct smooth_l1_error {
    template <class T>
    NCP_HOST_DEVICE static T apply(T p, T t) {
        const T d = p > t ? p - t : t - p;
        return d < T(1) ? T(0.5) * d * d : d - T(0.5);
    }
};
/// clamp(p - t, -1, 1) dy.
struct smooth_l1_error_grad {
    template <class T>
    NCP_HOST_DEVICE static T apply(T p, T t, T dy) {
        const T d = p - t;
        return (d < T(-1) ? T(-1) : (d > T(1) ? T(1) : d)) * dy;
    }
};

}  // namespace fn

}  // namespace ncp::detail

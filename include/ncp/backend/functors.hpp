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
#include <limits>
#include <type_traits>

#include "ncp/config.hpp"

namespace ncp::detail {

namespace math {

/// c ? a : b without a branch. Compilers that honour floating-point traps (the default) will not turn a branch with
/// arithmetic in its arms into a vector blend; selecting on the bits leaves them no branch to keep.
template <class T>
NCP_HOST_DEVICE inline T select(bool c, T a, T b) {
#ifdef __CUDA_ARCH__
    return c ? a : b;
#else
    using bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
    const bits mask = bits{0} - static_cast<bits>(c);
    return std::bit_cast<T>((std::bit_cast<bits>(a) & mask) | (std::bit_cast<bits>(b) & ~mask));
#endif
}

/// e^x to within 2 ulp for |x| < 87 (beyond it the input is clamped, so the result stays finite); NaN propagates.
NCP_HOST_DEVICE inline float exp(float x) {
#ifdef __CUDA_ARCH__
    return ::expf(x);
#else
    x = select(x < -87.3f, -87.3f, select(x > 88.3f, 88.3f, x));
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
    x = select(x < -708.3, -708.3, select(x > 709.0, 709.0, x));
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

/// 1 / sqrt(x) for x > 0 (NaN for x < 0 or NaN), to within 2 ulp: Newton steps from a bit-level first guess,
/// because std::sqrt does not vectorise while it may set errno.
NCP_HOST_DEVICE inline float rsqrt(float x) {
#ifdef __CUDA_ARCH__
    return ::rsqrtf(x);
#else
    float y = std::bit_cast<float>(0x5f375a86 - (std::bit_cast<std::int32_t>(x) >> 1));
    const float half = 0.5f * x;
    y = y * (1.5f - half * y * y);
    y = y * (1.5f - half * y * y);
    y = y * (1.5f - half * y * y);
    return select(x >= 0.0f, y, std::numeric_limits<float>::quiet_NaN());
#endif
}
NCP_HOST_DEVICE inline double rsqrt(double x) {
#ifdef __CUDA_ARCH__
    return ::rsqrt(x);
#else
    double y = std::bit_cast<double>(0x5fe6eb50c7b537a9LL - (std::bit_cast<std::int64_t>(x) >> 1));
    const double half = 0.5 * x;
    y = y * (1.5 - half * y * y);
    y = y * (1.5 - half * y * y);
    y = y * (1.5 - half * y * y);
    y = y * (1.5 - half * y * y);
    return select(x >= 0.0, y, std::numeric_limits<double>::quiet_NaN());
#endif
}

/// The correctly rounded square root (IEEE on both sides, as torch's sqrt).
template <class T>
NCP_HOST_DEVICE inline T sqrt(T x) {
#ifdef __CUDA_ARCH__
    return ::sqrt(x);
#else
    return std::sqrt(x);
#endif
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

/// The 2^32 consecutive elements of a counter-based random stream that share the high word of their counter.
/// Kernels make one per block and call it per element, so their loops stay in 32-bit arithmetic.
struct random_block {
    std::uint32_t ka;  ///< key words mixed from the stream's key and the block
    std::uint32_t kb;

    NCP_HOST_DEVICE random_block(std::uint64_t key, std::uint32_t counter_high)
        : ka(mix32(static_cast<std::uint32_t>(key) ^ 0x85ebca6bU)),
          kb(mix32(static_cast<std::uint32_t>(key >> 32) ^ ka) ^ (0x9e3779b9U * counter_high)) {}
    /// Bits of the element whose counter's low word is `counter_low`: three keyed rounds, so that two keys differing
    /// in a few bits give unrelated streams, not shifted or permuted copies.
    NCP_HOST_DEVICE std::uint32_t operator()(std::uint32_t counter_low) const {
        std::uint32_t x = mix32(counter_low ^ ka);
        x = mix32(x ^ kb);
        return mix32(x + ka);
    }
};

/// Bits of element `counter` of the random stream named `key`. Any element is computed on its own, so every
/// backend and every thread count draws the same numbers.
NCP_HOST_DEVICE inline std::uint32_t random_bits(std::uint64_t key, std::uint64_t counter) {
    return random_block(key, static_cast<std::uint32_t>(counter >> 32))(static_cast<std::uint32_t>(counter));
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
    NCP_HOST_DEVICE static T apply(T x, T lo, T hi) { return math::select(x < lo, lo, math::select(x > hi, hi, x)); }
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
    NCP_HOST_DEVICE static T apply(T x) { return math::select(x > T(0), x, T(0)); }
};
/// dy where x > 0.
struct relu_grad {
    template <class T>
    NCP_HOST_DEVICE static T apply(T x, T dy) { return math::select(x > T(0), dy, T(0)); }
};
/// min(max(x, 0), 6).
struct relu6 {
    template <class T>
    NCP_HOST_DEVICE static T apply(T x) { return math::select(x > T(0), math::select(x < T(6), x, T(6)), T(0)); }
};
/// dy where 0 < x < 6.
struct relu6_grad {
    template <class T>
    NCP_HOST_DEVICE static T apply(T x, T dy) { return math::select((x > T(0)) & (x < T(6)), dy, T(0)); }
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
/// x sigmoid(x) in one pass, for a forward pass whose backward will not need sigmoid(x): the same operations as
/// sigmoid followed by mul, so the same bits.
struct swish {
    template <class T>
    NCP_HOST_DEVICE static T apply(T x) { return mul::apply(x, math::sigmoid(x)); }
};
/// d swish(x) / dx times dy, from x and s = sigmoid(x) (which swish's forward keeps): dy s (1 + x (1 - s)).
struct swish_grad {
    template <class T>
    NCP_HOST_DEVICE static T apply(T x, T s, T dy) { return dy * s * (T(1) + x * (T(1) - s)); }
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
    NCP_HOST_DEVICE static T apply(T p, T t) { return math::select(p > t, p - t, t - p); }
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
        const T d = math::select(p > t, p - t, t - p);
        return math::select(d < T(1), T(0.5) * d * d, d - T(0.5));
    }
};
/// clamp(p - t, -1, 1) dy.
struct smooth_l1_error_grad {
    template <class T>
    NCP_HOST_DEVICE static T apply(T p, T t, T dy) {
        const T d = p - t;
        return math::select(d < T(-1), T(-1), math::select(d > T(1), T(1), d)) * dy;
    }
};

// The optimisers' updates (optim/optimizers.hpp), one PyTorch tensor op each, rounded to T as PyTorch rounds it.

/// g + l2 p: the gradient with L2 decay (grad.add(param, alpha=weight_decay)).
struct decayed_gradient {
    template <class T>
    NCP_HOST_DEVICE static T apply(T g, T p, T l2) { return g + l2 * p; }
};
/// m beta + (1 - beta) g: a moving average (exp_avg.mul_(beta1).add_(g, alpha=1-beta1); SGD's momentum buffer with
/// dampening in place of beta1).
struct moving_average {
    template <class T>
    NCP_HOST_DEVICE static T apply(T m, T g, T beta, T one_minus_beta) { return m * beta + one_minus_beta * g; }
};
/// v beta + (1 - beta) g^2 (exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1-beta2)).
struct moving_square {
    template <class T>
    NCP_HOST_DEVICE static T apply(T v, T g, T beta, T one_minus_beta) { return v * beta + one_minus_beta * g * g; }
};
/// Adam's step p - step_size m / (sqrt(v) / sqrt(bias_correction2) + eps), with neg_step_size = -step_size.
struct adam_step {
    template <class T>
    NCP_HOST_DEVICE static T apply(T p, T m, T v, T bias_correction2_sqrt, T eps, T neg_step_size) {
        const T denom = math::sqrt(v) / bias_correction2_sqrt + eps;
        return p + neg_step_size * m / denom;
    }
};
/// d + momentum buf: Nesterov's look-ahead (d_p.add(buf, alpha=momentum)).
struct nesterov {
    template <class T>
    NCP_HOST_DEVICE static T apply(T d, T buf, T momentum) { return d + momentum * buf; }
};
/// p + neg_lr d (param.add_(d_p, alpha=-lr)).
struct sgd_step {
    template <class T>
    NCP_HOST_DEVICE static T apply(T p, T d, T neg_lr) { return p + neg_lr * d; }
};

}  // namespace fn

}  // namespace ncp::detail

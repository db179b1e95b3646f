// Single-core fp32 FMA peak: independent fused multiply-add chains on the widest vectors the build targets
// (AVX-512, else AVX2 + FMA, else SSE multiply + add). The other benchmarks are judged against this number.
#include <benchmark/benchmark.h>

#include <immintrin.h>

namespace {

// Chains: more than FMA latency x FMA units per cycle, so the units never wait.
constexpr int chains = 12;
constexpr int steps = 1024;

#if defined(__AVX512F__)
using vec = __m512;
constexpr int lanes = 16;
constexpr const char* isa = "avx512 fma";
inline vec splat(float x) { return _mm512_set1_ps(x); }
inline vec fma(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
inline float first(vec a) { return _mm512_cvtss_f32(a); }
#elif defined(__AVX2__) && defined(__FMA__)
using vec = __m256;
constexpr int lanes = 8;
constexpr const char* isa = "avx2 fma";
inline vec splat(float x) { return _mm256_set1_ps(x); }
inline vec fma(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
inline float first(vec a) { return _mm256_cvtss_f32(a); }
#else
using vec = __m128;
constexpr int lanes = 4;
constexpr const char* isa = "sse mul+add";
inline vec splat(float x) { return _mm_set1_ps(x); }
inline vec fma(vec a, vec b, vec c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }
inline float first(vec a) { return _mm_cvtss_f32(a); }
#endif

void fp32_fma_peak(benchmark::State& state) {
    vec acc[chains];
    for (int c = 0; c < chains; ++c) acc[c] = splat(static_cast<float>(c));
    const vec m = splat(0.999f);  // acc converges to 0.01 / (1 - 0.999): no overflow, no denormals
    const vec a = splat(0.01f);
    for (auto _ : state) {
        for (int s = 0; s < steps; ++s) {
            for (int c = 0; c < chains; ++c) acc[c] = fma(acc[c], m, a);
        }
        benchmark::ClobberMemory();
    }
    float sum = 0;
    for (int c = 0; c < chains; ++c) sum += first(acc[c]);
    benchmark::DoNotOptimize(sum);
    state.counters["GFLOP/s"] =
        benchmark::Counter(2.0 * lanes * chains * steps, benchmark::Counter::kIsIterationInvariantRate,
                           benchmark::Counter::kIs1000);
    state.SetLabel(isa);
}

}  // namespace

BENCHMARK(fp32_fma_peak);

/// The C++ side of bench/python_overhead.py: the in-process calls behind ncp.count and ncp.Model.predict, on the
/// same codes: $NCP_BENCH_CODES (one code per line, the script writes 100,000) and the model $NCP_BENCH_MODEL (a
/// checkpoint). Without them every benchmark says so and stops. Goal (README section "Python"): the package's calls
/// take at most 1.5x these times.

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "ncp/arch/code_list.hpp"
#include "ncp/arch/count.hpp"
#include "ncp/io/checkpoint.hpp"

namespace {

/// The codes of $NCP_BENCH_CODES, or nothing where it is unset.
const std::optional<std::vector<ncp::arch::code>>& codes() {
    static const auto read = []() -> std::optional<std::vector<ncp::arch::code>> {
        const char* file = std::getenv("NCP_BENCH_CODES");
        if (file == nullptr) return std::nullopt;
        const std::string text = ncp::arch::read_text(file);
        std::vector<ncp::arch::code> out;
        for (const auto& line : ncp::arch::code_lines(text)) out.push_back(ncp::arch::parse_code(line.text));
        return out;
    }();
    return read;
}

/// What ncp.count does per code: the exact cost in the benchmark's convention, stored as G and M.
void count(benchmark::State& state) {
    if (!codes()) {
        state.SkipWithError("NCP_BENCH_CODES is unset (run bench/python_overhead.py)");
        return;
    }
    const auto& all = *codes();
    std::vector<double> flops(all.size()), params(all.size());
    for (auto _ : state) {
        for (std::size_t i = 0; i < all.size(); ++i) {
            const ncp::arch::cost c = ncp::arch::count(all[i]);
            flops[i] = c.flops_g();
            params[i] = c.params_m();
        }
        benchmark::DoNotOptimize(flops.data());
        benchmark::DoNotOptimize(params.data());
    }
    state.counters["codes"] = static_cast<double>(all.size());
}

/// What ncp.Model.predict does: one call of the predictor on every code, in original units.
void predict(benchmark::State& state) {
    const char* model_file = std::getenv("NCP_BENCH_MODEL");
    if (!codes() || model_file == nullptr) {
        state.SkipWithError("NCP_BENCH_CODES or NCP_BENCH_MODEL is unset (run bench/python_overhead.py)");
        return;
    }
    auto model = ncp::io::load_predictor(model_file);
    std::vector<double> flat;
    for (const auto& k : *codes()) flat.insert(flat.end(), k.begin(), k.end());
    for (auto _ : state) benchmark::DoNotOptimize(model.predict(flat));
    state.counters["codes"] = static_cast<double>(codes()->size());
}

}  // namespace

BENCHMARK(count)->Name("python_overhead/count")->Unit(benchmark::kMillisecond);
BENCHMARK(predict)->Name("python_overhead/predict")->Unit(benchmark::kMillisecond);

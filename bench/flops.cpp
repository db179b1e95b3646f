/// Counting FLOPs/params of a whole NAS-Bench-MR setting's worth of architectures (2507) in one process.
/// Goal: < 5 ms per 2507. The search_list variant reads $NCP_DATA_DIR/search_list.txt; the random variant needs
/// nothing. The whole-process timing of `ncp flops --codes` is bench/flops_cli.sh.

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <vector>

#include "ncp/arch/code_list.hpp"
#include "ncp/arch/count.hpp"

namespace {

constexpr std::size_t setting_size = 2507;

/// Counts every code once per iteration.
void count_all(benchmark::State& state, const std::vector<ncp::arch::code>& codes) {
    for (auto _ : state) {
        for (const ncp::arch::code& k : codes) benchmark::DoNotOptimize(ncp::arch::count(k));
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * codes.size()));
    state.counters["codes"] = static_cast<double>(codes.size());
}

void search_list(benchmark::State& state) {
    const char* dir = std::getenv("NCP_DATA_DIR");
    const std::filesystem::path path = dir ? std::filesystem::path(dir) / "search_list.txt" : std::filesystem::path();
    if (!dir || !std::filesystem::exists(path)) {
        state.SkipWithError("NCP_DATA_DIR is unset or has no search_list.txt");
        for (auto _ : state) {
        }
        return;
    }
    const std::string text = ncp::arch::read_text(path);
    std::vector<ncp::arch::code> codes;
    for (const auto& line : ncp::arch::code_lines(text))
        if (codes.size() < setting_size) codes.push_back(ncp::arch::parse_code(line.text));
    count_all(state, codes);
}

void random_codes(benchmark::State& state) {
    std::mt19937 rng(233);
    std::vector<ncp::arch::code> codes(setting_size);
    // Counts 1..4, channels 8..128 in steps of 8, uniformly.
    for (ncp::arch::code& k : codes)
        for (std::size_t i = 0; i < ncp::arch::code_size; ++i)
            k[i] = ncp::arch::lower_bound(i) *
                   std::uniform_int_distribution(1, ncp::arch::upper_bound(i) / ncp::arch::lower_bound(i))(rng);
    count_all(state, codes);
}

}  // namespace

BENCHMARK(search_list)->Name("count/search_list_2507")->Unit(benchmark::kMillisecond);
BENCHMARK(random_codes)->Name("count/random_2507")->Unit(benchmark::kMillisecond);

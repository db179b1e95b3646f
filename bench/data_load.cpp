/// Loading a benchmark file the size of a NAS-Bench-MR setting (2507 records, 27-dim codes, 5 metrics); the goal is
/// well under 10 ms per load.

#include <benchmark/benchmark.h>

#include <filesystem>
#include <string>
#include <unistd.h>

#include "ncp/data/format.hpp"
#include "ncp/io/benchmark_writer.hpp"

namespace {

ncp::data::benchmark seg_sized() {
    constexpr std::size_t records = 2507;
    ncp::data::benchmark b{"seg", {"mIoU", "mAcc", "aAcc", "flops", "params"},
                           xt::xtensor<double, 2>::from_shape({records, 27}),
                           xt::xtensor<double, 2>::from_shape({records, 5})};
    for (std::size_t r = 0; r < records; ++r) {
        for (std::size_t c = 0; c < 27; ++c) b.codes(r, c) = static_cast<double>(8 * ((r * 31 + c * 7) % 16 + 1));
        for (std::size_t m = 0; m < 5; ++m) b.metrics(r, m) = 50.0 + static_cast<double>((r * 13 + m) % 977) / 31.0;
    }
    return b;
}

// A seg-sized file in the temporary folder, removed when the program ends.
struct sample_file {
    std::filesystem::path path = std::filesystem::temp_directory_path() /
                                 ("ncp-bench-data-load-" + std::to_string(::getpid()) + ".bin");
    sample_file() { ncp::io::write_benchmark(path, seg_sized()); }
    ~sample_file() { std::filesystem::remove(path); }
};

const sample_file& file() {
    static const sample_file f;
    return f;
}

void load_file(benchmark::State& state) {
    for (auto _ : state) benchmark::DoNotOptimize(ncp::data::load_benchmark(file().path));
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(std::filesystem::file_size(file().path)));
}
BENCHMARK(load_file)->Unit(benchmark::kMillisecond);

void load_from_memory(benchmark::State& state) {
    const auto bytes = ncp::io::encode_benchmark(seg_sized());
    for (auto _ : state) benchmark::DoNotOptimize(ncp::data::load_benchmark_from_memory(bytes, "memory"));
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes.size()));
}
BENCHMARK(load_from_memory)->Unit(benchmark::kMillisecond);

void checksum(benchmark::State& state) {
    const auto bytes = ncp::io::encode_benchmark(seg_sized());
    for (auto _ : state) benchmark::DoNotOptimize(ncp::data::crc32(bytes));
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes.size()));
}
BENCHMARK(checksum)->Unit(benchmark::kMillisecond);

}  // namespace

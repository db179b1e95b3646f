/// libFuzzer target: any byte string given to the benchmark reader yields a benchmark or an ncp::error, nothing
/// else (no crash, no other exception, no undefined behaviour; run with -malloc_limit_mb to catch huge allocations).

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "ncp/data/format.hpp"

namespace {

void load(std::span<const std::byte> bytes) {
    try {
        const auto b = ncp::data::load_benchmark_from_memory(bytes, "fuzz input");
        // A file that loads is self-consistent.
        if (b.metrics.shape(0) != b.size() || b.metrics.shape(1) != b.metric_names.size()) __builtin_trap();
    } catch (const ncp::error&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span bytes(reinterpret_cast<const std::byte*>(data), size);
    load(bytes);
    // Mutated inputs almost never carry a valid checksum; a resealed copy also reaches the checks behind it.
    if (size >= 4) {
        std::vector<std::byte> sealed(bytes.begin(), bytes.end());
        const std::uint32_t crc = ncp::data::crc32(std::span(sealed).first(size - 4));
        std::memcpy(sealed.data() + size - 4, &crc, 4);
        load(sealed);
    }
    return 0;
}

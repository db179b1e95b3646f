#pragma once
/// Writes benchmark tables in the format data::load_benchmark reads (the layout of README section "data").

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "ncp/config.hpp"
#include "ncp/data/format.hpp"
#include "ncp/io/atomic.hpp"

namespace ncp::io {

/// The file bytes of `b`, checksum included. Throws ncp::error (naming the setting) when `b` cannot be stored:
/// no records, table shapes that disagree, names the format does not allow, or a non-finite value.
inline std::vector<std::byte> encode_benchmark(const data::benchmark& b) {
    data::check_benchmark(b, "benchmark '" + b.setting + "'");

    std::vector<std::byte> out;
    out.reserve(64 + 8 * b.size() * (b.code_dim() + b.metric_names.size()));
    auto append = [&](const void* p, std::size_t n) {
        const std::size_t at = out.size();
        out.resize(at + n);
        std::memcpy(out.data() + at, p, n);
    };
    auto append_u32 = [&](std::size_t v) {
        const auto u = static_cast<std::uint32_t>(v);
        append(&u, 4);
    };
    auto append_name = [&](const std::string& name) {
        append_u32(name.size());
        append(name.data(), name.size());
    };
    append(data::format_magic.data(), data::format_magic.size());
    append_u32(data::format_version);
    append_name(b.setting);
    append_u32(b.metric_names.size());
    for (const auto& name : b.metric_names) append_name(name);
    append_u32(b.code_dim());
    const std::uint64_t records = b.size();
    append(&records, 8);
    append(b.codes.data(), 8 * b.codes.size());
    append(b.metrics.data(), 8 * b.metrics.size());
    append_u32(data::crc32(out));
    return out;
}

/// Writes `b` to `path` atomically (temporary file, then rename).
inline void write_benchmark(const std::filesystem::path& path, const data::benchmark& b) {
    const auto bytes = encode_benchmark(b);
    atomic_write(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

}  // namespace ncp::io

#pragma once
/// The benchmark table and its checked binary file format (`trainval.bin`, layout in README section "data").

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "ncp/config.hpp"

namespace ncp::data {

static_assert(std::endian::native == std::endian::little,
              "ncp's benchmark format is read by memcpy: little-endian only");

/// First bytes of every benchmark file.
inline constexpr std::array<char, 8> format_magic = {'N', 'C', 'P', 'B', 'E', 'N', 'C', 'H'};
/// The only layout version this reader knows; any change of layout increments it.
inline constexpr std::uint32_t format_version = 1;
/// Longest setting or metric name, in bytes (names are printable ASCII).
inline constexpr std::size_t max_name_bytes = 255;
/// Most metric columns a file may hold.
inline constexpr std::size_t max_metrics = 1024;
/// Longest architecture code a file may hold.
inline constexpr std::size_t max_code_dim = 4096;

/// One benchmark setting in memory: architecture codes and their measured metrics, one record per row.
struct benchmark {
    std::string setting;                    ///< setting name, e.g. "seg"
    std::vector<std::string> metric_names;  ///< names of the columns of `metrics`
    xt::xtensor<double, 2> codes;           ///< records x code_dim, original units
    xt::xtensor<double, 2> metrics;         ///< records x metric_names.size()

    /// Number of records.
    std::size_t size() const { return codes.shape(0); }
    /// Length of one architecture code.
    std::size_t code_dim() const { return codes.shape(1); }
    /// Column of metric `name`; throws ncp::error naming it and the metrics there are.
    std::size_t metric_index(std::string_view name) const {
        for (std::size_t i = 0; i < metric_names.size(); ++i)
            if (metric_names[i] == name) return i;
        std::string known;
        for (const auto& n : metric_names) known += (known.empty() ? "" : ", ") + n;
        throw error("unknown metric '" + std::string(name) + "' in setting " + setting + " (it has: " + known + ")");
    }
    /// The values of metric `name`, one per record.
    xt::xtensor<double, 1> metric(std::string_view name) const {
        const std::size_t column = metric_index(name);
        xt::xtensor<double, 1> values = xt::empty<double>({size()});
        for (std::size_t r = 0; r < size(); ++r) values(r) = metrics(r, column);
        return values;
    }
};

namespace detail {

/// Slicing-by-8 lookup tables of the reflected CRC-32 polynomial 0xEDB88320.
inline constexpr auto crc32_tables = [] {
    std::array<std::array<std::uint32_t, 256>, 8> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1U) != 0 ? (c >> 1) ^ 0xEDB88320U : c >> 1;
        t[0][i] = c;
    }
    for (std::size_t s = 1; s < 8; ++s)
        for (std::size_t i = 0; i < 256; ++i) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFFU];
    return t;
}();

/// Throws unless `name` is 1..max_name_bytes printable ASCII characters; `what` and `source` name it.
inline void check_name(std::string_view name, std::string_view what, std::string_view source) {
    bool printable = !name.empty() && name.size() <= max_name_bytes;
    for (char c : name) printable = printable && c >= 0x20 && c < 0x7F;
    if (!printable)
        throw error(std::string(source) + ": " + std::string(what) + " must be 1.." + std::to_string(max_name_bytes) +
                    " printable ASCII characters");
}

/// Throws naming the first metric name that appears twice.
inline void check_unique(const std::vector<std::string>& names, std::string_view source) {
    for (std::size_t i = 0; i < names.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (names[i] == names[j])
                throw error(std::string(source) + ": metric name '" + names[i] + "' appears twice");
}

/// Sequential little-endian reads from a byte span; every read checks the remaining length first.
class byte_reader {
public:
    byte_reader(std::span<const std::byte> bytes, std::string_view source) : m_bytes(bytes), m_source(source) {}

    /// Bytes not read yet.
    std::size_t remaining() const { return m_bytes.size() - m_pos; }
    /// Offset of the next read.
    std::size_t position() const { return m_pos; }
    /// The next `n` bytes; throws naming `what` when the file ends first.
    std::span<const std::byte> take(std::size_t n, std::string_view what) {
        if (n > remaining())
            throw error(std::string(m_source) + ": truncated file: " + std::string(what) + " at offset " +
                        std::to_string(m_pos) + " needs " + std::to_string(n) + " bytes, " +
                        std::to_string(remaining()) + " left");
        const auto out = m_bytes.subspan(m_pos, n);
        m_pos += n;
        return out;
    }
    /// The next unsigned integer of type U.
    template <class U>
    U number(std::string_view what) {
        U value;
        std::memcpy(&value, take(sizeof(U), what).data(), sizeof(U));
        return value;
    }
    /// A u32-length-prefixed name, checked.
    std::string name(std::string_view what) {
        const auto length = number<std::uint32_t>(what);
        if (length == 0 || length > max_name_bytes)
            throw error(std::string(m_source) + ": corrupt header: " + std::string(what) + " length " +
                        std::to_string(length) + " at offset " + std::to_string(m_pos - 4) + " (allowed 1.." +
                        std::to_string(max_name_bytes) + ")");
        const auto raw = take(length, what);
        std::string out(reinterpret_cast<const char*>(raw.data()), raw.size());
        check_name(out, what, m_source);
        return out;
    }

private:
    std::span<const std::byte> m_bytes;
    std::size_t m_pos = 0;
    std::string_view m_source;
};

/// Throws naming the first non-finite value of `table` by record and column.
inline void check_finite(const xt::xtensor<double, 2>& table, std::string_view what, std::string_view source) {
    const std::size_t cols = table.shape(1);
    for (std::size_t i = 0; i < table.size(); ++i)
        if (!std::isfinite(table.data()[i]))
            throw error(std::string(source) + ": " + std::string(what) + " of record " + std::to_string(i / cols) +
                        ", column " + std::to_string(i % cols) + " is not finite");
}

/// Fills `table` (rows x cols, already sized) from `raw`, then checks that every value is finite.
inline void read_table(xt::xtensor<double, 2>& table, std::span<const std::byte> raw, std::string_view what,
                       std::string_view source) {
    std::memcpy(table.data(), raw.data(), raw.size());
    check_finite(table, what, source);
}

}  // namespace detail

/// Throws ncp::error, starting with `source`, unless `b` is a table the format can hold: a setting name and 1..
/// max_metrics distinct metric names the format allows, at least one record, a code dimension of 1..max_code_dim, a
/// metric table of one row per record and one column per name, and finite values only.
inline void check_benchmark(const benchmark& b, const std::string& source) {
    detail::check_name(b.setting, "setting name", source);
    if (b.metric_names.empty() || b.metric_names.size() > max_metrics)
        throw error(source + ": needs 1.." + std::to_string(max_metrics) + " metrics, has " +
                    std::to_string(b.metric_names.size()));
    for (const auto& name : b.metric_names) detail::check_name(name, "metric name", source);
    detail::check_unique(b.metric_names, source);
    if (b.size() == 0 || b.code_dim() == 0 || b.code_dim() > max_code_dim)
        throw error(source + ": needs at least one record and a code dimension of 1.." + std::to_string(max_code_dim));
    if (b.metrics.shape(0) != b.size() || b.metrics.shape(1) != b.metric_names.size())
        throw error(source + ": metric table is " + std::to_string(b.metrics.shape(0)) + " x " +
                    std::to_string(b.metrics.shape(1)) + ", expected " + std::to_string(b.size()) + " x " +
                    std::to_string(b.metric_names.size()));
    detail::check_finite(b.codes, "code", source);
    detail::check_finite(b.metrics, "metric", source);
}

/// A benchmark from row-major tables held elsewhere (results a user measured, arrays from Python): `codes` holds
/// records x `code_dim` values, `metrics` records x metric_names.size(); checked as check_benchmark does, and the
/// two tables must have the same number of records. `source` names the input in errors.
inline benchmark make_benchmark(std::string setting, std::vector<std::string> metric_names,
                                std::span<const double> codes, std::size_t code_dim, std::span<const double> metrics,
                                const std::string& source) {
    if (code_dim == 0 || codes.size() % code_dim != 0)
        throw error(source + ": " + std::to_string(codes.size()) + " code values are not whole codes of " +
                    std::to_string(code_dim));
    const std::size_t n = codes.size() / code_dim, m = metric_names.size();
    if (metrics.size() != n * m)
        throw error(source + ": " + std::to_string(n) + " codes but " + std::to_string(metrics.size()) +
                    " metric values (expected " + std::to_string(m) + " per code)");
    benchmark b{std::move(setting), std::move(metric_names), xt::xtensor<double, 2>::from_shape({n, code_dim}),
                xt::xtensor<double, 2>::from_shape({n, m})};
    std::copy(codes.begin(), codes.end(), b.codes.begin());
    std::copy(metrics.begin(), metrics.end(), b.metrics.begin());
    check_benchmark(b, source);
    return b;
}

/// CRC-32 as zlib computes it (ISO-HDLC: reflected, polynomial 0x04C11DB7, init and final xor 0xFFFFFFFF);
/// `crc` continues an earlier call's result.
inline std::uint32_t crc32(std::span<const std::byte> bytes, std::uint32_t crc = 0) {
    const auto& t = detail::crc32_tables;
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    std::size_t n = bytes.size();
    crc = ~crc;
    for (; n >= 8; n -= 8, p += 8) {
        std::uint32_t lo;
        std::uint32_t hi;
        std::memcpy(&lo, p, 4);
        std::memcpy(&hi, p + 4, 4);
        lo ^= crc;
        crc = t[7][lo & 0xFFU] ^ t[6][(lo >> 8) & 0xFFU] ^ t[5][(lo >> 16) & 0xFFU] ^ t[4][lo >> 24] ^
              t[3][hi & 0xFFU] ^ t[2][(hi >> 8) & 0xFFU] ^ t[1][(hi >> 16) & 0xFFU] ^ t[0][hi >> 24];
    }
    for (; n > 0; --n, ++p) crc = t[0][(crc ^ *p) & 0xFFU] ^ (crc >> 8);
    return ~crc;
}

/// Decodes a whole benchmark file held in memory; `source` names it in errors. Sizes in the header are checked
/// against `bytes.size()` before anything is allocated; then the checksum, then that every value is finite.
inline benchmark load_benchmark_from_memory(std::span<const std::byte> bytes, std::string_view source) {
    detail::byte_reader in(bytes, source);
    const auto magic = in.take(format_magic.size(), "magic");
    if (std::memcmp(magic.data(), format_magic.data(), format_magic.size()) != 0)
        throw error(std::string(source) +
                    ": not an ncp benchmark file (bad magic; convert pickles with scripts/convert_pkl.py)");
    const auto version = in.number<std::uint32_t>("version");
    if (version != format_version)
        throw error(std::string(source) + ": format version " + std::to_string(version) + ", this ncp reads " +
                    std::to_string(format_version) + " (re-run scripts/convert_pkl.py of this ncp)");
    benchmark b;
    b.setting = in.name("setting name");
    const auto metric_count = in.number<std::uint32_t>("metric count");
    if (metric_count == 0 || metric_count > max_metrics)
        throw error(std::string(source) + ": corrupt header: metric count " + std::to_string(metric_count) +
                    " (allowed 1.." + std::to_string(max_metrics) + ")");
    for (std::uint32_t m = 0; m < metric_count; ++m) b.metric_names.push_back(in.name("metric name"));
    detail::check_unique(b.metric_names, source);
    const auto code_dim = in.number<std::uint32_t>("code dimension");
    if (code_dim == 0 || code_dim > max_code_dim)
        throw error(std::string(source) + ": corrupt header: code dimension " + std::to_string(code_dim) +
                    " (allowed 1.." + std::to_string(max_code_dim) + ")");
    const auto records = in.number<std::uint64_t>("record count");
    // Both counts are bounded above, so the record size cannot overflow; compare the count with what is left.
    const std::uint64_t record_bytes = 8ULL * (code_dim + metric_count);
    const std::uint64_t data_bytes = in.remaining() >= 4 ? in.remaining() - 4 : 0;
    if (records == 0 || records > data_bytes / record_bytes || records * record_bytes != data_bytes)
        throw error(std::string(source) + ": size mismatch: header says " + std::to_string(records) + " records of " +
                    std::to_string(record_bytes) + " bytes, the file holds " + std::to_string(in.remaining()) +
                    " bytes after the header (truncated or corrupt file)");
    const auto body = bytes.first(bytes.size() - 4);
    std::uint32_t stored;
    std::memcpy(&stored, bytes.data() + body.size(), 4);
    if (crc32(body) != stored) throw error(std::string(source) + ": checksum mismatch (corrupt file)");

    const auto n = static_cast<std::size_t>(records);
    b.codes = xt::xtensor<double, 2>::from_shape({n, code_dim});
    b.metrics = xt::xtensor<double, 2>::from_shape({n, metric_count});
    detail::read_table(b.codes, in.take(8 * n * code_dim, "codes"), "code", source);
    detail::read_table(b.metrics, in.take(8 * n * metric_count, "metrics"), "metric", source);
    return b;
}

/// Reads a benchmark file written by scripts/convert_pkl.py or io::write_benchmark; errors name `path`.
inline benchmark load_benchmark(const std::filesystem::path& path) {
    std::error_code ec;
    // Only a regular file has a size: a folder, a missing file or a pipe (whose opening would wait for a writer)
    // is refused before it is opened.
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) throw error(path.string() + ": cannot open benchmark file (" + ec.message() + ")");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw error(path.string() + ": cannot open benchmark file");
    std::vector<std::byte> bytes(size);
    if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size)) ||
        in.peek() != std::ifstream::traits_type::eof())
        throw error(path.string() + ": cannot read benchmark file (it changed while being read)");
    return load_benchmark_from_memory(bytes, path.string());
}

}  // namespace ncp::data

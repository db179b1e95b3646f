/// The benchmark file format: CRC-32, reading what the writer wrote, and refusing every kind of damaged file.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "ncp/data/format.hpp"
#include "ncp/io/benchmark_writer.hpp"
#include "test_support.hpp"

using ncp::test::contains;

namespace {

using ncp::data::benchmark;
using bytes = std::vector<std::byte>;

bytes to_bytes(std::string_view s) {
    bytes out(s.size());
    std::memcpy(out.data(), s.data(), s.size());
    return out;
}

// Bit-at-a-time CRC-32, the definition the table-driven one must match.
std::uint32_t reference_crc32(const bytes& data) {
    std::uint32_t crc = 0xFFFFFFFFU;
    for (std::byte b : data) {
        crc ^= static_cast<std::uint32_t>(b);
        for (int k = 0; k < 8; ++k) crc = (crc & 1U) != 0 ? (crc >> 1) ^ 0xEDB88320U : crc >> 1;
    }
    return ~crc;
}

// A small benchmark with distinct, non-round values in every cell.
benchmark sample(std::size_t records = 5, std::size_t dim = 4) {
    benchmark b;
    b.setting = "sample";
    b.metric_names = {"acc", "flops", "params"};
    b.codes = xt::xtensor<double, 2>::from_shape({records, dim});
    b.metrics = xt::xtensor<double, 2>::from_shape({records, 3});
    for (std::size_t r = 0; r < records; ++r) {
        for (std::size_t c = 0; c < dim; ++c) b.codes(r, c) = static_cast<double>(8 * (r + c + 1));
        for (std::size_t m = 0; m < 3; ++m) b.metrics(r, m) = 0.1 * static_cast<double>(r) + 1.0 / (3.0 + m) - 7.5;
    }
    return b;
}

// Overwrites the checksum so that a deliberately edited file passes it and reaches the check under test.
void reseal(bytes& file) {
    const std::uint32_t crc = ncp::data::crc32(std::span(file).first(file.size() - 4));
    std::memcpy(file.data() + file.size() - 4, &crc, 4);
}

template <class U>
void poke(bytes& file, std::size_t offset, U value) {
    std::memcpy(file.data() + offset, &value, sizeof(U));
    reseal(file);
}

std::string load_error(const bytes& file, std::string_view name = "test.bin") {
    try {
        ncp::data::load_benchmark_from_memory(file, name);
    } catch (const ncp::error& e) {
        return e.what();
    }
    return "(no error)";
}

// Offsets in the encoding of sample(): magic 8, version 4, setting length 4 + "sample" 6.
constexpr std::size_t metric_count_at = 8 + 4 + 4 + 6;
constexpr std::size_t code_dim_at = metric_count_at + 4 + (4 + 3) + (4 + 5) + (4 + 6);
constexpr std::size_t record_count_at = code_dim_at + 4;
constexpr std::size_t codes_at = record_count_at + 8;

}  // namespace

TEST_CASE("crc32 matches the standard check value and the bitwise definition at every length") {
    CHECK(ncp::data::crc32(to_bytes("123456789")) == 0xCBF43926U);
    CHECK(ncp::data::crc32({}) == 0U);
    bytes data;
    for (int i = 0; i < 40; ++i) {
        CHECK(ncp::data::crc32(data) == reference_crc32(data));
        data.push_back(static_cast<std::byte>(i * 37 + 11));
    }
    const auto whole = ncp::data::crc32(data);
    const auto split = ncp::data::crc32(std::span(data).subspan(13), ncp::data::crc32(std::span(data).first(13)));
    CHECK(whole == split);
}

TEST_CASE("the encoding has the documented layout") {
    const auto file = ncp::io::encode_benchmark(sample());
    const std::size_t data_bytes = 8 * 5 * (4 + 3);
    REQUIRE(file.size() == codes_at + data_bytes + 4);
    CHECK(std::memcmp(file.data(), "NCPBENCH", 8) == 0);
    std::uint32_t u32;
    std::uint64_t u64;
    std::memcpy(&u32, file.data() + 8, 4);
    CHECK(u32 == ncp::data::format_version);
    std::memcpy(&u32, file.data() + metric_count_at, 4);
    CHECK(u32 == 3);
    std::memcpy(&u32, file.data() + code_dim_at, 4);
    CHECK(u32 == 4);
    std::memcpy(&u64, file.data() + record_count_at, 8);
    CHECK(u64 == 5);
    double first_code;
    std::memcpy(&first_code, file.data() + codes_at, 8);
    CHECK(first_code == 8.0);
    std::memcpy(&u32, file.data() + file.size() - 4, 4);
    CHECK(u32 == reference_crc32(bytes(file.begin(), file.end() - 4)));
}

TEST_CASE("what the writer writes loads back identically, from memory and from a file") {
    const auto b = sample(7, 27);
    const auto check_same = [&](const benchmark& got) {
        CHECK(got.setting == b.setting);
        CHECK(got.metric_names == b.metric_names);
        CHECK(got.size() == 7);
        CHECK(got.code_dim() == 27);
        CHECK(got.codes == b.codes);
        CHECK(got.metrics == b.metrics);
    };
    check_same(ncp::data::load_benchmark_from_memory(ncp::io::encode_benchmark(b), "memory"));

    const ncp::test::scratch_dir dir("format");
    ncp::io::write_benchmark(dir / "b.bin", b);
    check_same(ncp::data::load_benchmark(dir / "b.bin"));
}

TEST_CASE("metrics are found by name; an unknown name is an error naming it and the metrics there are") {
    const auto b = sample();
    CHECK(b.metric_index("flops") == 1);
    const auto params = b.metric("params");
    REQUIRE(params.size() == b.size());
    for (std::size_t r = 0; r < b.size(); ++r) CHECK(params(r) == b.metrics(r, 2));
    CHECK_THROWS_WITH_AS(b.metric("mIoU"), doctest::Contains("unknown metric 'mIoU'"), ncp::error);
    CHECK_THROWS_WITH_AS(b.metric_index("top1"), doctest::Contains("acc, flops, params"), ncp::error);
}

TEST_CASE("every truncation of a file is refused with an error naming it") {
    const auto file = ncp::io::encode_benchmark(sample());
    for (std::size_t n = 0; n < file.size(); ++n) {
        const auto message = load_error(bytes(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(n)), "cut.bin");
        INFO("length " << n << ": " << message);
        CHECK(message.starts_with("cut.bin: "));
    }
}

TEST_CASE("every single flipped bit is refused") {
    const auto file = ncp::io::encode_benchmark(sample());
    for (std::size_t bit = 0; bit < 8 * file.size(); ++bit) {
        auto damaged = file;
        damaged[bit / 8] ^= static_cast<std::byte>(1U << (bit % 8));
        const auto message = load_error(damaged, "flip.bin");
        INFO("bit " << bit << ": " << message);
        CHECK(message.starts_with("flip.bin: "));
    }
}

TEST_CASE("appended bytes are refused") {
    auto file = ncp::io::encode_benchmark(sample());
    file.push_back(std::byte{0});
    CHECK(contains(load_error(file), "size mismatch"));
}

TEST_CASE("wrong magic and unknown versions are refused by name") {
    auto file = ncp::io::encode_benchmark(sample());
    auto wrong_magic = file;
    wrong_magic[0] = std::byte{'X'};
    reseal(wrong_magic);
    CHECK(contains(load_error(wrong_magic), "bad magic"));
    poke<std::uint32_t>(file, 8, 2);
    CHECK(contains(load_error(file), "format version 2"));
}

TEST_CASE("header sizes are checked against the file before anything is allocated") {
    const auto file = ncp::io::encode_benchmark(sample());
    for (std::uint64_t records : {std::uint64_t{0}, std::uint64_t{4}, std::uint64_t{6}, std::uint64_t{1} << 40,
                                  std::numeric_limits<std::uint64_t>::max()}) {
        auto edited = file;
        poke(edited, record_count_at, records);
        INFO("records " << records);
        CHECK(contains(load_error(edited), "size mismatch"));
    }
    auto edited = file;
    poke<std::uint32_t>(edited, metric_count_at, 0xFFFFFFFFU);
    CHECK(contains(load_error(edited), "metric count 4294967295"));
    edited = file;
    poke<std::uint32_t>(edited, code_dim_at, 0);
    CHECK(contains(load_error(edited), "code dimension 0"));
    edited = file;
    poke<std::uint32_t>(edited, 12, 0x7FFFFFFFU);
    CHECK(contains(load_error(edited), "setting name length 2147483647"));
}

TEST_CASE("names must be printable ASCII and metric names unique") {
    auto file = ncp::io::encode_benchmark(sample());
    file[16] = std::byte{'\n'};  // the first letter of the setting name
    reseal(file);
    CHECK(contains(load_error(file), "setting name must be 1..255 printable ASCII characters"));

    auto b = sample();
    b.metric_names[1] = "acx";
    file = ncp::io::encode_benchmark(b);
    const auto acx = to_bytes("acx");
    const auto at = std::search(file.begin(), file.end(), acx.begin(), acx.end());
    REQUIRE(at != file.end());
    at[2] = std::byte{'c'};
    reseal(file);
    CHECK(contains(load_error(file), "metric name 'acc' appears twice"));
}

TEST_CASE("a non-finite value is refused, naming its record and column") {
    auto file = ncp::io::encode_benchmark(sample());
    const std::size_t metrics_at = codes_at + 8 * 5 * 4;
    auto nan_metric = file;
    poke(nan_metric, metrics_at + 8 * (3 * 3 + 2), std::numeric_limits<double>::quiet_NaN());
    CHECK(contains(load_error(nan_metric), "metric of record 3, column 2 is not finite"));
    poke(file, codes_at + 8 * 5, std::numeric_limits<double>::infinity());
    CHECK(contains(load_error(file), "code of record 1, column 1 is not finite"));
}

TEST_CASE("missing files and folders are errors naming the path") {
    const ncp::test::scratch_dir dir("format");
    CHECK_THROWS_WITH_AS(ncp::data::load_benchmark(dir / "absent.bin"), doctest::Contains("absent.bin"), ncp::error);
    const auto folder = dir.path().string();
    CHECK_THROWS_WITH_AS(ncp::data::load_benchmark(dir.path()), doctest::Contains(folder.c_str()), ncp::error);
}

TEST_CASE("the writer refuses what the format cannot hold, naming the setting") {
    auto b = sample();
    b.metrics(2, 1) = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_WITH_AS(ncp::io::encode_benchmark(b), doctest::Contains("benchmark 'sample': metric of record 2"),
                         ncp::error);
    b = sample();
    b.metric_names = {"acc", "acc", "params"};
    CHECK_THROWS_WITH_AS(ncp::io::encode_benchmark(b), doctest::Contains("'acc' appears twice"), ncp::error);
    b = sample();
    b.metric_names.pop_back();
    CHECK_THROWS_WITH_AS(ncp::io::encode_benchmark(b), doctest::Contains("metric table is 5 x 3, expected 5 x 2"),
                         ncp::error);
    b = sample();
    b.setting = "";
    CHECK_THROWS_AS(ncp::io::encode_benchmark(b), ncp::error);
    b = sample(0);
    CHECK_THROWS_WITH_AS(ncp::io::encode_benchmark(b), doctest::Contains("at least one record"), ncp::error);
}

TEST_CASE("make_benchmark copies row-major tables into a checked benchmark") {
    const benchmark s = sample(4, 3);
    const std::vector<double> codes(s.codes.begin(), s.codes.end()), metrics(s.metrics.begin(), s.metrics.end());
    const benchmark b = ncp::data::make_benchmark("sample", s.metric_names, codes, 3, metrics, "arrays");
    CHECK(b.setting == "sample");
    CHECK(b.metric_names == s.metric_names);
    CHECK(b.codes == s.codes);
    CHECK(b.metrics == s.metrics);
    CHECK(ncp::io::encode_benchmark(b) == ncp::io::encode_benchmark(s));
    auto make = [&](std::span<const double> c, std::size_t dim, std::span<const double> m) {
        return ncp::test::error_of([&] { ncp::data::make_benchmark("sample", s.metric_names, c, dim, m, "arrays"); });
    };
    CHECK(contains(make(std::span(codes).first(11), 3, metrics), "arrays: 11 code values are not whole codes of 3"));
    CHECK(contains(make(codes, 3, std::span(metrics).first(9)), "arrays: 4 codes but 9 metric values (expected 3"));
    auto nan = metrics;
    nan[4] = std::numeric_limits<double>::quiet_NaN();
    CHECK(contains(make(codes, 3, nan), "arrays: metric of record 1, column 1 is not finite"));
    CHECK(contains(make({}, 3, {}), "arrays: needs at least one record"));
    CHECK(contains(ncp::test::error_of([&] { ncp::data::make_benchmark("sample", {"acc", "acc", "params"}, codes, 3,
                                                                       metrics, "arrays"); }),
                   "metric name 'acc' appears twice"));
}

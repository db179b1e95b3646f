#pragma once
/// A synthetic NAS-Bench-MR-like benchmark for tests that must run without the real data: valid random codes and
/// smooth metrics of them (with a little noise), written with the io writer.

#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "ncp/arch/code.hpp"
#include "ncp/io/benchmark_writer.hpp"

namespace ncp::test {

/// `records` random valid codes with metrics `names` (each a different smooth function of the code).
inline data::benchmark synthetic_benchmark(const std::string& setting, const std::vector<std::string>& names,
                                           std::size_t records, std::uint64_t seed) {
    std::mt19937_64 gen(seed);
    data::benchmark b;
    b.setting = setting;
    b.metric_names = names;
    b.codes = xt::xtensor<double, 2>::from_shape({records, arch::code_size});
    b.metrics = xt::xtensor<double, 2>::from_shape({records, names.size()});
    for (std::size_t r = 0; r < records; ++r) {
        double width = 0, depth = 0;
        for (std::size_t i = 0; i < arch::code_size; ++i) {
            const bool channels = arch::kind_of(i) == arch::dimension_kind::channels;
            const double v = channels ? 8.0 * static_cast<double>(1 + gen() % 16) : static_cast<double>(1 + gen() % 4);
            b.codes(r, i) = v;
            (channels ? width : depth) += channels ? v / 128.0 : v / 4.0;
        }
        const double noise = static_cast<double>(gen() % 1000) / 1000.0 - 0.5;
        for (std::size_t m = 0; m < names.size(); ++m)
            b.metrics(r, m) = 50.0 + 3.0 * static_cast<double>(m + 1) * std::log1p(width * (m + 1) + depth) + noise;
    }
    return b;
}

/// The same, written to `path`.
inline std::filesystem::path write_synthetic(const std::filesystem::path& path, const std::string& setting,
                                             const std::vector<std::string>& names, std::size_t records,
                                             std::uint64_t seed = 5) {
    io::write_benchmark(path, synthetic_benchmark(setting, names, records, seed));
    return path;
}

}  // namespace ncp::test

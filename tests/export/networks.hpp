#pragma once
/// The networks the export tests check, and running scripts/check_export.py over them in one Python process.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <span>
#include <utility>
#include <string>
#include <vector>

#include "ncp/arch/code.hpp"
#include "ncp/arch/count.hpp"
#include "ncp/arch/graph.hpp"
#include "ncp/arch/synthetic.hpp"
#include "ncp/data/format.hpp"
#include "test_support.hpp"

namespace ncp::test {

/// Where a tested code comes from.
enum class code_source { all64, first_record, random };

/// One network to export: a code under a convention.
struct network_case {
    arch::code code;              ///< the architecture
    arch::convention convention;  ///< input, head, classes
    code_source source;           ///< where the code comes from
};

inline constexpr const char* all64 = "64_64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64";

/// Each with both heads: the all-64 code and (with NCP_DATA_DIR; a skip notice otherwise) the first record of seg
/// (all channels 128) under the benchmark's convention, and 20 random codes (fixed seed) at input 32 with 10
/// classes. The random codes draw counts from 1..4 and channels from 8..64: the structure (modules, branches, blocks,
/// unequal neighbours) varies as over the whole space, at a quarter of the weights, which keeps the ONNX models'
/// seeded weights (every one drawn) and PyTorch's module construction short; the smallest input (the lowest branch
/// is 1 x 1) keeps the forward passes short and checks a convention other than the default.
inline std::vector<network_case> test_networks() {
    std::vector<std::pair<arch::code, code_source>> codes{{arch::parse_code(all64), code_source::all64}};
    if (const auto bin = converted("seg")) {
        const data::benchmark b = data::load_benchmark(*bin);
        codes.emplace_back(arch::exact_code(std::span<const double>(&b.codes(0, 0), b.code_dim())),
                           code_source::first_record);
    }
    std::mt19937_64 gen(20240614);
    for (int i = 0; i < 20; ++i) {
        arch::code k = arch::detail::uniform_code(gen);
        for (std::size_t d = 0; d < arch::code_size; ++d)
            if (arch::kind_of(d) == arch::dimension_kind::channels) k[d] = 8 * (1 + (k[d] / 8 - 1) % 8);
        codes.emplace_back(k, code_source::random);
    }
    std::vector<network_case> cases;
    for (const auto& [k, source] : codes)
        for (arch::head_kind head : {arch::head_kind::classification, arch::head_kind::segmentation})
            cases.push_back({k, source == code_source::random ? arch::convention{32, head, 10}
                                                                : arch::convention{128, head, 50},
                             source});
    return cases;
}

/// One row of check_export.py's manifest: a network and the files written for it (empty: not checked).
struct manifest_row {
    network_case network;     ///< what was exported
    std::string torch_file;   ///< the PyTorch module
    std::string json_file;    ///< the JSON
    std::string onnx_file;    ///< the ONNX model
};

/// Writes the manifest with the counter's FLOPs and params for each row.
inline void write_manifest(const std::filesystem::path& path, const std::vector<manifest_row>& rows) {
    std::ofstream out(path);
    out << "code,head,classes,input,flops,params,torch,json,onnx\n";
    for (const auto& r : rows) {
        const arch::convention& c = r.network.convention;
        const arch::cost k = arch::count(r.network.code, c);
        out << arch::to_string(r.network.code) << ',' << arch::head_name(c.head) << ',' << c.classes << ','
            << c.input_side << ',' << k.flops << ',' << k.params << ',' << r.torch_file << ',' << r.json_file << ','
            << r.onnx_file << '\n';
    }
}

/// Whether /usr/bin/python3 imports every one of `modules` (a skip notice naming `what` when not).
inline bool python_imports(const std::vector<std::string>& modules, const std::string& what) {
    std::string code = "import sys";
    for (const auto& m : modules) code += ", " + m;
    if (run_command({python, "-c", code}).status == 0) return true;
    std::string names;
    for (const auto& m : modules) names += (names.empty() ? "" : ", ") + m;
    std::cout << "skipped: " << what << " (/usr/bin/python3 cannot import " << names
              << "; Debian: apt-get install python3-torch python3-onnx)\n";
    return false;
}

/// Runs scripts/check_export.py on `manifest` with `args`.
inline command_result check_export(const std::filesystem::path& manifest, const std::vector<std::string>& args = {}) {
    std::vector<std::string> argv{python, (source_dir() / "scripts" / "check_export.py").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(manifest.string());
    return run_command(argv);
}

}  // namespace ncp::test

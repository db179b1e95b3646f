/// `ncp export`: each format on standard output or into --out as the library writes it, the ONNX model (or the
/// message of a build without ONNX), and bad input as one line naming it.

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "ncp/export/json.hpp"
#include "ncp/export/torch.hpp"
#include "programs/run.hpp"
#include "test_support.hpp"

using ncp::test::contains;
using ncp::test::run_cli;

namespace arch = ncp::arch;

namespace {

constexpr const char* all64 = "64_64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64";
constexpr const char* all64_ints = "64,64,2,2,64,2,2,2,64,64,2,2,2,2,64,64,64,2,2,2,2,2,64,64,64,64,64";

/// Whether `text` is one line (ending in a newline) that starts with "ncp export: ".
bool one_line(const std::string& text) {
    return text.starts_with("ncp export: ") && std::count(text.begin(), text.end(), '\n') == 1 && text.ends_with("\n");
}

}  // namespace

TEST_CASE("torch (the default) and json on standard output or into --out, as the library writes them") {
    const arch::code k = arch::parse_code(all64);
    auto r = run_cli({"export", all64});
    CHECK(r.status == 0);
    CHECK(r.out == ncp::exporting::torch_module(k));
    CHECK(r.err.empty());
    const arch::convention seg{256, arch::head_kind::segmentation, 19};
    r = run_cli({"export", all64_ints, "--format", "json", "--head", "seg", "--classes", "19", "--input", "256"});
    CHECK(r.status == 0);
    CHECK(r.out == ncp::exporting::network_json(k, seg));
    const ncp::test::scratch_dir dir("cli-export");
    r = run_cli({"export", "--format", "torch", "--input", "256", "--head", "seg", "--classes", "19", "--out",
                 (dir / "net.py").string(), all64});
    CHECK(r.status == 0);
    CHECK(r.out.empty());
    CHECK(ncp::test::read_file(dir / "net.py") == ncp::exporting::torch_module(k, seg));
}

TEST_CASE("onnx: a model file, the same for the same seed; or the message of a build without ONNX") {
    const ncp::test::scratch_dir dir("cli-export-onnx");
    const std::string a = (dir / "a.onnx").string(), b = (dir / "b.onnx").string(), c = (dir / "c.onnx").string();
    auto r = run_cli({"export", all64, "--format", "onnx", "--out", a});
    if (!NCP_CLI_HAS_ONNX) {
        CHECK(r.status == 1);
        CHECK(r.err == "ncp export: ncp was built without ONNX export (install libonnx-dev libprotobuf-dev and "
                       "reconfigure)\n");
        CHECK(!std::filesystem::exists(a));
        return;
    }
    REQUIRE_MESSAGE(r.status == 0, r.err);
    CHECK(r.out.empty());
    CHECK(run_cli({"export", all64, "--format", "onnx", "--seed", "0", "--out", b}).status == 0);
    CHECK(run_cli({"export", all64, "--format", "onnx", "--seed", "1", "--out", c}).status == 0);
    const std::string model = ncp::test::read_file(a);
    CHECK(model.size() > 4 * 4128754);  // the weights, 4 bytes each
    CHECK(contains(model, "stem.0.conv.weight"));
    CHECK(model == ncp::test::read_file(b));
    CHECK(model != ncp::test::read_file(c));
    CHECK(model.size() == ncp::test::read_file(c).size());
}

TEST_CASE("bad input: one line naming it; usage errors exit 2, others 1; nothing on standard output") {
    const ncp::test::scratch_dir dir("cli-export-bad");
    const std::vector<std::pair<std::vector<std::string>, std::string>> usage = {
        {{all64, "--format", "keras"}, "--format keras"},
        {{all64, "--head", "det"}, "--head det"},
        {{all64, "--classes", "0"}, "--classes 0"},
        {{all64, "--classes", "ten"}, "--classes ten"},
        {{all64, "--input", "100"}, "--input 100"},
        {{all64, "--input"}, "--input needs a value"},
        {{all64, "--seed", "1"}, "--seed applies to --format onnx only"},
        {{all64, "--format", "onnx", "--seed", "x", "--out", (dir / "m.onnx").string()}, "--seed x"},
        {{all64, "--format", "onnx"}, "--format onnx needs --out FILE"},
        {{all64, "--out", ""}, "--out needs a file name"},
        {{all64, "--frmat", "json"}, "unknown option --frmat"},
        {{all64, all64}, "one code at a time"},
        {{}, "no code given"},
    };
    for (const auto& [args, part] : usage) {
        std::vector<std::string> argv{"export"};
        argv.insert(argv.end(), args.begin(), args.end());
        const auto r = run_cli(argv);
        INFO(part, ": ", r.err);
        CHECK(r.status == 2);
        CHECK(one_line(r.err));
        CHECK(contains(r.err, part));
        CHECK(r.out.empty());
    }
    const std::vector<std::pair<std::vector<std::string>, std::string>> errors = {
        {{"64_64-2_1_2_64"}, "invalid code string \"64_64-2_1_2_64\""},
        {{"64_64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-65"}, "code[26] = 65"},
        {{all64, "--out", (dir / "missing" / "net.py").string()}, (dir / "missing" / "net.py").string()},
        {{all64, "--format", "json", "--out", dir.path().string()}, dir.path().string()},
    };
    for (const auto& [args, part] : errors) {
        std::vector<std::string> argv{"export"};
        argv.insert(argv.end(), args.begin(), args.end());
        const auto r = run_cli(argv);
        INFO(part, ": ", r.err);
        CHECK(r.status == 1);
        CHECK(one_line(r.err));
        CHECK(contains(r.err, part));
        CHECK(r.out.empty());
    }
}

TEST_CASE("ncp help lists export; ncp export --help names every option") {
    CHECK(contains(run_cli({"help"}).out, "  export\t"));
    const auto r = run_cli({"export", "--help"});
    CHECK(r.status == 0);
    for (const char* option : {"--format torch|json|onnx", "--out FILE", "--seed N", "--input SIDE", "--head cls|seg",
                               "--classes N"})
        CHECK(contains(r.out, option));
}

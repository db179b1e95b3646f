/// `ncp export CODE [--format torch|json|onnx] [--out FILE] [--seed N] [--input SIDE] [--head cls|seg]
/// [--classes N]`: the network of an architecture code as a PyTorch module, JSON or an ONNX model.

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

#include "cli.hpp"
#include "convention_options.hpp"
#include "ncp/export/json.hpp"
#include "ncp/export/torch.hpp"
#include "ncp/io/atomic.hpp"
#if defined(NCP_WITH_ONNX)
#include "ncp/export/onnx.hpp"
#endif

namespace {

constexpr const char* usage =
    "usage: ncp export [OPTIONS] CODE\n"
    "CODE is the string form (64_64-2_1_2_64-...) or 27 comma-separated integers. Writes its network, the one\n"
    "ncp flops counts under the same options:\n"
    "options:\n"
    "  --format torch|json|onnx  torch (default): a Python file defining class Net(torch.nn.Module); json: the\n"
    "                    original MultiResolutionNet's arguments with the convention and FLOPs/params; onnx: an\n"
    "                    ONNX model (opset 13) with initialised weights\n"
    "  --out FILE        where to write (default: standard output; onnx needs a file)\n"
    "  --seed N          onnx: the seed of the initial weights (default 0)\n";

/// The ONNX model of `k`, or the error of a program built without the ONNX libraries.
void write_onnx(const std::string& out, const ncp::arch::code& k, const ncp::arch::convention& c,
                std::uint64_t seed) {
#if defined(NCP_WITH_ONNX)
    ncp::exporting::write_onnx(out, k, c, seed);
#else
    (void)out, (void)k, (void)c, (void)seed;
    throw ncp::error("ncp was built without ONNX export (install libonnx-dev libprotobuf-dev and reconfigure)");
#endif
}

int run(std::span<const std::string> args) {
    ncp::arch::convention conv;
    std::string format = "torch";
    std::string out;
    std::string seed_text;
    std::string text;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (ncp::cli::convention_option(args, i, conv)) continue;
        const std::string& a = args[i];
        if (a == "--help" || a == "-h") {
            std::fputs(usage, stdout);
            std::fputs(ncp::cli::convention_usage, stdout);
            return 0;
        }
        if (a == "--format") {
            format = ncp::cli::option_value(args, i++);
            if (format != "torch" && format != "json" && format != "onnx")
                throw ncp::usage_error("--format " + format + ": expected torch, json or onnx");
        } else if (a == "--out") {
            out = ncp::cli::option_value(args, i++);
            if (out.empty()) throw ncp::usage_error("--out needs a file name");
        } else if (a == "--seed") {
            seed_text = ncp::cli::option_value(args, i++);
        } else if (a.starts_with("--")) {
            throw ncp::usage_error("unknown option " + a);
        } else if (!text.empty()) {
            throw ncp::usage_error("one code at a time (got " + text + " and " + a + ")");
        } else {
            text = a;
        }
    }
    if (text.empty()) throw ncp::usage_error("no code given (see ncp export --help)");
    std::uint64_t seed = 0;
    if (!seed_text.empty()) {
        if (format != "onnx") throw ncp::usage_error("--seed applies to --format onnx only");
        const auto [end, ec] = std::from_chars(seed_text.data(), seed_text.data() + seed_text.size(), seed);
        if (ec != std::errc{} || end != seed_text.data() + seed_text.size())
            throw ncp::usage_error("--seed " + seed_text + ": not a non-negative integer below 2^64");
    }
    if (format == "onnx" && out.empty()) throw ncp::usage_error("--format onnx needs --out FILE");
    const ncp::arch::code k = ncp::arch::parse_code(text);
    if (format == "onnx") {
        write_onnx(out, k, conv, seed);
        return 0;
    }
    const std::string contents =
        format == "torch" ? ncp::exporting::torch_module(k, conv) : ncp::exporting::network_json(k, conv);
    if (out.empty())
        std::fputs(contents.c_str(), stdout);
    else
        ncp::io::atomic_write(out, contents);
    return 0;
}

const ncp::cli::registration registered("export", "the network of an architecture code: PyTorch, JSON or ONNX",
                                        run);

}  // namespace

/// `ncp predict --model CKPT [--threads N] [CODE ... | --codes FILE]`: the model's metrics for codes, as CSV on
/// stdout.

#include <iostream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "ncp/arch/code_list.hpp"
#include "ncp/io/checkpoint.hpp"
#include "ncp/train/predict.hpp"

namespace {

constexpr const char* usage =
    "usage: ncp predict --model CKPT [--threads N] [CODE ... | --codes FILE]\n"
    "  --model CKPT   a checkpoint written by ncp train (best_model.ckpt)\n"
    "  --threads N    threads predicting chunks of about 256 codes (default: the machine's hardware threads);\n"
    "                 the output does not depend on it\n"
    "  CODE           NAS-Bench-MR: the string form or 27 comma-separated integers;\n"
    "                 NAS-Bench-201: 30 comma-separated one-hot values or |op~0|+|op~0|op~1|+...\n"
    "  --codes FILE   one code per line ('#' comments and blank lines skipped; - reads standard input)\n"
    "Prints CSV: code,<metric>,... in the model's metric order and original units.\n";

int predict(std::span<const std::string> args) {
    std::string model_path, codes_file;
    std::vector<std::string> codes, origins;
    int threads = ncp::cli::default_threads();
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--help" || a == "-h") {
            std::cout << usage;
            return 0;
        }
        if (a == "--model") {
            model_path = ncp::cli::option_value(args, i++);
        } else if (a == "--codes") {
            codes_file = ncp::cli::option_value(args, i++);
        } else if (a == "--threads") {
            threads = ncp::cli::parse_threads(ncp::cli::option_value(args, i++));
        } else if (a.starts_with("--")) {
            throw ncp::usage_error("unknown option '" + a + "' (see ncp predict --help)");
        } else {
            codes.push_back(a);
        }
    }
    if (model_path.empty()) throw ncp::usage_error("missing --model CKPT (see ncp predict --help)");
    if (!codes_file.empty()) {
        const std::string text = ncp::arch::read_text(codes_file);
        origins.resize(codes.size());  // codes given as arguments name themselves
        for (const auto& line : ncp::arch::code_lines(text)) {
            codes.emplace_back(line.text);
            origins.push_back(codes_file + " line " + std::to_string(line.line));
        }
    }
    if (codes.empty()) throw ncp::usage_error("no codes given (see ncp predict --help)");
    auto model = ncp::io::load_predictor(model_path);
    ncp::train::write_predictions(std::cout, model, codes, threads, origins);
    return 0;
}

const ncp::cli::registration reg("predict", "predict metrics of codes with a trained model (--model CKPT)", predict);

}  // namespace

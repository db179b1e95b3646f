/// `ncp describe`: the block graph of one architecture code, as a table or as the JSON of its network setting.

#include <cstdio>
#include <string>

#include "cli.hpp"
#include "convention_options.hpp"
#include "ncp/arch/describe.hpp"

namespace {

constexpr const char* usage =
    "usage: ncp describe [OPTIONS] CODE\n"
    "CODE is the string form (64_64-2_1_2_64-...) or 27 comma-separated integers.\n"
    "Prints one line per block (type, branch, input and output shapes, FLOPs in G, params in M) and the totals.\n"
    "options:\n"
    "  --json            print the network setting (input_channel, network_setting, last_channel) as the\n"
    "                    original MultiResolutionNet takes it, with the convention and the totals\n";

int run(std::span<const std::string> args) {
    ncp::arch::convention conv;
    bool json = false;
    std::string text;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (ncp::cli::convention_option(args, i, conv)) continue;
        if (args[i] == "--help" || args[i] == "-h") {
            std::fputs(usage, stdout);
            std::fputs(ncp::cli::convention_usage, stdout);
            return 0;
        }
        if (args[i] == "--json") {
            json = true;
        } else if (args[i].starts_with("--")) {
            throw ncp::usage_error("unknown option " + args[i]);
        } else if (!text.empty()) {
            throw ncp::usage_error("one code at a time (got " + text + " and " + args[i] + ")");
        } else {
            text = args[i];
        }
    }
    if (text.empty()) throw ncp::usage_error("no code given (see ncp describe --help)");
    const ncp::arch::code k = ncp::arch::parse_code(text);
    const std::string out =
        json ? ncp::arch::setting_json(k, conv) : ncp::arch::block_table(ncp::arch::build_network(k, conv));
    std::fputs(out.c_str(), stdout);
    return 0;
}

const ncp::cli::registration registered("describe", "the block graph of an architecture code (table or JSON)", run);

}  // namespace

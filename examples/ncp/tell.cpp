/// `ncp tell --known KNOWN.csv RESULTS.csv`: adds the results of newly trained architectures to the known ones
/// (the closed loop of `ncp ask`), after checking every row; on any bad row nothing is written.

#include <iostream>

#include "cli.hpp"
#include "ncp/io/results_csv.hpp"

namespace {

constexpr const char* usage =
    "usage: ncp tell --known KNOWN.csv RESULTS.csv\n"
    "  --known KNOWN.csv   the results known so far (created when missing): header code,<metric>,...\n"
    "  RESULTS.csv         new results with the same metric columns (any order), no code already known\n"
    "Appends RESULTS.csv's rows to KNOWN.csv (codes in their string form), atomically.\n";

int tell(std::span<const std::string> args) {
    std::string known, results;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--help" || a == "-h") {
            std::cout << usage;
            return 0;
        }
        if (a == "--known") {
            known = ncp::cli::option_value(args, i++);
        } else if (a.starts_with("-") || !results.empty()) {
            throw ncp::usage_error("unexpected argument '" + a + "' (see ncp tell --help)");
        } else {
            results = a;
        }
    }
    if (known.empty() || results.empty())
        throw ncp::usage_error("missing --known or RESULTS.csv (see ncp tell --help)");
    const std::size_t added = ncp::io::append_results(known, results);
    std::cout << "ncp tell: " << added << " result" << (added == 1 ? "" : "s") << " added to " << known << "\n";
    return 0;
}

const ncp::cli::registration reg("tell", "add trained architectures' results to KNOWN.csv (for ncp ask)", tell);

}  // namespace

/// `ncp SUBCOMMAND ...`: dispatches to the registered subcommands; errors become one line on stderr.

#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "cli.hpp"

namespace {

void print_help(std::ostream& out) {
    out << "usage: ncp SUBCOMMAND [ARGS...]\n\nsubcommands:\n";
    for (const auto& [name, cmd] : ncp::cli::registry()) out << "  " << name << "\t" << cmd.summary << "\n";
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        print_help(std::cerr);
        return 2;
    }
    const std::string name = argv[1];
    if (name == "--help" || name == "-h" || name == "help") {
        print_help(std::cout);
        return 0;
    }
    if (name == "--version") {
        std::cout << "ncp " << ncp::version << "\n";
        return 0;
    }
    const auto found = ncp::cli::registry().find(name);
    if (found == ncp::cli::registry().end()) {
        std::cerr << "ncp: unknown subcommand '" << name << "' (see ncp --help)\n";
        return 2;
    }
    // "--key=value" is read as "--key value", as most programs take it.
    std::vector<std::string> args;
    for (int i = 2; i < argc; ++i) {
        const std::string a = argv[i];
        const auto eq = a.find('=');
        if (a.starts_with("--") && eq != std::string::npos && eq > 2) {
            args.push_back(a.substr(0, eq));
            args.push_back(a.substr(eq + 1));
        } else {
            args.push_back(a);
        }
    }
    try {
        return found->second.run(args);
    } catch (const ncp::usage_error& e) {
        std::cerr << "ncp " << name << ": " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "ncp " << name << ": " << e.what() << "\n";
        return 1;
    }
}

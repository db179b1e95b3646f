#pragma once
/// The command-line shell shared by every `ncp` subcommand: registration, argument access, error reporting.

#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "ncp/config.hpp"

namespace ncp::cli {

/// A subcommand: receives its arguments (without the program and subcommand names), returns the exit status.
using command_fn = std::function<int(std::span<const std::string>)>;

/// One registered subcommand.
struct command {
    std::string summary;  ///< one line for `ncp --help`
    command_fn run;       ///< entry point
};

/// All subcommands by name; filled before main() by `registration` objects.
inline std::map<std::string, command>& registry() {
    static std::map<std::string, command> commands;
    return commands;
}

/// Declare one at namespace scope in a subcommand's file to add it to `ncp`.
struct registration {
    registration(std::string name, std::string summary, command_fn run) {
        registry().emplace(std::move(name), command{std::move(summary), std::move(run)});
    }
};

/// Throws usage_error unless `args[i + 1]` exists; returns it (the value of option `args[i]`).
inline const std::string& option_value(std::span<const std::string> args, std::size_t i) {
    if (i + 1 >= args.size()) throw usage_error("option " + args[i] + " needs a value");
    return args[i + 1];
}

/// Threads by default: 2 where the machine has 2 cores or more (the programs use at most 2).
inline int default_threads() { return std::thread::hardware_concurrency() >= 2 ? 2 : 1; }

/// The value of `--threads`: 1 or 2; anything else is a usage error naming the flag.
inline int parse_threads(const std::string& value) {
    if (value != "1" && value != "2") throw usage_error("--threads takes 1 or 2 (got '" + value + "')");
    return value == "1" ? 1 : 2;
}

}  // namespace ncp::cli

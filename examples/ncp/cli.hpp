#pragma once
/// The command-line shell shared by every `ncp` subcommand: registration, argument access, error reporting.

#include <charconv>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "ncp/config.hpp"
#include "ncp/parallel/thread_team.hpp"

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

/// Threads by default: the machine's hardware threads.
inline int default_threads() { return parallel::hardware_threads(); }

/// The value of `--threads`: a whole number from 1 to 4096; anything else is a usage error naming the flag.
inline int parse_threads(const std::string& value) {
    int n = 0;
    const auto [end, failed] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (failed != std::errc() || end != value.data() + value.size() || n < 1 || n > 4096)
        throw usage_error("--threads takes a whole number from 1 to 4096 (got '" + value + "')");
    return n;
}

}  // namespace ncp::cli

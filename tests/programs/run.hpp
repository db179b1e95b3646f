#pragma once
/// Runs the built `ncp` program with arguments and captures its exit status, stdout and stderr.

#include <string>
#include <vector>

#include "ncp/config.hpp"
#include "test_support.hpp"

namespace ncp::test {

/// What one run of the program gave back.
using cli_result = command_result;

/// Runs `ncp args...` through the shell, with `stdin_text` on its standard input.
inline cli_result run_cli(const std::vector<std::string>& args, const std::string& stdin_text = "") {
    std::vector<std::string> argv{cli_path().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, stdin_text);
}

}  // namespace ncp::test

#pragma once
/// Runs the built `ncp` program with arguments and captures its exit status, stdout and stderr.

#include <filesystem>
#include <sstream>
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

/// The CSV as rows of fields (quoted fields hold no commas here: codes use '_' and '-', or '|', '~', '+').
inline std::vector<std::vector<std::string>> read_csv(const std::filesystem::path& p) {
    std::istringstream in(read_file(p));
    std::vector<std::vector<std::string>> rows;
    for (std::string line; std::getline(in, line);) {
        std::vector<std::string> fields;
        std::istringstream f(line);
        for (std::string v; std::getline(f, v, ',');)
            fields.push_back(v.size() > 1 && v.front() == '"' ? v.substr(1, v.size() - 2) : v);
        if (!line.empty() && line.back() == ',') fields.emplace_back();
        rows.push_back(std::move(fields));
    }
    return rows;
}

}  // namespace ncp::test

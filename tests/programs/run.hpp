#pragma once
/// Runs the built `ncp` program with arguments and captures its exit status, stdout and stderr.

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ncp/config.hpp"
#include "test_support.hpp"

namespace ncp::test {

/// What one run of the program gave back.
struct cli_result {
    int status = -1;  ///< exit status
    std::string out;  ///< standard output
    std::string err;  ///< standard error
};

/// Quotes `s` for /bin/sh.
inline std::string shell_quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

/// Runs `ncp args...` through the shell, with `stdin_text` on its standard input.
inline cli_result run_cli(const std::vector<std::string>& args, const std::string& stdin_text = "") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("ncp-cli-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "in") << stdin_text;
    std::string cmd = shell_quote(cli_path().string());
    for (const auto& a : args) {
        cmd += ' ';  // appended apart: g++ 12 warns falsely (-Wrestrict) on " " + string&&
        cmd += shell_quote(a);
    }
    cmd += " <" + shell_quote((dir / "in").string()) + " >" + shell_quote((dir / "out").string()) + " 2>" +
           shell_quote((dir / "err").string());
    cli_result r;
    const int raw = std::system(cmd.c_str());
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    auto slurp = [](const fs::path& p) {
        std::ifstream in(p);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    };
    r.out = slurp(dir / "out");
    r.err = slurp(dir / "err");
    fs::remove_all(dir);
    return r;
}

}  // namespace ncp::test

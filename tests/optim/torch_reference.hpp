#pragma once
/// Reference sequences from PyTorch itself, when /usr/bin/python3 can import torch (CI does not install it: the
/// hand-computed checks cover CI, these add a check against the real thing on machines that have it).

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace ncp::test {

/// Runs `script` with /usr/bin/python3 and parses each output line "name v0 v1 ..." into name -> values; nothing
/// (and a printed skip notice) when torch cannot be imported there.
inline std::optional<std::map<std::string, std::vector<double>>> torch_reference(const std::string& script) {
    namespace fs = std::filesystem;
    const fs::path python = "/usr/bin/python3";
    if (!fs::exists(python) || std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) {
        std::cout << "skipped: comparison with PyTorch (/usr/bin/python3 cannot import torch)\n";
        return std::nullopt;
    }
    const fs::path file = fs::temp_directory_path() / ("ncp-torch-" + std::to_string(::getpid()) + ".py");
    std::ofstream(file) << script;
    FILE* pipe = ::popen(("/usr/bin/python3 " + file.string()).c_str(), "r");
    std::string text;
    char buffer[4096];
    for (std::size_t n; pipe != nullptr && (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) text.append(buffer, n);
    const int status = pipe != nullptr ? ::pclose(pipe) : -1;
    fs::remove(file);
    if (status != 0) throw std::runtime_error("the PyTorch reference script failed:\n" + script);
    std::map<std::string, std::vector<double>> out;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        std::istringstream fields(line);
        std::string name;
        fields >> name;
        auto& values = out[name];
        for (double v; fields >> v;) values.push_back(v);
    }
    return out;
}

}  // namespace ncp::test

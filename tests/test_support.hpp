#pragma once
/// Helpers shared by the tests: where the benchmark data and the ncp program are.

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

namespace ncp::test {

/// The NAS-Bench-MR folder from NCP_DATA_DIR, or nothing (and a printed skip notice naming `what`).
inline std::optional<std::filesystem::path> data_dir(const std::string& what) {
    const char* dir = std::getenv("NCP_DATA_DIR");
    if (dir == nullptr || *dir == '\0') {
        std::cout << "skipped: " << what << " (NCP_DATA_DIR is unset; point it at the NAS-Bench-MR pickles' folder)\n";
        return std::nullopt;
    }
    return std::filesystem::path(dir);
}

/// The repository root, for configs and scripts.
inline std::filesystem::path source_dir() { return NCP_SOURCE_DIR; }

/// The built `ncp` program (empty when examples are not built).
inline std::filesystem::path cli_path() { return NCP_CLI_PATH; }

}  // namespace ncp::test

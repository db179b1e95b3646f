#pragma once
/// Helpers shared by the tests: where the benchmark data and the ncp program are, running commands, scratch folders.

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "ncp/config.hpp"

namespace ncp::test {

/// The message of the ncp::error that `f` throws (a test failure when it throws none).
template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const ncp::error& e) {
        return e.what();
    }
    FAIL("no ncp::error thrown");
    return {};
}

/// The bytes of file `p` ("" where it cannot be read).
inline std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

/// Whether `text` contains `part`.
inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

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

/// The build tree, for caches shared by the test programs.
inline std::filesystem::path binary_dir() { return NCP_BINARY_DIR; }

/// The built `ncp` program (empty when examples are not built).
inline std::filesystem::path cli_path() { return NCP_CLI_PATH; }

/// A fresh empty folder, removed with everything in it when this goes out of scope.
class scratch_dir {
public:
    explicit scratch_dir(const std::string& tag) {
        static std::atomic<int> counter{0};
        m_path = std::filesystem::temp_directory_path() /
                 ("ncp-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        std::filesystem::remove_all(m_path);
        std::filesystem::create_directories(m_path);
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;
    ~scratch_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(m_path, ignored);
    }
    /// The folder.
    const std::filesystem::path& path() const { return m_path; }
    /// A path inside the folder.
    std::filesystem::path operator/(const std::string& name) const { return m_path / name; }

private:
    std::filesystem::path m_path;
};

/// What one run of a program gave back.
struct command_result {
    int status = -1;  ///< exit status (-1 when it did not exit normally)
    std::string out;  ///< standard output
    std::string err;  ///< standard error
};

/// Quotes `s` for /bin/sh.
inline std::string shell_quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

/// Runs `argv` through the shell with `stdin_text` on its standard input; captures status, stdout and stderr.
inline command_result run_command(const std::vector<std::string>& argv, const std::string& stdin_text = "") {
    namespace fs = std::filesystem;
    const scratch_dir dir("run");
    std::ofstream(dir / "in") << stdin_text;
    std::string cmd;
    for (const auto& a : argv) cmd.append(shell_quote(a)).append(" ");
    cmd.append("<").append(shell_quote((dir / "in").string()));
    cmd.append(" >").append(shell_quote((dir / "out").string()));
    cmd.append(" 2>").append(shell_quote((dir / "err").string()));
    command_result r;
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
    return r;
}

/// The Python that has what scripts/ need (numpy for the reference readers of the tests).
inline const std::string python = "/usr/bin/python3";

/// `<NCP_DATA_DIR>/<setting>/trainval.pkl` converted by scripts/convert_pkl.py into a cache in the build tree
/// (`<build>/test-data/<setting>/trainval.bin`), converted again when missing or older than the pickle or the
/// script. Test programs running at once may convert together: the script writes a unique temporary file and
/// renames it. Nothing (and a skip notice) when NCP_DATA_DIR is unset; throws when the conversion fails.
inline std::optional<std::filesystem::path> converted(const std::string& setting) {
    namespace fs = std::filesystem;
    const auto dir = data_dir("needs the " + setting + " benchmark");
    if (!dir) return std::nullopt;
    const fs::path pkl = *dir / setting / "trainval.pkl";
    const fs::path script = source_dir() / "scripts" / "convert_pkl.py";
    const fs::path bin = binary_dir() / "test-data" / setting / "trainval.bin";
    std::error_code ec;
    const auto bin_time = fs::last_write_time(bin, ec);
    if (ec || bin_time < fs::last_write_time(pkl) || bin_time < fs::last_write_time(script)) {
        const auto r = run_command({python, script.string(), pkl.string(), bin.string()});
        if (r.status != 0) throw std::runtime_error("converting " + pkl.string() + " failed: " + r.err);
    }
    return bin;
}

}  // namespace ncp::test

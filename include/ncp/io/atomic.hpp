#pragma once
/// Atomic file output: readers see the old file or the complete new one, never a partial write.

#include <cerrno>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <system_error>

#include <unistd.h>

#include "ncp/config.hpp"

namespace ncp::io {

namespace detail {

/// A name beside `target` that no other writer picks: 64 fresh random bits per call (so also after a fork).
inline std::filesystem::path temporary_sibling(const std::filesystem::path& target) {
    std::random_device random;
    const std::uint64_t tag = (std::uint64_t{random()} << 32) ^ random();
    std::string name(".");
    name.append(target.filename().string()).append(".").append(std::to_string(tag)).append(".tmp");
    return target.parent_path() / name;
}

}  // namespace detail

/// Writes `target` by calling `write(stream)` on a temporary file in the same folder, then renaming it over
/// `target`. On any failure (an exception from `write`, a stream error, the rename) the temporary file is removed,
/// `target` is left as it was, and the error propagates (ncp::error naming `target` for I/O failures). Not fsync'ed:
/// atomic against concurrent readers, not against power loss.
template <class Write>
    requires std::invocable<Write&, std::ostream&>
void atomic_write(const std::filesystem::path& target, Write&& write) {
    namespace fs = std::filesystem;
    if (target.filename().empty()) throw error(target.string() + ": not a file name");
    const fs::path tmp = detail::temporary_sibling(target);
    auto discard = [&] {
        std::error_code ignored;
        fs::remove(tmp, ignored);
    };
    try {
        {
            std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
            if (!out) throw error(target.string() + ": cannot create a file in " + tmp.parent_path().string());
            write(static_cast<std::ostream&>(out));
            out.close();
            if (!out) throw error(target.string() + ": write failed");
        }
        std::error_code ec;
        fs::rename(tmp, target, ec);
        if (ec) throw error(target.string() + ": cannot replace the file (" + ec.message() + ")");
    } catch (...) {
        discard();
        throw;
    }
}

/// Creates folder `dir` where missing and checks that files can be made in it; throws ncp::error naming it. Programs
/// call it for their output folders before long work, so that an unusable folder is said at once, not after it.
inline void output_folder(const std::filesystem::path& dir) {
    const std::filesystem::path folder = dir.empty() ? std::filesystem::path(".") : dir;
    std::error_code ec;
    std::filesystem::create_directories(folder, ec);
    if (ec) throw error(folder.string() + ": cannot create the output folder (" + ec.message() + ")");
    if (::access(folder.c_str(), W_OK | X_OK) != 0)
        throw error(folder.string() + ": cannot write in the output folder (" + std::strerror(errno) + ")");
}

/// Writes `contents` to `target` atomically.
inline void atomic_write(const std::filesystem::path& target, std::string_view contents) {
    atomic_write(target, [&](std::ostream& out) {
        out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    });
}

}  // namespace ncp::io

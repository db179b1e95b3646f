#pragma once
/// Atomic file output: readers see the old file or the complete new one, never a partial write; output folders
/// checked before the work and made just before the writing.

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
/// `target` is left as it was, and the error propagates (ncp::error naming `target` for I/O failures). A symbolic
/// link is written through (the link stays); a target that exists but is not a regular file (a folder, a device, a
/// pipe) is refused, not replaced. Not fsync'ed: atomic against concurrent readers, not against power loss.
template <class Write>
    requires std::invocable<Write&, std::ostream&>
void atomic_write(const std::filesystem::path& target, Write&& write) {
    namespace fs = std::filesystem;
    if (target.filename().empty()) throw error(target.string() + ": not a file name");
    std::error_code ec;
    fs::path file = target;
    if (fs::is_symlink(target, ec)) {
        const fs::path link = fs::read_symlink(target, ec);
        if (!ec) file = link.is_absolute() ? link : target.parent_path() / link;
    }
    const fs::file_status status = fs::status(file, ec);
    if (fs::exists(status) && !fs::is_regular_file(status))
        throw error(target.string() + ": not a regular file (ncp writes files only: a folder, device or pipe is left "
                    "as it is)");
    const fs::path tmp = detail::temporary_sibling(file);
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
        fs::rename(tmp, file, ec);
        if (ec) throw error(target.string() + ": cannot replace the file (" + ec.message() + ")");
    } catch (...) {
        discard();
        throw;
    }
}

/// Throws ncp::error naming `dir` unless it is a folder files can be made in, or can become one (its nearest existing
/// ancestor is such a folder); creates nothing. Programs call it before long work, so that an unusable output folder
/// is said at once, not after the work, and a run that fails leaves no empty folder behind.
inline void check_output_folder(const std::filesystem::path& dir) {
    namespace fs = std::filesystem;
    const fs::path folder = dir.empty() ? fs::path(".") : dir;
    fs::path at = folder;
    std::error_code ec;
    while (!fs::exists(at, ec)) {
        at = at.parent_path();
        if (at.empty()) at = ".";
    }
    if (!fs::is_directory(at, ec))
        throw error(folder.string() + ": cannot create the output folder (" + at.string() + " is not a folder)");
    if (::access(at.c_str(), W_OK | X_OK) != 0)
        throw error(folder.string() + ": cannot write in " + at.string() + " (" + std::strerror(errno) + ")");
}

/// Creates folder `dir` where missing, as writers do just before writing; throws ncp::error naming it.
inline void make_output_folder(const std::filesystem::path& dir) {
    std::error_code ec;
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    if (ec) throw error(dir.string() + ": cannot create the output folder (" + ec.message() + ")");
}

/// Writes `contents` to `target` atomically.
inline void atomic_write(const std::filesystem::path& target, std::string_view contents) {
    atomic_write(target, [&](std::ostream& out) {
        out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    });
}

}  // namespace ncp::io

/// Atomic writes: complete files or none, old contents kept on failure, no temporary files left behind.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>

#include "ncp/io/atomic.hpp"
#include "test_support.hpp"

namespace {

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::size_t entries(const std::filesystem::path& dir) {
    return static_cast<std::size_t>(std::distance(std::filesystem::directory_iterator(dir), {}));
}

}  // namespace

TEST_CASE("atomic_write creates and replaces a file") {
    const ncp::test::scratch_dir dir("atomic");
    ncp::io::atomic_write(dir / "f.txt", "first");
    CHECK(slurp(dir / "f.txt") == "first");
    ncp::io::atomic_write(dir / "f.txt", [](std::ostream& out) { out << "second" << '\0' << "binary"; });
    CHECK(slurp(dir / "f.txt") == std::string("second\0binary", 13));
    CHECK(entries(dir.path()) == 1);
}

TEST_CASE("a failing writer leaves the old file and no temporary file") {
    const ncp::test::scratch_dir dir("atomic");
    ncp::io::atomic_write(dir / "f.txt", "old");
    CHECK_THROWS_WITH_AS(ncp::io::atomic_write(dir / "f.txt",
                                               [](std::ostream& out) {
                                                   out << "partial";
                                                   throw std::runtime_error("writer failed");
                                               }),
                         "writer failed", std::runtime_error);
    CHECK(slurp(dir / "f.txt") == "old");
    CHECK(entries(dir.path()) == 1);
}

TEST_CASE("unwritable targets are errors naming the target") {
    const ncp::test::scratch_dir dir("atomic");
    const auto target = (dir / "missing" / "f.txt").string();
    CHECK_THROWS_WITH_AS(ncp::io::atomic_write(target, "x"), doctest::Contains(target.c_str()), ncp::error);
    std::filesystem::create_directory(dir / "folder");
    std::ofstream(dir / "folder" / "inside") << "x";
    const auto folder = (dir / "folder").string();
    CHECK_THROWS_WITH_AS(ncp::io::atomic_write(folder, "x"), doctest::Contains(folder.c_str()), ncp::error);
    CHECK(entries(dir.path()) == 1);
}

TEST_CASE("a link is written through; a pipe or device is refused, not replaced by a file") {
    const ncp::test::scratch_dir dir("atomic");
    ncp::io::atomic_write(dir / "real.txt", "old");
    std::filesystem::create_symlink("real.txt", dir / "link.txt");
    ncp::io::atomic_write(dir / "link.txt", "new");
    CHECK(std::filesystem::is_symlink(dir / "link.txt"));
    CHECK(slurp(dir / "real.txt") == "new");
    REQUIRE(::mkfifo((dir / "pipe").c_str(), 0600) == 0);
    const auto pipe = (dir / "pipe").string();
    CHECK_THROWS_WITH_AS(ncp::io::atomic_write(pipe, "x"), (pipe + ": not a regular file (ncp writes files only: a "
                                                                   "folder, device or pipe is left as it is)").c_str(),
                         ncp::error);
    CHECK(std::filesystem::is_fifo(dir / "pipe"));
    CHECK(entries(dir.path()) == 3);
}

TEST_CASE("check_output_folder refuses what cannot hold files and creates nothing; make_output_folder creates") {
    const ncp::test::scratch_dir dir("atomic");
    ncp::io::check_output_folder(dir / "a" / "b");  // can become a folder
    CHECK_FALSE(std::filesystem::exists(dir / "a"));
    ncp::io::make_output_folder(dir / "a" / "b");
    CHECK(std::filesystem::is_directory(dir / "a" / "b"));
    ncp::io::check_output_folder(dir / "a" / "b");
    std::ofstream(dir / "plain") << "x";
    const auto under_file = (dir / "plain" / "out").string();
    CHECK_THROWS_WITH_AS(ncp::io::check_output_folder(under_file),
                         (under_file + ": cannot create the output folder (" + (dir / "plain").string() +
                          " is not a folder)").c_str(),
                         ncp::error);
    CHECK_THROWS_WITH_AS(ncp::io::make_output_folder(under_file),
                         doctest::Contains((under_file + ": cannot create the output folder (").c_str()), ncp::error);
}

TEST_CASE("concurrent writers of one file leave one complete version") {
    const ncp::test::scratch_dir dir("atomic");
    std::vector<std::thread> writers;
    for (int t = 0; t < 4; ++t)
        writers.emplace_back([&, t] {
            for (int i = 0; i < 50; ++i)
                ncp::io::atomic_write(dir / "f.txt", std::string(10000, static_cast<char>('a' + t)));
        });
    for (auto& w : writers) w.join();
    const auto text = slurp(dir / "f.txt");
    REQUIRE(text.size() == 10000);
    CHECK(text == std::string(10000, text[0]));
    CHECK(entries(dir.path()) == 1);
}

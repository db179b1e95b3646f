/// write_network_files: the module and the JSON of a code in a folder (created where missing), written atomically;
/// failures name the folder or file, and an invalid code writes nothing.

#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "export/networks.hpp"
#include "ncp/export/files.hpp"
#include "test_support.hpp"

using ncp::test::contains;

namespace arch = ncp::arch;
namespace exporting = ncp::exporting;
namespace fs = std::filesystem;

TEST_CASE("the two files, in a folder created on the way, hold torch_module and network_json") {
    const ncp::test::scratch_dir dir("export-files");
    const arch::code k = arch::parse_code(ncp::test::all64);
    const arch::convention c{128, arch::head_kind::segmentation, 19};
    const auto paths = exporting::write_network_files(dir / "a" / "b", "net", k, c);
    CHECK(paths[0] == dir / "a" / "b" / "net.py");
    CHECK(paths[1] == dir / "a" / "b" / "net.json");
    CHECK(ncp::test::read_file(paths[0]) == exporting::torch_module(k, c));
    CHECK(ncp::test::read_file(paths[1]) == exporting::network_json(k, c));
    // A second code by its index beside it; nothing else in the folder (no temporary files left).
    exporting::write_network_files(dir / "a" / "b", "1", k);
    std::size_t files = 0;
    for (const auto& e : fs::directory_iterator(dir / "a" / "b")) files += e.is_regular_file();
    CHECK(files == 4);
    CHECK(contains(ncp::test::read_file(dir / "a" / "b" / "1.json"), "\"head\": \"cls\""));
}

TEST_CASE("failures: a folder that is a file, an unwritable place, an invalid code (nothing written)") {
    const ncp::test::scratch_dir dir("export-files-bad");
    const arch::code k = arch::parse_code(ncp::test::all64);
    ncp::io::atomic_write(dir / "plain", "x");
    CHECK(contains(ncp::test::error_of([&] { exporting::write_network_files(dir / "plain", "net", k); }),
                   (dir / "plain").string() + ": cannot create the output folder"));
    CHECK(contains(ncp::test::error_of([&] { exporting::write_network_files(dir / "plain" / "sub", "net", k); }),
                   (dir / "plain" / "sub").string()));
    arch::code bad = k;
    bad[0] = 0;
    CHECK(contains(ncp::test::error_of([&] { exporting::write_network_files(dir / "new", "net", bad); }),
                   "code[0] = 0"));
    CHECK(!fs::exists(dir / "new"));
}

/// The `ncp` program's shell: dispatch, version, usage errors.

#include <doctest/doctest.h>

#include "programs/run.hpp"

TEST_CASE("ncp --version prints the library version") {
    const auto r = ncp::test::run_cli({"--version"});
    CHECK(r.status == 0);
    CHECK(r.out == std::string("ncp ") + ncp::version + "\n");
}

TEST_CASE("--key=value is read as --key value") {
    const auto r = ncp::test::run_cli({"train", "--cfg=configs/none.yaml", "--threads=0"});
    CHECK(r.status == 2);
    CHECK(r.err == "ncp train: --threads takes a whole number from 1 to 4096 (got '0')\n");
}

TEST_CASE("an unknown subcommand is a usage error naming it") {
    const auto r = ncp::test::run_cli({"no-such-command"});
    CHECK(r.status == 2);
    CHECK(r.err.find("no-such-command") != std::string::npos);
}

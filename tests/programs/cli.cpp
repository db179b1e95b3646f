/// The `ncp` program's shell: dispatch, version, usage errors.

#include <doctest/doctest.h>

#include "programs/run.hpp"

TEST_CASE("ncp --version prints the library version") {
    const auto r = ncp::test::run_cli({"--version"});
    CHECK(r.status == 0);
    CHECK(r.out == std::string("ncp ") + ncp::version + "\n");
}

TEST_CASE("an unknown subcommand is a usage error naming it") {
    const auto r = ncp::test::run_cli({"no-such-command"});
    CHECK(r.status == 2);
    CHECK(r.err.find("no-such-command") != std::string::npos);
}

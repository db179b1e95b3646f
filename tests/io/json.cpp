/// The JSON writer: layout, escaping, exact numbers, and refusing misuse.

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "ncp/io/json.hpp"

namespace {

template <class Build>
std::string written(Build&& build, bool pretty = true) {
    std::ostringstream out;
    ncp::io::json_writer json(out, pretty);
    build(json);
    CHECK(json.done());
    return out.str();
}

}  // namespace

TEST_CASE("pretty and compact layouts") {
    auto build = [](ncp::io::json_writer& j) {
        j.begin_object()
            .member("setting", "seg")
            .member("records", 2507)
            .member("ok", true)
            .key("none")
            .null()
            .key("names")
            .array(std::vector<std::string>{"a", "b"})
            .key("empty")
            .begin_array()
            .end_array()
            .key("nested")
            .begin_object()
            .member("x", 1.5)
            .end_object()
            .key("blank")
            .begin_object()
            .end_object()
            .end_object();
    };
    CHECK(written(build, false) ==
          R"({"setting":"seg","records":2507,"ok":true,"none":null,"names":["a","b"],"empty":[],"nested":{"x":1.5},)"
          R"("blank":{}})");
    CHECK(written(build) == R"({
  "setting": "seg",
  "records": 2507,
  "ok": true,
  "none": null,
  "names": [
    "a",
    "b"
  ],
  "empty": [],
  "nested": {
    "x": 1.5
  },
  "blank": {}
})");
}

TEST_CASE("strings are escaped") {
    const std::string raw = std::string("q\"b\\n\nt\tr\rf\fb\bz") + '\0' + "\x1f" + "é";
    CHECK(written([&](auto& j) { j.value(raw); }) == "\"q\\\"b\\\\n\\nt\\tr\\rf\\fb\\bz\\u0000\\u001fé\"");
    CHECK(written([](auto& j) { j.begin_object().member("k\"", "v").end_object(); }, false) == R"({"k\"":"v"})");
}

TEST_CASE("numbers read back exactly") {
    for (double x : {0.0, -0.0, 1.0, 0.1, -2.5e-300, 1.7976931348623157e308, 4.9e-324, 13.727426866, 1.0 / 3.0}) {
        const auto text = written([&](auto& j) { j.value(x); });
        CHECK(std::strtod(text.c_str(), nullptr) == x);
        CHECK(text.find_first_not_of("0123456789+-.e") == std::string::npos);
    }
    CHECK(written([](auto& j) { j.value(std::numeric_limits<std::int64_t>::min()); }) == "-9223372036854775808");
    CHECK(written([](auto& j) { j.value(std::numeric_limits<std::uint64_t>::max()); }) == "18446744073709551615");
    CHECK(written([](auto& j) { j.array(std::vector<float>{0.5F, 2.0F}); }, false) == "[0.5,2]");
}

TEST_CASE("non-finite numbers are refused, naming the key") {
    std::ostringstream out;
    ncp::io::json_writer j(out);
    j.begin_object().key("loss");
    CHECK_THROWS_WITH_AS(j.value(std::numeric_limits<double>::quiet_NaN()), doctest::Contains("key 'loss'"),
                         ncp::error);
    CHECK_THROWS_AS(ncp::io::json_writer(out).value(std::numeric_limits<double>::infinity()), ncp::error);
}

TEST_CASE("misuse is an error") {
    std::ostringstream out;
    CHECK_THROWS_AS(ncp::io::json_writer(out).begin_object().value(1), ncp::error);              // value without key
    CHECK_THROWS_AS(ncp::io::json_writer(out).begin_array().key("k"), ncp::error);               // key in an array
    CHECK_THROWS_AS(ncp::io::json_writer(out).begin_object().key("a").key("b"), ncp::error);     // two keys
    CHECK_THROWS_AS(ncp::io::json_writer(out).begin_object().end_array(), ncp::error);            // wrong bracket
    CHECK_THROWS_AS(ncp::io::json_writer(out).begin_object().key("a").end_object(), ncp::error);  // key without value
    CHECK_THROWS_AS(ncp::io::json_writer(out).end_array(), ncp::error);                          // nothing open
    CHECK_THROWS_AS(ncp::io::json_writer(out).value(1).value(2), ncp::error);                    // two top-level values
    CHECK_THROWS_AS(ncp::io::json_writer(out).begin_array().end_array().begin_array(), ncp::error);
    ncp::io::json_writer open(out);
    open.begin_array().value(1);
    CHECK_FALSE(open.done());
}

/// The SVG chart writer: well-formed output, escaping, axis mapping and bad input.

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "ncp/io/svg.hpp"

namespace {

ncp::io::svg_panel sample_panel() {
    ncp::io::svg_panel p;
    p.title = "metric <&> \"flops\"";
    p.x_label = "iteration";
    p.y_label = "mIoU";
    p.series.push_back({"trajectory", {0, 1, 2, 3}, {75.6, 76.1, 77.0, 77.9}});
    p.series.push_back({"front", {0, 1, 3}, {75, 76, 78}, "#2ca02c", ncp::io::svg_style::steps});
    p.series.push_back({"", {0.5, 2.5}, {76, 77}, "#888", ncp::io::svg_style::points, 2.0, 0.4});
    p.markers.push_back({"selected", 3, 77.9});
    return p;
}

}  // namespace

TEST_CASE("render_svg writes well-formed SVG with escaped text") {
    const std::vector<ncp::io::svg_panel> panels{sample_panel(), sample_panel(), sample_panel()};
    const std::string svg = ncp::io::render_svg(panels, "a & b", 2);
    CHECK(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1040\" height=\"750\"") != std::string::npos);
    CHECK(svg.find("metric &lt;&amp;&gt; &quot;flops&quot;") != std::string::npos);
    CHECK(svg.find("a &amp; b") != std::string::npos);
    CHECK(svg.find("<polyline") != std::string::npos);
    CHECK(svg.find("selected") != std::string::npos);

    // An XML parser accepts it (Debian's python3 is a build dependency of the tests).
    const auto path = std::filesystem::temp_directory_path() / ("ncp-svg-" + std::to_string(::getpid()) + ".svg");
    std::ofstream(path) << svg;
    const std::string cmd = "/usr/bin/python3 -c \"import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])\" " +
                            path.string();
    CHECK(std::system(cmd.c_str()) == 0);
    std::filesystem::remove(path);
}

TEST_CASE("points map inside the plotting frame and the extremes touch its padding") {
    ncp::io::svg_panel p;
    p.series.push_back({"", {0, 10}, {0, 1}, "#000", ncp::io::svg_style::points});
    const std::vector<ncp::io::svg_panel> panels{p};
    const std::string svg = ncp::io::render_svg(panels, "", 1, 500, 300);
    // Frame: x from 64 to 484 (width 420), y from 28 to 256 (height 228); 5% padding on each side.
    std::smatch m;
    const std::regex circle(R"re(<circle cx="([0-9.]+)" cy="([0-9.]+)")re");
    std::vector<std::pair<double, double>> xy;
    for (auto it = std::sregex_iterator(svg.begin(), svg.end(), circle); it != std::sregex_iterator(); ++it)
        xy.emplace_back(std::stod((*it)[1]), std::stod((*it)[2]));
    REQUIRE(xy.size() == 2);
    CHECK(xy[0].first == doctest::Approx(64 + 420 * (0.5 / 11)).epsilon(1e-4));
    CHECK(xy[1].first == doctest::Approx(64 + 420 * (10.5 / 11)).epsilon(1e-4));
    CHECK(xy[0].second == doctest::Approx(28 + 228 - 228 * (0.05 / 1.1)).epsilon(1e-4));
    CHECK(xy[1].second == doctest::Approx(28 + 228 * (0.05 / 1.1)).epsilon(1e-4));
}

TEST_CASE("series of unequal length and a non-positive column count are errors") {
    ncp::io::svg_panel p;
    p.series.push_back({"broken", {0, 1}, {0}});
    const std::vector<ncp::io::svg_panel> panels{p};
    CHECK_THROWS_WITH_AS(ncp::io::render_svg(panels, "t"), doctest::Contains("'broken'"), ncp::error);
    CHECK_THROWS_AS(ncp::io::render_svg(panels, "t", 0), ncp::error);
}

TEST_CASE("nice_step picks 1, 2 or 5 times a power of ten") {
    CHECK(ncp::io::detail::nice_step(0, 10, 5) == doctest::Approx(2));
    CHECK(ncp::io::detail::nice_step(0, 1, 6) == doctest::Approx(0.2));
    CHECK(ncp::io::detail::nice_step(75, 78, 5) == doctest::Approx(1));
    CHECK(ncp::io::detail::nice_step(0, 0.07, 6) == doctest::Approx(0.02));
}

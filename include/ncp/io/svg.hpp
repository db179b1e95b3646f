#pragma once
/// A small SVG chart writer: panels of line and point series on linear axes with readable ticks, enough for
/// ncp's result plots (trajectories over iterations, metric-vs-FLOPs scatter with a Pareto front) and viewable in
/// any browser without scripts or external files.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ncp/config.hpp"

namespace ncp::io {

/// How a series is drawn.
enum class svg_style {
    line,    ///< a polyline through the points in order
    points,  ///< a dot per point
    steps,   ///< a staircase (for Pareto fronts: each point holds until the next)
};

/// One data series of a panel.
struct svg_series {
    std::string label;                ///< legend text (empty: not in the legend)
    std::vector<double> x;            ///< abscissae
    std::vector<double> y;            ///< ordinates, as many as x
    std::string color = "#1f77b4";    ///< any CSS colour
    svg_style style = svg_style::line;  ///< how it is drawn
    double width = 1.5;               ///< line width or dot radius, in pixels
    double opacity = 1.0;             ///< 0..1, for drawing many series on top of each other
};

/// A highlighted point with a text label (the selected architecture, the start).
struct svg_marker {
    std::string label;              ///< text drawn beside the point and in the legend
    double x = 0;                   ///< abscissa
    double y = 0;                   ///< ordinate
    std::string color = "#d62728";  ///< fill colour
};

/// The corner of the plotting frame that holds the legend (pick the one the data leaves empty).
enum class svg_corner { top_left, top_right, bottom_left, bottom_right };

/// One chart: axes, series, markers.
struct svg_panel {
    std::string title;                ///< above the chart
    std::string x_label;              ///< below the x axis
    std::string y_label;              ///< beside the y axis
    std::vector<svg_series> series;   ///< drawn in order
    std::vector<svg_marker> markers;  ///< drawn last, on top
    svg_corner legend = svg_corner::top_left;  ///< where the legend goes
};

namespace detail {

/// Escapes text for SVG content and attribute values.
inline std::string svg_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            default: out += c;
        }
    }
    return out;
}

/// Formats a coordinate or tick value compactly.
inline std::string svg_number(double v, int precision = 6) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    return buf;
}

/// A tick spacing of 1, 2 or 5 times a power of ten giving about `target` ticks over [lo, hi].
inline double nice_step(double lo, double hi, int target) {
    const double raw = (hi - lo) / std::max(1, target);
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    for (double m : {1.0, 2.0, 5.0})
        if (m * magnitude >= raw) return m * magnitude;
    return 10 * magnitude;
}

/// Data range of a panel along one axis, padded so points do not sit on the frame.
struct svg_range {
    double lo = std::numeric_limits<double>::infinity();    ///< smallest value seen
    double hi = -std::numeric_limits<double>::infinity();   ///< largest value seen
    void add(double v) {
        if (std::isfinite(v)) {
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
    }
    void finish() {
        if (!std::isfinite(lo)) lo = 0, hi = 1;
        if (hi - lo < 1e-12 * std::max(1.0, std::abs(hi))) {
            const double pad = std::max(std::abs(hi) * 0.05, 0.5);
            lo -= pad;
            hi += pad;
        } else {
            const double pad = (hi - lo) * 0.05;
            lo -= pad;
            hi += pad;
        }
    }
};

inline void render_panel(std::string& out, const svg_panel& p, double x0, double y0, double w, double h) {
    for (const auto& s : p.series)
        if (s.x.size() != s.y.size()) throw error("svg: series '" + s.label + "' has x and y of different lengths");
    constexpr double left = 64, right = 16, top = 28, bottom = 44;
    const double pw = w - left - right, ph = h - top - bottom;
    svg_range xr, yr;
    for (const auto& s : p.series) {
        for (double v : s.x) xr.add(v);
        for (double v : s.y) yr.add(v);
    }
    for (const auto& m : p.markers) xr.add(m.x), yr.add(m.y);
    xr.finish();
    yr.finish();
    auto px = [&](double v) { return x0 + left + (v - xr.lo) / (xr.hi - xr.lo) * pw; };
    auto py = [&](double v) { return y0 + top + ph - (v - yr.lo) / (yr.hi - yr.lo) * ph; };

    out += "<g font-family=\"sans-serif\" font-size=\"11\">\n";
    out += "<text x=\"" + svg_number(x0 + left + pw / 2) + "\" y=\"" + svg_number(y0 + 17) +
           "\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">" + svg_escape(p.title) + "</text>\n";
    out += "<rect x=\"" + svg_number(x0 + left) + "\" y=\"" + svg_number(y0 + top) + "\" width=\"" + svg_number(pw) +
           "\" height=\"" + svg_number(ph) + "\" fill=\"white\" stroke=\"#444\"/>\n";
    // Grid lines and tick labels.
    const double xs = nice_step(xr.lo, xr.hi, 6), ys = nice_step(yr.lo, yr.hi, 5);
    for (double t = std::ceil(xr.lo / xs) * xs; t <= xr.hi; t += xs) {
        const std::string X = svg_number(px(t));
        out += "<line x1=\"" + X + "\" y1=\"" + svg_number(y0 + top) + "\" x2=\"" + X + "\" y2=\"" +
               svg_number(y0 + top + ph) + "\" stroke=\"#e5e5e5\"/>\n";
        out += "<text x=\"" + X + "\" y=\"" + svg_number(y0 + top + ph + 15) + "\" text-anchor=\"middle\">" +
               svg_number(std::abs(t) < xs * 1e-9 ? 0.0 : t, 4) + "</text>\n";
    }
    for (double t = std::ceil(yr.lo / ys) * ys; t <= yr.hi; t += ys) {
        const std::string Y = svg_number(py(t));
        out += "<line x1=\"" + svg_number(x0 + left) + "\" y1=\"" + Y + "\" x2=\"" + svg_number(x0 + left + pw) +
               "\" y2=\"" + Y + "\" stroke=\"#e5e5e5\"/>\n";
        out += "<text x=\"" + svg_number(x0 + left - 6) + "\" y=\"" + svg_number(py(t) + 4) +
               "\" text-anchor=\"end\">" + svg_number(std::abs(t) < ys * 1e-9 ? 0.0 : t, 4) + "</text>\n";
    }
    out += "<text x=\"" + svg_number(x0 + left + pw / 2) + "\" y=\"" + svg_number(y0 + h - 8) +
           "\" text-anchor=\"middle\">" + svg_escape(p.x_label) + "</text>\n";
    out += "<text transform=\"translate(" + svg_number(x0 + 14) + "," + svg_number(y0 + top + ph / 2) +
           ") rotate(-90)\" text-anchor=\"middle\">" + svg_escape(p.y_label) + "</text>\n";

    for (const auto& s : p.series) {
        const std::string paint = "\" opacity=\"" + svg_number(s.opacity, 3) + "\"";
        if (s.style == svg_style::points) {
            out += "<g fill=\"" + svg_escape(s.color) + paint + ">";
            for (std::size_t i = 0; i < s.x.size(); ++i)
                if (std::isfinite(s.x[i]) && std::isfinite(s.y[i]))
                    out += "<circle cx=\"" + svg_number(px(s.x[i])) + "\" cy=\"" + svg_number(py(s.y[i])) +
                           "\" r=\"" + svg_number(s.width, 3) + "\"/>";
            out += "</g>\n";
            continue;
        }
        std::string points;
        for (std::size_t i = 0; i < s.x.size(); ++i) {
            if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
            if (s.style == svg_style::steps && i > 0)
                points += svg_number(px(s.x[i])) + "," + svg_number(py(s.y[i - 1])) + " ";
            points += svg_number(px(s.x[i])) + "," + svg_number(py(s.y[i])) + " ";
        }
        out += "<polyline fill=\"none\" stroke=\"" + svg_escape(s.color) + "\" stroke-width=\"" +
               svg_number(s.width, 3) + paint + " points=\"" + points + "\"/>\n";
    }
    for (const auto& m : p.markers) {
        out += "<circle cx=\"" + svg_number(px(m.x)) + "\" cy=\"" + svg_number(py(m.y)) + "\" r=\"6\" fill=\"" +
               svg_escape(m.color) + "\" stroke=\"black\"/>\n";
        // Labels go right of the point, or left of it in the right quarter, so they stay inside the panel.
        const bool flip = px(m.x) > x0 + left + 0.75 * pw;
        out += "<text x=\"" + svg_number(px(m.x) + (flip ? -9 : 9)) + "\" y=\"" + svg_number(py(m.y) - 7) + "\"" +
               (flip ? " text-anchor=\"end\"" : "") + ">" + svg_escape(m.label) + "</text>\n";
    }
    // Legend, inside the frame in the chosen corner (entries about 15 px high, at most ~200 px wide).
    std::size_t entries = 0;
    for (const auto& s : p.series) entries += s.label.empty() ? 0 : 1;
    const bool right_side = p.legend == svg_corner::top_right || p.legend == svg_corner::bottom_right;
    const bool bottom_side = p.legend == svg_corner::bottom_left || p.legend == svg_corner::bottom_right;
    double ly = bottom_side ? y0 + top + ph - 15.0 * static_cast<double>(entries) + 8 : y0 + top + 14;
    for (const auto& s : p.series) {
        if (s.label.empty()) continue;
        const double lx = right_side ? x0 + left + pw - 200 : x0 + left + 8;
        out += s.style == svg_style::points
                   ? "<circle cx=\"" + svg_number(lx + 8) + "\" cy=\"" + svg_number(ly - 4) + "\" r=\"3\" fill=\"" +
                         svg_escape(s.color) + "\"/>"
                   : "<line x1=\"" + svg_number(lx) + "\" y1=\"" + svg_number(ly - 4) + "\" x2=\"" +
                         svg_number(lx + 16) + "\" y2=\"" + svg_number(ly - 4) + "\" stroke=\"" +
                         svg_escape(s.color) + "\" stroke-width=\"2\"/>";
        out += "<text x=\"" + svg_number(lx + 22) + "\" y=\"" + svg_number(ly) + "\">" + svg_escape(s.label) +
               "</text>\n";
        ly += 15;
    }
    out += "</g>\n";
}

}  // namespace detail

/// Renders panels on a grid of `columns` columns, each panel `panel_width` x `panel_height` pixels, under a title.
inline std::string render_svg(std::span<const svg_panel> panels, std::string_view title, int columns = 2,
                              double panel_width = 520, double panel_height = 360) {
    if (columns < 1) throw error("svg: columns must be positive");
    const int rows = static_cast<int>((panels.size() + columns - 1) / columns);
    const int cols = std::min<int>(columns, std::max<int>(1, static_cast<int>(panels.size())));
    const double head = title.empty() ? 0 : 30;
    const double width = cols * panel_width, height = head + rows * panel_height;
    std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                      detail::svg_number(width) + "\" height=\"" + detail::svg_number(height) + "\" viewBox=\"0 0 " +
                      detail::svg_number(width) + " " + detail::svg_number(height) + "\">\n";
    out += "<rect width=\"100%\" height=\"100%\" fill=\"#fafafa\"/>\n";
    if (!title.empty())
        out += "<text x=\"" + detail::svg_number(width / 2) +
               "\" y=\"21\" text-anchor=\"middle\" font-family=\"sans-serif\" font-size=\"15\">" +
               detail::svg_escape(title) + "</text>\n";
    for (std::size_t i = 0; i < panels.size(); ++i) {
        const double x = static_cast<double>(i % columns) * panel_width;
        const double y = head + static_cast<double>(i / columns) * panel_height;
        detail::render_panel(out, panels[i], x, y, panel_width, panel_height);
    }
    out += "</svg>\n";
    return out;
}

}  // namespace ncp::io

/// `ncp info FILE.bin [--compact]`: a JSON summary of a benchmark file (setting, size, metric names and ranges).

#include <algorithm>
#include <iostream>

#include "cli.hpp"
#include "ncp/data/format.hpp"
#include "ncp/io/json.hpp"

namespace {

int info(std::span<const std::string> args) {
    std::string file;
    bool pretty = true;
    for (const auto& a : args) {
        if (a == "--compact")
            pretty = false;
        else if (a.starts_with("-") || !file.empty())
            throw ncp::usage_error("unexpected argument '" + a + "' (usage: ncp info FILE.bin [--compact])");
        else
            file = a;
    }
    if (file.empty()) throw ncp::usage_error("missing FILE.bin (usage: ncp info FILE.bin [--compact])");

    const auto b = ncp::data::load_benchmark(file);
    ncp::io::json_writer json(std::cout, pretty);
    json.begin_object()
        .member("file", file)
        .member("setting", b.setting)
        .member("records", b.size())
        .member("code_dim", b.code_dim())
        .key("metrics")
        .begin_array();
    for (std::size_t m = 0; m < b.metric_names.size(); ++m) {
        const auto column = b.metric(b.metric_names[m]);
        const auto [lo, hi] = std::minmax_element(column.begin(), column.end());
        json.begin_object().member("name", b.metric_names[m]).member("min", *lo).member("max", *hi).end_object();
    }
    json.end_array().end_object();
    std::cout << "\n";
    return 0;
}

const ncp::cli::registration reg("info", "summarise a benchmark file (.bin) as JSON", info);

}  // namespace

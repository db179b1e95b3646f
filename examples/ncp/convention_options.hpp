#pragma once
/// The options that choose a FLOPs/params convention, shared by `ncp flops` and `ncp describe`.

#include <charconv>
#include <span>
#include <string>

#include "cli.hpp"
#include "ncp/arch/graph.hpp"

namespace ncp::cli {

/// Usage lines of the convention options.
inline constexpr const char* convention_usage =
    "  --input SIDE      input side, a multiple of 32 (default 128)\n"
    "  --head cls|seg    classification or segmentation head (default cls)\n"
    "  --classes N       classifier outputs (default 50)\n";

/// If `args[i]` is --input, --head or --classes, applies it (and its value) to `c`, advances `i` past the value
/// and returns true. Throws usage_error on a bad value.
inline bool convention_option(std::span<const std::string> args, std::size_t& i, arch::convention& c) {
    const std::string& name = args[i];
    if (name != "--input" && name != "--head" && name != "--classes") return false;
    const std::string& value = option_value(args, i);
    ++i;
    try {
        if (name == "--head") {
            c.head = arch::parse_head_kind(value);
            return true;
        }
        int n = 0;
        const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (ec != std::errc{} || end != value.data() + value.size())
            throw usage_error(name + " " + value + ": not an integer");
        (name == "--input" ? c.input_side : c.classes) = n;
        arch::validate(c);
    } catch (const usage_error&) {
        throw;
    } catch (const error& e) {
        throw usage_error(name + " " + value + ": " + e.what());
    }
    return true;
}

}  // namespace ncp::cli

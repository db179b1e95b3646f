/// libFuzzer target: any text given to the code parsers (both NAS-Bench-MR forms, NAS-Bench-201's form) yields a
/// code or an ncp::error, nothing else; a code that parses prints back to itself and builds a network whose count
/// agrees with its setting's.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ncp/arch/count.hpp"
#include "ncp/arch/nb201.hpp"

namespace {

void check_code(std::string_view text) {
    try {
        const ncp::arch::code k = ncp::arch::parse_code(text);
        if (ncp::arch::parse_code(ncp::arch::to_string(k)) != k) __builtin_trap();
        if (ncp::arch::parse_code(ncp::arch::to_ints_string(k)) != k) __builtin_trap();
        if (ncp::arch::to_code(ncp::arch::to_setting(k)) != k) __builtin_trap();
        const ncp::arch::cost c = ncp::arch::count(k);
        if (c.flops <= 0 || c.params <= 0 || c != ncp::arch::count(ncp::arch::to_setting(k))) __builtin_trap();
    } catch (const ncp::error&) {
    }
}

void check_nb201(std::string_view text) {
    try {
        const ncp::arch::nb201_cell cell = ncp::arch::parse_nb201(text);
        if (ncp::arch::parse_nb201(ncp::arch::to_string(cell)) != cell) __builtin_trap();
        if (ncp::arch::nb201_from_one_hot(ncp::arch::nb201_one_hot(cell)) != cell) __builtin_trap();
    } catch (const ncp::error&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    check_code(text);
    check_nb201(text);
    return 0;
}

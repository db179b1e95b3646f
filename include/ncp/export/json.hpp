#pragma once
/// The JSON form of an exported network: the code, the original release's MultiResolutionNet constructor arguments
/// (input_channel, network_setting, last_channel), the convention and the FLOPs/params under it.

#include <string>

#include "ncp/arch/code.hpp"
#include "ncp/arch/count.hpp"
#include "ncp/arch/describe.hpp"
#include "ncp/arch/graph.hpp"

namespace ncp::exporting {

/// `{"code", "input_channel", "network_setting", "last_channel", "head", "classes", "input", "flops_g",
/// "params_m"}` for code `k` (validated) under convention `c` (validated); FLOPs in G with 9 decimals and params
/// in M with 6, exactly as `ncp flops` prints them.
inline std::string network_json(const arch::code& k, const arch::convention& c = {}) {
    const arch::network_setting s = arch::to_setting(k);
    const arch::cost total = arch::count(s, c);
    return "{\n"
           "  \"code\": \"" + arch::to_string(k) + "\",\n" +
           arch::setting_members(s) + ",\n"
           "  \"head\": \"" + std::string(arch::head_name(c.head)) + "\",\n"
           "  \"classes\": " + std::to_string(c.classes) + ",\n"
           "  \"input\": " + std::to_string(c.input_side) + ",\n"
           "  \"flops_g\": " + arch::fixed_string(total.flops, arch::flops_g_decimals) + ",\n"
           "  \"params_m\": " + arch::fixed_string(total.params, arch::params_m_decimals) + "\n"
           "}\n";
}

}  // namespace ncp::exporting

#pragma once
/// A code's network as files in a folder: the PyTorch module and the JSON (what `ncp search --export DIR` writes).

#include <array>
#include <filesystem>
#include <string>

#include "ncp/arch/code.hpp"
#include "ncp/arch/graph.hpp"
#include "ncp/export/json.hpp"
#include "ncp/export/torch.hpp"
#include "ncp/io/atomic.hpp"

namespace ncp::exporting {

/// Writes `<dir>/<name>.py` (torch_module) and `<dir>/<name>.json` (network_json) of code `k` under convention
/// `c`, each atomically, creating `dir` where it is missing; returns the two paths. Throws ncp::error naming the
/// folder or file that cannot be written, or the invalid code or convention (then nothing is written).
inline std::array<std::filesystem::path, 2> write_network_files(const std::filesystem::path& dir,
                                                                const std::string& name, const arch::code& k,
                                                                const arch::convention& c = {}) {
    const std::string module = torch_module(k, c);
    const std::string json = network_json(k, c);
    io::make_output_folder(dir);
    const std::array<std::filesystem::path, 2> paths{dir / (name + ".py"), dir / (name + ".json")};
    io::atomic_write(paths[0], module);
    io::atomic_write(paths[1], json);
    return paths;
}

}  // namespace ncp::exporting

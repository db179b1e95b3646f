#pragma once
/// `ncp ask` as a call: a config, KNOWN.csv and an optional pool file in, PROPOSALS.csv out (written atomically),
/// the space chosen by data.dataset as `ncp search` does.

#include <cstddef>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "ncp/arch/code_list.hpp"
#include "ncp/io/atomic.hpp"
#include "ncp/search/ask.hpp"
#include "ncp/search/report.hpp"

namespace ncp::search {

/// What `ncp ask` is asked.
struct ask_request {
    std::filesystem::path known;                ///< KNOWN.csv (missing or header only: nothing known yet)
    std::size_t n = 10;                         ///< proposals
    std::filesystem::path out;                  ///< PROPOSALS.csv
    std::optional<std::filesystem::path> pool;  ///< propose only codes listed here (one per line)
    int threads = options{}.threads;            ///< >= 1; the proposals do not depend on it
};

namespace detail {

/// The codes of a pool file (code_list.hpp's lines), in the space's form; errors name the file and line.
template <class Space>
std::vector<typename Space::code_type> read_pool(const std::filesystem::path& file, const Space& space) {
    std::vector<typename Space::code_type> codes;
    const std::string text = arch::read_text(file);
    for (const auto& line : arch::code_lines(text)) {
        try {
            codes.push_back(space.exact(arch::parse_model_code(line.text, static_cast<index_t>(Space::dim))));
        } catch (const error& e) {
            throw error(file.string() + " line " + std::to_string(line.line) + ": " + e.what());
        }
    }
    if (codes.empty()) throw error(file.string() + ": the pool holds no code");
    return codes;
}

/// The text of PROPOSALS.csv: `code,predicted_<main>,spread,flops_g,params_m`, best first; empty fields where a
/// value is unknown (nothing known yet; a space without counted costs).
template <class Space>
std::string proposals_csv(const Space& space, const std::string& main,
                          const std::vector<proposal<typename Space::code_type>>& proposals) {
    std::ostringstream out;
    out << "code,predicted_" << main << ",spread,flops_g,params_m\n";
    for (const auto& p : proposals) {
        out << space.to_string(p.code) << ",";
        if (p.predicted) out << number_text(*p.predicted);
        out << ",";
        if (p.spread) out << number_text(*p.spread);
        out << ",";
        if (p.cost) out << arch::fixed_string(p.cost->flops, arch::flops_g_decimals);
        out << ",";
        if (p.cost) out << arch::fixed_string(p.cost->params, arch::params_m_decimals);
        out << "\n";
    }
    return out.str();
}

template <class Space>
std::size_t ask_in(const io::run_config& cfg, const Space& space, const ask_request& req, const ask_progress& progress) {
    const io::results_table known = io::read_results(req.known, static_cast<index_t>(Space::dim), true);
    std::optional<std::vector<typename Space::code_type>> pool;
    if (req.pool) pool = read_pool(*req.pool, space);
    const auto proposals =
        propose(cfg, space, known, req.known.string(), req.n, pool ? &*pool : nullptr, req.threads, progress);
    io::atomic_write(req.out, proposals_csv(space, cfg.data.metrics.front().front(), proposals));
    return proposals.size();
}

}  // namespace detail

/// Runs `ncp ask`: reads the known results and the pool, proposes req.n codes (ask.hpp) and writes req.out.
/// NAS-Bench-201 for data.dataset nas-bench-201 (no costs: ask never reads a benchmark file), else NAS-Bench-MR with
/// costs counted in editing.convention. Returns the number of proposals.
inline std::size_t run_ask(const io::run_config& cfg, const ask_request& req, const ask_progress& progress = {}) {
    if (cfg.data.dataset == "nas-bench-201") return detail::ask_in(cfg, nb201_space(), req, progress);
    return detail::ask_in(cfg, mr_space(cfg.editing.max_value_alpha, parse_convention(cfg.editing.convention)), req,
                          progress);
}

}  // namespace ncp::search

#pragma once
/// `ncp ask` as a call: a config, KNOWN.csv and an optional pool file in, PROPOSALS.csv out (written atomically),
/// the space chosen by data.dataset as `ncp search` does.

#include <concepts>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_set>
#include <vector>

#include "ncp/arch/code_list.hpp"
#include "ncp/export/files.hpp"
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
    std::optional<std::filesystem::path> export_dir;  ///< also write each proposal's network (NAS-Bench-MR)
    int threads = options{}.threads;            ///< >= 1; the proposals do not depend on it
};

namespace detail {

/// The codes of a pool file (code_list.hpp's lines) in original units, `dim` values each; errors name the file and
/// line.
inline std::vector<std::vector<double>> read_pool(const std::filesystem::path& file, index_t dim) {
    std::vector<std::vector<double>> codes;
    const std::string text = arch::read_text(file);
    for (const auto& line : arch::code_lines(text)) {
        try {
            codes.push_back(arch::parse_model_code(line.text, dim));
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
std::string ask_in(const io::run_config& cfg, const Space& space, const io::results_table& known,
                   const std::string& source, std::size_t n, const std::vector<std::vector<double>>* pool, int threads,
                   const ask_progress& progress, const std::filesystem::path* export_dir) {
    std::vector<typename Space::code_type> codes;  // the pool's distinct codes, in file order
    std::unordered_set<typename Space::code_type, code_hash> listed;
    if (pool != nullptr)
        for (std::size_t i = 0; i < pool->size(); ++i) {
            try {
                const auto code = space.exact((*pool)[i]);
                if (listed.insert(code).second) codes.push_back(code);
            } catch (const error& e) {
                throw error("pool code " + std::to_string(i) + ": " + e.what());
            }
        }
    const auto proposals = propose(cfg, space, known, source, n, pool ? &codes : nullptr, threads, progress);
    if (export_dir != nullptr) {
        if constexpr (std::same_as<typename Space::code_type, arch::code>) {
            for (std::size_t i = 0; i < proposals.size(); ++i)
                exporting::write_network_files(*export_dir, std::to_string(i + 1), proposals[i].code,
                                               space.convention());
        } else {
            throw error("--export: " + Space::name() + " cells are not networks ncp can export");
        }
    }
    return proposals_csv(space, cfg.data.metrics.front().front(), proposals);
}

}  // namespace detail

/// The code dimension of the config's space: NAS-Bench-201's 30 for data.dataset nas-bench-201, else 27.
inline index_t ask_dim(const io::run_config& cfg) {
    return static_cast<index_t>(cfg.data.dataset == "nas-bench-201" ? nb201_space::dim : mr_space::dim);
}

/// PROPOSALS.csv's text (ask.hpp) for the known results `known` (checked; `source` names them in errors) and an
/// optional pool (codes in original units): NAS-Bench-201 for data.dataset nas-bench-201 (no costs: ask never reads
/// a benchmark file), else NAS-Bench-MR with costs counted in editing.convention.
/// With `export_dir`, each proposal's network is also written there as `<rank>.py` and `<rank>.json` (rank 1 is the
/// first row; export/files.hpp).
inline std::string ask_csv(const io::run_config& cfg, const io::results_table& known, const std::string& source,
                           std::size_t n, const std::vector<std::vector<double>>* pool, int threads,
                           const ask_progress& progress = {}, const std::filesystem::path* export_dir = nullptr) {
    if (cfg.data.dataset == "nas-bench-201")
        return detail::ask_in(cfg, nb201_space(), known, source, n, pool, threads, progress, export_dir);
    return detail::ask_in(cfg, mr_space(cfg.editing.max_value_alpha, parse_convention(cfg.editing.convention)), known,
                          source, n, pool, threads, progress, export_dir);
}

/// Runs `ncp ask`: reads the known results and the pool, proposes req.n codes, writes req.out atomically and, with
/// req.export_dir, each proposal's network.
/// Returns the number of proposals.
inline std::size_t run_ask(const io::run_config& cfg, const ask_request& req, const ask_progress& progress = {}) {
    const io::results_table known = io::read_results(req.known, ask_dim(cfg), true);
    // The output folders are said to be unusable before the ensemble trains, not after.
    io::check_output_folder(req.out.parent_path());
    if (req.export_dir) io::check_output_folder(*req.export_dir);
    std::optional<std::vector<std::vector<double>>> pool;
    if (req.pool) pool = detail::read_pool(*req.pool, ask_dim(cfg));
    io::atomic_write(req.out, ask_csv(cfg, known, req.known.string(), req.n, pool ? &*pool : nullptr, req.threads,
                                      progress, req.export_dir ? &*req.export_dir : nullptr));
    return req.n;
}

}  // namespace ncp::search

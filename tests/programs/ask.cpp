/// `ncp ask` and `ncp tell` as programs: the CSV contract (header, K distinct new codes, exact costs), seeded random
/// codes when nothing is known, the pool, budgets, determinism for any --threads, errors naming file and line, and a
/// small closed loop on the synthetic benchmark that must find better architectures than random search.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "ncp/arch/count.hpp"
#include "ncp/arch/synthetic.hpp"
#include "programs/run.hpp"
#include "test_support.hpp"

using ncp::test::contains;
using ncp::test::read_csv;
using ncp::test::read_file;
using ncp::test::run_cli;

namespace fs = std::filesystem;
namespace arch = ncp::arch;

namespace {

const std::string seg_cfg = (ncp::test::source_dir() / "configs/seg.yaml").string();

/// A small synthetic benchmark standing in for seg: its records are the pool, their stored metrics the oracle.
struct oracle {
    ncp::data::benchmark table = arch::make_synthetic({.records = 400, .seed = 4});
    std::vector<std::string> codes;            ///< string form per record
    std::map<std::string, std::size_t> row;   ///< code -> record

    oracle() {
        for (std::size_t r = 0; r < table.size(); ++r) {
            codes.push_back(arch::to_string(arch::exact_code(std::span<const double>(&table.codes(r, 0), 27))));
            row.emplace(codes.back(), r);
        }
    }
    /// The CSV rows `code,mIoU,mAcc,aAcc,flops,params` of records `rows`.
    std::string results(const std::vector<std::size_t>& rows) const {
        std::ostringstream out;
        out << "code,mIoU,mAcc,aAcc,flops,params\n";
        for (const std::size_t r : rows) {
            out << codes[r];
            for (std::size_t m = 0; m < 5; ++m) out << "," << table.metrics(r, m);
            out << "\n";
        }
        return out.str();
    }
    /// Writes every code, one per line.
    void write_pool(const fs::path& file) const {
        std::ofstream out(file);
        for (const auto& c : codes) out << c << "\n";
    }
};

/// The quick settings every ask here runs with (small ensembles, few epochs: seconds under sanitizers too).
const std::vector<std::string> quick = {"--ask.members", "3", "--optimization.epoch", "30", "--editing.iters",
                                        "10"};

std::vector<std::string> ask_args(const fs::path& known, const fs::path& out, int n, std::vector<std::string> extra) {
    std::vector<std::string> a = {"ask", "--cfg", seg_cfg, "--known", known.string(), "--n", std::to_string(n),
                                  "--out", out.string(), "--data.dataset", "synthetic"};
    a.insert(a.end(), quick.begin(), quick.end());
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
}

}  // namespace

TEST_CASE("nothing known: K distinct seeded random codes; then proposals: new, distinct, costed, in the pool") {
    const ncp::test::scratch_dir dir("cli-ask");
    const oracle o;
    o.write_pool(dir / "pool.txt");
    // No KNOWN.csv yet: random codes, the same for the same SEED.
    auto r = run_cli(ask_args(dir / "known.csv", dir / "p.csv", 10, {"--SEED", "3"}));
    REQUIRE_MESSAGE(r.status == 0, r.err);
    CHECK(contains(r.out, "10 proposals written to"));
    auto rows = read_csv(dir / "p.csv");
    REQUIRE(rows.size() == 11);
    CHECK(rows[0] == std::vector<std::string>{"code", "predicted_mIoU", "spread", "flops_g", "params_m"});
    std::set<std::string> first;
    for (std::size_t i = 1; i < rows.size(); ++i) {
        first.insert(rows[i][0]);
        CHECK(rows[i][1].empty());
        CHECK(rows[i][2].empty());
        const auto cost = arch::count(arch::parse_code(rows[i][0]));
        CHECK(rows[i][3] == arch::fixed_string(cost.flops, arch::flops_g_decimals));
        CHECK(rows[i][4] == arch::fixed_string(cost.params, arch::params_m_decimals));
    }
    CHECK(first.size() == 10);
    REQUIRE(run_cli(ask_args(dir / "known.csv", dir / "again.csv", 10, {"--SEED", "3"})).status == 0);
    CHECK(read_file(dir / "again.csv") == read_file(dir / "p.csv"));
    REQUIRE(run_cli(ask_args(dir / "known.csv", dir / "other.csv", 10, {"--SEED", "4"})).status == 0);
    CHECK(read_file(dir / "other.csv") != read_file(dir / "p.csv"));

    // From the pool, nothing known, under a budget: only pool codes within it; a budget that leaves fewer than K is
    // an error naming the shortfall.
    {
        std::vector<double> flops;
        for (std::size_t i = 0; i < o.table.size(); ++i) flops.push_back(o.table.metrics(i, 3));
        std::sort(flops.begin(), flops.end());
        const std::string budget = std::to_string(flops[30]);  // about 30 pool codes within it
        r = run_cli(ask_args(dir / "none.csv", dir / "cheap.csv", 10,
                             {"--pool", (dir / "pool.txt").string(), "--editing.max_flops", budget}));
        REQUIRE_MESSAGE(r.status == 0, r.err);
        rows = read_csv(dir / "cheap.csv");
        REQUIRE(rows.size() == 11);
        for (std::size_t i = 1; i < rows.size(); ++i) {
            CHECK(o.row.contains(rows[i][0]));
            CHECK(std::stod(rows[i][3]) <= std::stod(budget));
        }
        r = run_cli(ask_args(dir / "none.csv", dir / "cheap.csv", 10,
                             {"--pool", (dir / "pool.txt").string(), "--editing.max_flops", std::to_string(flops[3])}));
        CHECK(r.status == 1);
        CHECK(contains(r.err, "codes not yet known and within the budgets, fewer than 10"));
    }

    // From the pool, nothing known: pool codes.
    r = run_cli(ask_args(dir / "known.csv", dir / "p.csv", 10, {"--pool", (dir / "pool.txt").string()}));
    REQUIRE_MESSAGE(r.status == 0, r.err);
    rows = read_csv(dir / "p.csv");
    std::vector<std::size_t> picked;
    for (std::size_t i = 1; i < rows.size(); ++i) {
        REQUIRE(o.row.contains(rows[i][0]));
        picked.push_back(o.row.at(rows[i][0]));
    }
    std::ofstream(dir / "results.csv") << o.results(picked);
    r = run_cli({"tell", "--known", (dir / "known.csv").string(), (dir / "results.csv").string()});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    CHECK(contains(r.out, "10 results added to"));

    // Ten known: proposals are predicted, new, distinct, in the pool, best first by the acquisition.
    for (const std::string threads : {"1", "2", "3"}) {
        r = run_cli(ask_args(dir / "known.csv", dir / ("t" + threads + ".csv"), 8,
                             {"--pool", (dir / "pool.txt").string(), "--threads", threads}));
        REQUIRE_MESSAGE(r.status == 0, r.err);
    }
    CHECK(read_file(dir / "t2.csv") == read_file(dir / "t1.csv"));
    CHECK(read_file(dir / "t3.csv") == read_file(dir / "t1.csv"));
    rows = read_csv(dir / "t1.csv");
    REQUIRE(rows.size() == 9);
    std::set<std::string> seen;
    for (std::size_t i = 1; i < rows.size(); ++i) {
        CHECK(o.row.contains(rows[i][0]));
        CHECK(std::find(picked.begin(), picked.end(), o.row.at(rows[i][0])) == picked.end());
        CHECK(seen.insert(rows[i][0]).second);
        CHECK(std::isfinite(std::stod(rows[i][1])));
        CHECK(std::stod(rows[i][2]) >= 0);
    }

    // Without a pool, under a FLOPs budget: codes of the whole space, all within it, none known; --export writes
    // each proposal's network.
    r = run_cli(ask_args(dir / "known.csv", dir / "b.csv", 10,
                         {"--editing.max_flops", "0.8", "--export", (dir / "nets").string()}));
    REQUIRE_MESSAGE(r.status == 0, r.err);
    rows = read_csv(dir / "b.csv");
    REQUIRE(rows.size() == 11);
    for (std::size_t i = 1; i < rows.size(); ++i) {
        CHECK(std::stod(rows[i][3]) <= 0.8);
        CHECK(contains(read_file(dir / "nets" / (std::to_string(i) + ".json")), "\"code\": \"" + rows[i][0] + "\""));
        CHECK(fs::exists(dir / "nets" / (std::to_string(i) + ".py")));
        CHECK(std::find(picked.begin(), picked.end(),
                        o.row.contains(rows[i][0]) ? o.row.at(rows[i][0]) : o.table.size()) == picked.end());
    }
}

TEST_CASE("bad input: each error is one line naming the file (and line); usage errors exit 2") {
    const ncp::test::scratch_dir dir("cli-ask-bad");
    const oracle o;
    const auto known = dir / "known.csv";
    std::ofstream(known) << "code,mIoU,mAcc,aAcc,flops\n" << o.codes[0] << ",1,2,3,4\n";
    auto r = run_cli(ask_args(known, dir / "p.csv", 5, {}));
    CHECK(r.status == 1);
    CHECK(contains(r.err, known.string() + ": no column 'params'"));
    std::ofstream(known) << "code,mIoU,mAcc,aAcc,flops,params\n" << o.codes[0] << ",1,2,3,4,nan\n";
    r = run_cli(ask_args(known, dir / "p.csv", 5, {}));
    CHECK(r.status == 1);
    CHECK(contains(r.err, known.string() + " line 2: params is not a finite number"));
    std::ofstream(known) << o.results({0, 1, 2});
    std::ofstream(dir / "pool.txt") << o.codes[3] << "\n# comment\n64_64-2_1\n";
    r = run_cli(ask_args(known, dir / "p.csv", 5, {"--pool", (dir / "pool.txt").string()}));
    CHECK(r.status == 1);
    CHECK(contains(r.err, (dir / "pool.txt").string() + " line 3: invalid code string"));
    std::ofstream(dir / "pool.txt") << o.codes[0] << "\n" << o.codes[3] << "\n" << o.codes[4] << "\n";
    r = run_cli(ask_args(known, dir / "p.csv", 5, {"--pool", (dir / "pool.txt").string()}));
    CHECK(r.status == 1);
    CHECK(contains(r.err, "fewer than the 5 asked for (the pool is too small)"));
    r = run_cli(ask_args(known, dir / "p.csv", 5, {"--ask.acquisition", "thompson"}));
    CHECK(r.status == 1);
    CHECK(contains(r.err, "ask.acquisition"));
    CHECK(!fs::exists(dir / "p.csv"));
    // A header alone is checked too: its columns must still be the config's metrics.
    std::ofstream(dir / "header.csv") << "code,mIoU,mAcc,aAcc,flops\n";
    r = run_cli(ask_args(dir / "header.csv", dir / "p.csv", 5, {}));
    CHECK(r.status == 1);
    CHECK(contains(r.err, (dir / "header.csv").string() + ": no column 'params'"));
    fs::create_directory(dir / "folder.csv");
    r = run_cli(ask_args(dir / "folder.csv", dir / "p.csv", 5, {}));
    CHECK(r.err == "ncp ask: " + (dir / "folder.csv").string() + ": is a folder, not a CSV file\n");
    std::vector<std::size_t> twenty(20);
    for (std::size_t i = 0; i < twenty.size(); ++i) twenty[i] = i;
    std::ofstream(dir / "twenty.csv") << o.results(twenty);
    r = run_cli(ask_args(dir / "twenty.csv", dir / "p.csv", 5, {"--ask.members", "100000000"}));
    CHECK(r.status == 1);
    CHECK(contains(r.err, "ncp ask: the ensemble's 100000000 members ("));
    CHECK(contains(r.err, "(fewer ask.members)\n"));
    r = run_cli(ask_args(dir / "twenty.csv", dir / "p.csv", 5, {"--ask.random_starts", "100000000"}));
    CHECK(r.status == 1);
    CHECK(contains(r.err, "(fewer ask.random_starts, ask.start_known or editing.iters)\n"));
    CHECK(!fs::exists(dir / "p.csv"));
    // A code listed twice in the pool is one candidate.
    std::ofstream(dir / "twice.txt") << o.codes[5] << "\n" << o.codes[5] << "\n" << o.codes[6] << "\n";
    r = run_cli(ask_args(dir / "none.csv", dir / "p.csv", 3, {"--pool", (dir / "twice.txt").string()}));
    CHECK(r.status == 1);
    CHECK(contains(r.err, "ask: the pool holds 2 codes not yet known and within the budgets, fewer than 3"));
    r = run_cli(ask_args(dir / "none.csv", dir / "p.csv", 2, {"--pool", (dir / "twice.txt").string()}));
    REQUIRE_MESSAGE(r.status == 0, r.err);
    const auto rows = read_csv(dir / "p.csv");
    REQUIRE(rows.size() == 3);
    CHECK(std::set<std::string>{rows[1][0], rows[2][0]} == std::set<std::string>{o.codes[5], o.codes[6]});
    fs::remove(dir / "p.csv");
    CHECK(run_cli(ask_args(known, dir / "p.csv", 0, {})).status == 2);
    CHECK(run_cli({"ask", "--cfg", seg_cfg, "--known", known.string(), "--out", "x.csv"}).status == 2);
    CHECK(run_cli({"tell", (dir / "r.csv").string()}).status == 2);
    r = run_cli({"tell", "--known", known.string(), (dir / "missing.csv").string()});
    CHECK(r.status == 1);
    CHECK(contains(r.err, (dir / "missing.csv").string() + ": no such file"));
}

TEST_CASE("a closed loop on the synthetic benchmark finds better architectures than random search") {
    const ncp::test::scratch_dir dir("cli-ask-loop");
    const oracle o;
    o.write_pool(dir / "pool.txt");
    const std::size_t mIoU = o.table.metric_index("mIoU");
    double loop_best = 0, random_best = 0;
    const int seeds = 3;
    for (int seed = 0; seed < seeds; ++seed) {
        const auto known = dir / ("known" + std::to_string(seed) + ".csv");
        std::vector<std::size_t> order(o.table.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::shuffle(order.begin(), order.end(), std::mt19937_64(static_cast<std::uint64_t>(seed)));
        std::ofstream(known) << o.results({order.begin(), order.begin() + 10});
        for (int round = 0; round < 3; ++round) {
            const auto r = run_cli(ask_args(known, dir / "p.csv", 10,
                                            {"--pool", (dir / "pool.txt").string(), "--SEED", std::to_string(seed)}));
            REQUIRE_MESSAGE(r.status == 0, r.err);
            std::vector<std::size_t> rows;
            const auto csv = read_csv(dir / "p.csv");
            for (std::size_t i = 1; i < csv.size(); ++i) rows.push_back(o.row.at(csv[i][0]));
            std::ofstream(dir / "results.csv") << o.results(rows);
            REQUIRE(run_cli({"tell", "--known", known.string(), (dir / "results.csv").string()}).status == 0);
        }
        const auto table = read_csv(known);
        REQUIRE(table.size() == 41);
        double best = 0, random = 0;
        for (std::size_t i = 1; i < table.size(); ++i)
            best = std::max(best, o.table.metrics(o.row.at(table[i][0]), mIoU));
        for (std::size_t i = 0; i < 40; ++i) random = std::max(random, o.table.metrics(order[i], mIoU));
        loop_best += best / seeds;
        random_best += random / seeds;
    }
    MESSAGE("best mIoU after 40 results: closed loop " << loop_best << ", random search " << random_best);
    CHECK(loop_best > random_best);
}

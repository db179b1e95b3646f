/// scripts/convert_pkl.py: every value of every pickle arrives in the .bin; unsafe or invalid pickles are refused.

#include <doctest/doctest.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ncp/data/format.hpp"
#include "ncp/io/benchmark_writer.hpp"
#include "test_support.hpp"

using ncp::test::contains;

namespace {

namespace fs = std::filesystem;
using ncp::test::python;
using ncp::test::run_command;

const std::string script = (ncp::test::source_dir() / "scripts" / "convert_pkl.py").string();

// Python defining valid records: mr(i) builds a NAS-Bench-MR-style record with distinct codes; dump() writes argv[1].
const std::string prelude = R"(
import math, os, pickle, sys
def code(i):
    return [8 * (1 + i % 16), 8 * (1 + i // 16 % 16)] + [1 + (i + k) % 4 for k in range(25)]
def mr(i, **metrics):
    r = {'embedding': code(i), 'input_channel': code(i)[:2], 'inverted_residual_setting': [[1, [2], [64]]],
         'last_channel': 64}
    r.update(metrics)
    return r
def seg(i):
    return mr(i, mIoU=70 + i / 7, mAcc=80.0 + i, aAcc=95.5, flops=1.5 + i / 3, params=4.25 + i)
def cls(i):
    return mr(i, top1=60 + i / 9, top5=85.25 - i / 11, flops=2.0 + i, params=3)
def dump(obj):
    with open(sys.argv[1], 'wb') as f:
        pickle.dump(obj, f)
)";

// Runs `body` (after the prelude) with `path` as argv[1]; creates the folder first.
void make_pickle(const fs::path& path, const std::string& body) {
    fs::create_directories(path.parent_path());
    const fs::path py = path.parent_path() / "make_pickle.py";
    std::ofstream(py) << prelude << body << "\n";
    const auto r = run_command({python, py.string(), path.string()});
    fs::remove(py);
    REQUIRE_MESSAGE(r.status == 0, r.err);
}

ncp::test::command_result convert(std::vector<std::string> args) {
    args.insert(args.begin(), {python, script});
    return run_command(args);
}

// The pickle's values by the plain pickle module (numpy importable): per record, its code then the named metrics.
std::vector<std::vector<double>> reference_rows(const fs::path& pkl, const std::vector<std::string>& metrics) {
    std::vector<std::string> argv{python, "-c", R"(
import pickle, sys
with open(sys.argv[1], 'rb') as f:
    records = pickle.load(f)
for r in records:
    print(' '.join(repr(float(v)) for v in list(r['embedding']) + [r[k] for k in sys.argv[2:]]))
)", pkl.string()};
    argv.insert(argv.end(), metrics.begin(), metrics.end());
    const auto r = run_command(argv);
    REQUIRE_MESSAGE(r.status == 0, r.err);
    std::vector<std::vector<double>> rows;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
        auto& row = rows.emplace_back();
        std::istringstream words(line);
        for (std::string w; words >> w;) {
            double v = 0;
            const auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), v);
            REQUIRE((ec == std::errc() && end == w.data() + w.size()));
            row.push_back(v);
        }
    }
    return rows;
}

// Checks every value of `b` against `rows` (code then metrics per record), with `kept` choosing the rows.
void check_values(const ncp::data::benchmark& b, const std::vector<std::vector<double>>& rows,
                  std::vector<std::size_t> kept = {}) {
    if (kept.empty())
        for (std::size_t r = 0; r < rows.size(); ++r) kept.push_back(r);
    REQUIRE(b.size() == kept.size());
    std::size_t mismatches = 0;
    for (std::size_t r = 0; r < b.size(); ++r) {
        const auto& row = rows[kept[r]];
        REQUIRE(row.size() == b.code_dim() + b.metric_names.size());
        for (std::size_t c = 0; c < b.code_dim(); ++c) mismatches += b.codes(r, c) != row[c] ? 1 : 0;
        for (std::size_t m = 0; m < b.metric_names.size(); ++m)
            mismatches += b.metrics(r, m) != row[b.code_dim() + m] ? 1 : 0;
    }
    CHECK(mismatches == 0);
}

// A refusal: exit 1, one line on stderr naming the input, nothing written beside the output.
void check_refused(const ncp::test::command_result& r, const fs::path& pkl, const fs::path& out) {
    CHECK(r.status == 1);
    CHECK(r.err.starts_with("convert_pkl.py: " + pkl.string() + ": "));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK_FALSE(fs::exists(out));
    for (const auto& entry : fs::directory_iterator(out.parent_path()))
        CHECK_MESSAGE(entry.path().extension() != ".tmp", entry.path());
}

}  // namespace

TEST_CASE("a NAS-Bench-MR-style pickle converts with every value equal to the pickle's") {
    const ncp::test::scratch_dir dir("convert");
    const auto pkl = dir / "seg/trainval.pkl";
    make_pickle(pkl, "dump([seg(i) for i in range(40)])");
    const auto r = convert({pkl.string(), (dir / "seg.bin").string()});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    CHECK(contains(r.out, "setting seg, 40 records, code_dim 27, metrics mIoU mAcc aAcc flops params"));
    const auto b = ncp::data::load_benchmark(dir / "seg.bin");
    CHECK(b.setting == "seg");
    CHECK(b.metric_names == std::vector<std::string>{"mIoU", "mAcc", "aAcc", "flops", "params"});
    check_values(b, reference_rows(pkl, b.metric_names));

    // The Python and C++ encoders agree byte for byte.
    std::ifstream in(dir / "seg.bin", std::ios::binary);
    const std::string python_bytes((std::istreambuf_iterator<char>(in)), {});
    const auto cpp_bytes = ncp::io::encode_benchmark(b);
    CHECK(python_bytes == std::string(reinterpret_cast<const char*>(cpp_bytes.data()), cpp_bytes.size()));
}

TEST_CASE("a folder converts setting by setting, 3ddet with its metric 'moderate'") {
    const ncp::test::scratch_dir dir("convert");
    make_pickle(dir / "in/3ddet/trainval.pkl",
                "dump([mr(i, moderate=70 + i / 13, easy=90.5, flops=1.0 + i, params=2.5) for i in range(30)])");
    make_pickle(dir / "in/cls-10c/trainval.pkl", "dump([cls(i) for i in range(30)])");
    fs::create_directories(dir / "in/empty");
    const auto r = convert({(dir / "in").string(), (dir / "out").string()});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    const auto det = ncp::data::load_benchmark(dir / "out/3ddet/trainval.bin");
    CHECK(det.setting == "3ddet");
    CHECK(det.metric_names == std::vector<std::string>{"moderate", "flops", "params"});
    check_values(det, reference_rows(dir / "in/3ddet/trainval.pkl", det.metric_names));
    const auto c = ncp::data::load_benchmark(dir / "out/cls-10c/trainval.bin");
    CHECK(c.metric_names == std::vector<std::string>{"top1", "top5", "flops", "params"});
    check_values(c, reference_rows(dir / "in/cls-10c/trainval.pkl", c.metric_names));
    CHECK_FALSE(fs::exists(dir / "out/empty"));
}

TEST_CASE("an unknown setting takes the first record's numeric keys in order; --setting names the setting") {
    const ncp::test::scratch_dir dir("convert");
    const auto pkl = dir / "custom/trainval.pkl";
    make_pickle(pkl, R"(
dump([{'zeta': 0.5 + i, 'embedding': [0.25 * i, 1.0, -2.0], 'note': 'x', 'flag': True, 'alpha': 7 * i,
       'last_channel': 64, 'input_channel': [8, 8]} for i in range(5)]))");
    auto r = convert({pkl.string(), (dir / "custom.bin").string()});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    const auto b = ncp::data::load_benchmark(dir / "custom.bin");
    CHECK(b.setting == "custom");
    CHECK(b.metric_names == std::vector<std::string>{"zeta", "alpha"});
    CHECK(b.code_dim() == 3);
    check_values(b, reference_rows(pkl, b.metric_names));

    r = convert({pkl.string(), (dir / "named.bin").string(), "--setting", "my-run"});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    CHECK(ncp::data::load_benchmark(dir / "named.bin").setting == "my-run");
    r = convert({(dir.path()).string(), (dir / "o").string(), "--setting", "x"});
    CHECK(r.status == 2);
}

TEST_CASE("a NAS-Bench-201-style pickle (numpy float32 one-hot codes) converts; a code that is not one-hot does not") {
    const ncp::test::scratch_dir dir("convert");
    const auto pkl = dir / "nas-bench-201/trainval.pkl";
    const std::string records = R"(
import numpy as np
def onehot(i):
    e = np.zeros(30, dtype=np.float32)
    for edge in range(6):
        e[edge * 5 + (i // 5 ** edge) % 5] = 1
    return e
records = [{'embedding': onehot(i), 'Acc': 90 - i / 3, 'Flops': 15.65 + i, 'Params': 0.135 * i} for i in range(50)]
)";
    make_pickle(pkl, records + "dump(records)");
    auto r = convert({pkl.string(), (dir / "nb.bin").string()});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    const auto b = ncp::data::load_benchmark(dir / "nb.bin");
    CHECK(b.metric_names == std::vector<std::string>{"Acc", "Flops", "Params"});
    CHECK(b.code_dim() == 30);
    check_values(b, reference_rows(pkl, b.metric_names));

    make_pickle(pkl, records + "records[4]['embedding'][7] = 1\ndump(records)");
    r = convert({pkl.string(), (dir / "bad.bin").string()});
    check_refused(r, pkl, dir / "bad.bin");
    CHECK(contains(r.err, "record 4: 'embedding'[5:10] is [1.0, 0.0, 1.0, 0.0, 0.0], not one-hot"));
}

TEST_CASE("a pickle that would run code is refused before any of it runs") {
    const ncp::test::scratch_dir dir("convert");
    const auto marker = dir / "marker";
    const auto pkl = dir / "seg/trainval.pkl";
    const std::vector<std::pair<std::string, std::string>> attacks{
        {"class Evil:\n    def __reduce__(self):\n        return (os.system, ('touch " + marker.string() + "',))\n"
         "dump([seg(0), Evil()])",
         "posix.system"},
        {"class Evil:\n    def __reduce__(self):\n        return (eval, (\"open('" + marker.string() + "', 'w')\",))\n"
         "dump([Evil()])",
         "builtins.eval"},
        {"import numpy as np\ndump([dict(seg(0), embedding=np.array(['x'], dtype=object))])", "numpy dtype 'O8'"},
        {"import numpy as np\ndump([dict(seg(0), embedding=np.matrix([[1.0]]))])", "numpy.matrix"},
        // BUILD on an allowed callable, to plant attributes on it
        {"open(sys.argv[1], 'wb').write(b'\\x80\\x04cnumpy\\ndtype\\n}b.')", "setting state on _DTypeFactory"},
        // numpy's reconstruct asked for something other than a plain array
        {"import numpy as np\nclass Evil:\n    def __reduce__(self):\n"
         "        return (np.core.multiarray._reconstruct, (1, (10 ** 12,), b'b'))\ndump([Evil()])",
         "_reconstruct call"},
    };
    for (const auto& attack : attacks) {
        const auto& [body, global] = attack;
        make_pickle(pkl, body);
        const auto r = convert({pkl.string(), (dir / "seg/out.bin").string()});
        INFO(attack.first << "\n" << r.err);
        check_refused(r, pkl, dir / "seg/out.bin");
        CHECK(contains(r.err, "refus"));
        CHECK(contains(r.err, global));
        CHECK_FALSE(fs::exists(marker));
    }
}

TEST_CASE("records with missing keys are refused by index and key; --skip-bad drops them and counts them") {
    const ncp::test::scratch_dir dir("convert");
    const auto pkl = dir / "seg/trainval.pkl";
    make_pickle(pkl, R"(
records = [seg(i) for i in range(10)]
del records[3]['mAcc']
del records[7]['embedding']
dump(records))");
    auto r = convert({pkl.string(), (dir / "out.bin").string()});
    check_refused(r, pkl, dir / "out.bin");
    CHECK(contains(r.err, "2 bad record(s) of 10: record 3: missing key 'mAcc'; record 7: missing key 'embedding'"));
    CHECK(contains(r.err, "--skip-bad"));

    r = convert({pkl.string(), (dir / "out.bin").string(), "--skip-bad"});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    CHECK(contains(r.err, "skipped 2 bad record(s) of 10"));
    const auto b = ncp::data::load_benchmark(dir / "out.bin");
    CHECK(b.size() == 8);
    make_pickle(dir / "ref.pkl", "dump([seg(i) for i in range(10)])");
    check_values(b, reference_rows(dir / "ref.pkl", b.metric_names), {0, 1, 2, 4, 5, 6, 8, 9});
}

TEST_CASE("NaN, infinite and inexact metrics are refused; --skip-bad accepts the rest and prints the count") {
    const ncp::test::scratch_dir dir("convert");
    const auto pkl = dir / "cls-10c/trainval.pkl";
    make_pickle(pkl, R"(
records = [cls(i) for i in range(10)]
records[2]['top1'] = float('nan')
records[5]['flops'] = float('-inf')
records[7]['params'] = 10 ** 400
dump(records))");
    auto r = convert({pkl.string(), (dir / "out.bin").string()});
    check_refused(r, pkl, dir / "out.bin");
    CHECK(contains(r.err, "record 2: key 'top1' is nan; record 5: key 'flops' is -inf; record 7: key 'params' is an "
                          "integer beyond +-2**53"));
    r = convert({pkl.string(), (dir / "out.bin").string(), "--skip-bad"});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    CHECK(contains(r.err, "skipped 3 bad record(s) of 10"));
    CHECK(ncp::data::load_benchmark(dir / "out.bin").size() == 7);
}

TEST_CASE("codes of the wrong length or type and non-numeric metrics are refused by index") {
    const ncp::test::scratch_dir dir("convert");
    const auto pkl = dir / "video/trainval.pkl";
    make_pickle(pkl, R"(
records = [cls(i) for i in range(12)]
records[1]['embedding'] = code(1)[:26]
records[4]['embedding'][3] = 2.5
records[6]['top1'] = '63.2'
records[8]['top5'] = True
records[9]['embedding'] = 'not a code'
records[10] = [1, 2]
dump(records))");
    const auto r = convert({pkl.string(), (dir / "out.bin").string()});
    check_refused(r, pkl, dir / "out.bin");
    CHECK(contains(r.err, "6 bad record(s) of 12"));
    CHECK(contains(r.err, "record 1: 'embedding' has 26 values, expected 27"));
    CHECK(contains(r.err, "record 4: 'embedding'[3] is float 2.5, not an int"));
    CHECK(contains(r.err, "record 6: key 'top1' is str '63.2', not a number"));
    CHECK(contains(r.err, "record 8: key 'top5' is bool True, not a number"));
    CHECK(contains(r.err, "and 1 more"));
}

TEST_CASE("unreadable input and unwritable output are one-line errors naming the file, leaving nothing behind") {
    const ncp::test::scratch_dir dir("convert");
    std::ofstream(dir / "text.pkl") << "this is not a pickle\n";
    auto r = convert({(dir / "text.pkl").string(), (dir / "a.bin").string()});
    check_refused(r, dir / "text.pkl", dir / "a.bin");
    CHECK(contains(r.err, "not a readable pickle"));

    make_pickle(dir / "dict.pkl", "dump({'embedding': [1]})");
    r = convert({(dir / "dict.pkl").string(), (dir / "b.bin").string()});
    check_refused(r, dir / "dict.pkl", dir / "b.bin");
    CHECK(contains(r.err, "expected a non-empty list of records"));

    r = convert({(dir / "absent.pkl").string(), (dir / "c.bin").string()});
    CHECK(r.status == 1);
    CHECK(contains(r.err, "absent.pkl: no such file or folder"));

    make_pickle(dir / "seg/trainval.pkl", "dump([seg(i) for i in range(3)])");
    fs::create_directories(dir / "taken.bin");
    std::ofstream(dir / "taken.bin/keep") << "x";
    r = convert({(dir / "seg/trainval.pkl").string(), (dir / "taken.bin").string()});
    CHECK(r.status == 1);
    CHECK(contains(r.err, "cannot write"));
    for (const auto& entry : fs::directory_iterator(dir.path())) CHECK(entry.path().extension() != ".tmp");
}

TEST_CASE("all nine NAS-Bench-MR pickles convert, every value equal to the pickle's") {
    const std::vector<std::pair<std::string, std::vector<std::string>>> settings{
        {"seg", {"mIoU", "mAcc", "aAcc", "flops", "params"}},
        {"seg-4x", {"mIoU", "mAcc", "aAcc", "flops", "params"}},
        {"cls-10c", {"top1", "top5", "flops", "params"}},
        {"cls-50-100", {"top1", "top5", "flops", "params"}},
        {"cls-50-1000", {"top1", "top5", "flops", "params"}},
        {"cls-10-1000", {"top1", "top5", "flops", "params"}},
        {"video", {"top1", "top5", "flops", "params"}},
        {"video-p", {"top1", "top5", "flops", "params"}},
        {"nas-bench-201", {"Acc", "Flops", "Params"}},
    };
    for (const auto& entry : settings) {
        const auto& [setting, metrics] = entry;
        const auto file = ncp::test::converted(setting);
        if (!file) return;
        INFO(entry.first);
        const auto b = ncp::data::load_benchmark(*file);
        CHECK(b.setting == setting);
        CHECK(b.metric_names == metrics);
        CHECK(b.size() == (setting == "nas-bench-201" ? 15625 : 2507));
        CHECK(b.code_dim() == (setting == "nas-bench-201" ? 30 : 27));
        check_values(b, reference_rows(*ncp::test::data_dir(setting) / setting / "trainval.pkl", metrics));
    }
}

/// Training as configured: the four shipped configs on their data, every optimiser and schedule, determinism
/// (the same bytes on repeat and with any number of threads), concurrent runs, and bad input.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ncp/arch/synthetic.hpp"
#include "ncp/train/trainer.hpp"
#include "test_support.hpp"
#include "train/synthetic.hpp"

using namespace ncp;
using overrides = std::vector<std::pair<std::string, std::string>>;

namespace {

io::run_config config(const std::string& name, overrides extra) {
    return io::load_config(test::source_dir() / "configs" / (name + ".yaml"), extra);
}

void check_run(const train::result& r, std::size_t records, std::size_t metrics, int epochs) {
    CHECK(r.epochs.size() == static_cast<std::size_t>(epochs));
    CHECK(r.metric_names.size() == metrics);
    CHECK(r.split.train.size() + r.split.validation.size() == records);
    CHECK(r.split.validation.size() == (records * 2 + 9) / 10);  // ceil(0.2 n)
    CHECK(r.best_epoch >= 0);
    for (const auto& e : r.epochs) {
        CHECK(std::isfinite(e.train_loss));
        for (double v : e.val_mae) CHECK(std::isfinite(v));
    }
    CHECK(r.kendall_tau.size() == metrics);
    CHECK(r.best.epoch == r.best_epoch);
    CHECK(r.last.epoch == epochs - 1);
    CHECK(r.steps == epochs * static_cast<std::int64_t>((r.split.train.size() + 127) / 128));
}

}  // namespace

TEST_CASE("the shipped configs train on their data") {
    const test::scratch_dir dir("trainer-configs");
    for (const std::string name : {"seg", "cls", "video"}) {
        CAPTURE(name);
        const auto cfg0 = config(name, {});
        const auto bin = test::converted(cfg0.data.dataset);
        if (!bin) continue;
        const auto cfg = config(name, {{"optimization.epoch", "3"}, {"data.path", bin->string()}});
        const auto b = train::load_data(cfg);
        const auto r = train::train_predictor(cfg, b);
        check_run(r, b.size(), 5 - (name != "seg" ? 1 : 0), 3);
        CHECK(r.kendall_tau[0] > 0.3);  // three epochs already rank the main metric
    }
    // 3ddet is not in the shared data: a synthetic file of the same layout.
    const auto bin = test::write_synthetic(dir / "3ddet.bin", "3ddet", {"moderate", "flops", "params"}, 400);
    const auto cfg = config("3ddet", {{"optimization.epoch", "3"}, {"data.path", bin.string()}});
    const auto r = train::train_predictor(cfg, train::load_data(cfg));
    check_run(r, 400, 3, 3);
    CHECK(r.best.metric_groups == std::vector<std::vector<std::string>>{{"moderate"}, {"flops", "params"}});
}

TEST_CASE("every optimiser and schedule; per-epoch schedules step once an epoch") {
    const test::scratch_dir dir("trainer-optim");
    const auto bin = test::write_synthetic(dir / "seg.bin", "seg", {"mIoU", "mAcc", "aAcc", "flops", "params"}, 300);
    const std::vector<overrides> variants = {
        {{"optimization.optimizer", "adamw"}, {"optimization.scheduler", "cosine"}},
        {{"optimization.optimizer", "sgd"}, {"optimization.scheduler", "exp"}},
        {{"optimization.optimizer", "sgd"},
         {"optimization.sgd_param.nesterov", "true"},
         {"optimization.scheduler", "step"},
         {"optimization.step_scheduler.milestones", "[1, 2]"}},
        {{"optimization.criterion", "mse"}, {"network.activation", "relu"}},
        {{"optimization.criterion", "l1"}, {"network.activation", "tanh"}, {"optimization.batch_size", "100"}},
    };
    for (auto v : variants) {
        v.emplace_back("optimization.epoch", "3");
        v.emplace_back("data.path", bin.string());
        const auto cfg = config("seg", v);
        CAPTURE(cfg.optimization.optimizer + "/" + cfg.optimization.scheduler + "/" + cfg.optimization.criterion);
        const auto r = train::train_predictor(cfg, train::load_data(cfg));
        CHECK(r.epochs.size() == 3);
        for (const auto& e : r.epochs) CHECK(std::isfinite(e.val_mae[0]));
        if (cfg.optimization.scheduler == "exp")
            for (int e = 0; e < 3; ++e) CHECK(r.epochs[e].lr == doctest::Approx(0.01 * std::pow(0.97, e)));
        if (cfg.optimization.scheduler == "step") {
            CHECK(r.epochs[0].lr == doctest::Approx(0.01));
            CHECK(r.epochs[1].lr == doctest::Approx(0.001));
            CHECK(r.epochs[2].lr == doctest::Approx(0.0001));
        }
        if (cfg.optimization.scheduler == "cosine") CHECK(r.epochs[2].lr == doctest::Approx(0.0).scale(1e-12));
    }
}

TEST_CASE("deterministic: the same bytes on repeat and with any number of threads") {
    const test::scratch_dir dir("trainer-det");
    // 300 records: 240 for training, batches of 192 and 48 rows in 3 row blocks and 1, which 2, 3 and 4 threads
    // share unevenly (some with nothing of the second batch); dropout on.
    const auto bin = test::write_synthetic(dir / "seg.bin", "seg", {"mIoU", "mAcc", "aAcc", "flops", "params"}, 300);
    const auto cfg =
        config("seg", {{"optimization.epoch", "2"}, {"optimization.batch_size", "192"}, {"data.path", bin.string()}});
    REQUIRE(train::row_blocks_for(192) == 3);
    const auto b = train::load_data(cfg);
    const auto a = train::train_predictor(cfg, b, {.threads = 2});
    CHECK(a.threads == 2);
    const auto again = train::train_predictor(cfg, b, {.threads = 2});
    CHECK(io::encode_checkpoint(a.last) == io::encode_checkpoint(again.last));
    const auto adapting = train::train_predictor(cfg, b, {.threads = 2, .adapt_threads = true});
    CHECK(adapting.epochs_on_one_thread == 1);  // the chooser times one thread in epoch 1
    CHECK(io::encode_checkpoint(adapting.last) == io::encode_checkpoint(a.last));
    CHECK(train::split_json(a) == train::split_json(again));
    for (int threads : {1, 3, 4, 7}) {
        CAPTURE(threads);
        const auto r = train::train_predictor(cfg, b, {.threads = threads});
        CHECK(r.threads == std::min(threads, 3));  // 3 row blocks in a full batch
        CHECK(io::encode_checkpoint(r.last) == io::encode_checkpoint(a.last));
        CHECK(io::encode_checkpoint(r.best) == io::encode_checkpoint(a.best));
        for (std::size_t e = 0; e < a.epochs.size(); ++e) {
            CHECK(r.epochs[e].train_loss == a.epochs[e].train_loss);
            CHECK(r.epochs[e].val_mae == a.epochs[e].val_mae);
        }
    }
    const auto other = train::train_predictor(config("seg", {{"optimization.epoch", "2"},
                                                             {"optimization.batch_size", "192"},
                                                             {"data.path", bin.string()},
                                                             {"SEED", "7"}}),
                                              b);
    CHECK(io::encode_checkpoint(a.last) != io::encode_checkpoint(other.last));
    CHECK_THROWS_WITH_AS(train::train_predictor(cfg, b, {.threads = 0}), "training: threads must be at least 1 (got 0)",
                         error);
}

TEST_CASE("log_interval: the batch callback every log_interval batches within an epoch, with the loss so far") {
    const test::scratch_dir dir("trainer-log-interval");
    // 300 records: 240 for training in batches of 32, so 8 batches an epoch (the last of 16 rows).
    const auto bin = test::write_synthetic(dir / "seg.bin", "seg", {"mIoU", "mAcc", "aAcc", "flops", "params"}, 300);
    for (int threads : {1, 2}) {
        CAPTURE(threads);
        for (int interval : {1, 3, 8}) {
            CAPTURE(interval);
            const auto cfg = config("seg", {{"optimization.epoch", "2"},
                                            {"optimization.batch_size", "32"},
                                            {"log_interval", std::to_string(interval)},
                                            {"data.path", bin.string()}});
            std::vector<train::batch_progress> seen;
            const auto r = train::train_predictor(
                cfg, train::load_data(cfg),
                {.threads = threads, .on_batch = [&](const train::batch_progress& p) { seen.push_back(p); }});
            std::vector<std::pair<int, std::int64_t>> expected;
            for (int e = 0; e < 2; ++e)
                for (std::int64_t k = interval; k < 8; k += interval) expected.emplace_back(e, k);
            REQUIRE(seen.size() == expected.size());
            for (std::size_t i = 0; i < seen.size(); ++i) {
                CHECK(seen[i].epoch == expected[i].first);
                CHECK(seen[i].batch == expected[i].second);
                CHECK(seen[i].batches == 8);
                CHECK(seen[i].epochs == 2);
                CHECK(seen[i].mean_loss > 0);
            }
            if (interval == 1) {
                // The running means are those of the epoch's batch losses: the last batch's loss comes out positive
                // from the epoch's mean, and each batch's from two running means.
                for (int e = 0; e < 2; ++e) {
                    const auto at = [&](std::int64_t k) { return seen[static_cast<std::size_t>(e * 7 + k - 1)]; };
                    CHECK(r.epochs[static_cast<std::size_t>(e)].train_loss * 8 - at(7).mean_loss * 7 > 0);
                    for (std::int64_t k = 2; k < 8; ++k) CHECK(at(k).mean_loss * k - at(k - 1).mean_loss * (k - 1) > 0);
                }
            }
        }
    }
}

TEST_CASE("an ensemble trains concurrently, one model per thread, as it trains one after the other") {
    const auto b = arch::make_synthetic({.records = 300, .seed = 5});
    std::vector<io::run_config> cfgs(3);
    for (std::size_t m = 0; m < cfgs.size(); ++m) {
        cfgs[m].optimization.epoch = 2;
        cfgs[m].seed = 100 + static_cast<std::int64_t>(m);
    }
    std::vector<train::result> alone, together(cfgs.size());
    for (const auto& cfg : cfgs) alone.push_back(train::train_predictor(cfg, b, {.threads = 1}));
    std::vector<std::thread> members;
    for (std::size_t m = 0; m < cfgs.size(); ++m)
        members.emplace_back([&, m] { together[m] = train::train_predictor(cfgs[m], b, {.threads = 1}); });
    for (auto& t : members) t.join();
    for (std::size_t m = 0; m < cfgs.size(); ++m) {
        CAPTURE(m);
        CHECK(io::encode_checkpoint(together[m].last) == io::encode_checkpoint(alone[m].last));
        CHECK(together[m].epochs.back().val_mae == alone[m].epochs.back().val_mae);
    }
}

TEST_CASE("the training step reuses its buffers: after the first epoch the backend allocates nothing") {
    nn::predictor_spec spec;
    nn::normalisation stats{std::vector<double>(27, 0.0), std::vector<double>(27, 1.0), std::vector<double>(5, 0.0),
                            std::vector<double>(5, 1.0)};
    nn::predictor<float> model(spec, stats, 3);
    constexpr std::size_t records = 300;  // batches of 128, 128 and 44 rows
    std::vector<float> x(records * 27), y(records * 5), xv(50 * 27);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::sin(0.1 * static_cast<double>(i)));
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = static_cast<float>(std::cos(0.3 * static_cast<double>(i)));
    for (std::size_t i = 0; i < xv.size(); ++i) xv[i] = static_cast<float>(std::sin(0.7 * static_cast<double>(i)));
    std::vector<std::size_t> order(records);
    for (std::size_t i = 0; i < records; ++i) order[i] = (i * 7) % records;
    std::vector<float> pred(50 * 5);
    for (int threads : {1, 2, 3}) {
        CAPTURE(threads);
        train::detail::tape_training<backend::eigen_cpu> training(model, 128, threads, false, nn::loss_kind::mse, x, y,
                                                                  xv, 27, 5);
        optim::adam<float> adam(training.parameters(), {});
        const auto epoch = [&](int e) {
            model.train(true);
            training.epoch(e, order, 128, adam, [](index_t) {});
            model.train(false);
            training.evaluate(pred);
        };
        epoch(0);
        const std::size_t allocated = ncp::detail::kernels<backend::eigen_cpu>::allocations();
        epoch(1);
        epoch(2);
        CHECK(ncp::detail::kernels<backend::eigen_cpu>::allocations() == allocated);
    }
}

TEST_CASE("bad input names what is wrong") {
    const test::scratch_dir dir("trainer-bad");
    const auto missing = dir / "nowhere" / "seg.bin";
    const auto cfg = config("seg", {{"data.path", missing.string()}});
    CHECK_THROWS_WITH_AS(train::load_data(cfg),
                         (missing.string() +
                          ": benchmark file not found; convert the setting's pickle first: "
                          "/usr/bin/python3 scripts/convert_pkl.py <NAS-Bench-MR>/seg/trainval.pkl " +
                          missing.string() + " (or set data.path)")
                             .c_str(),
                         error);
    const auto rooted = config("seg", {{"data.root", (dir / "root").string()}});
    CHECK(train::data_file(rooted) == dir / "root" / "seg" / "trainval.bin");

    const auto bin =
        test::write_synthetic(dir / "seg.bin", "seg", {"mIoU", "mAcc", "aAcc", "flops", "params"}, 129 + 128);
    const auto b = train::load_data(config("seg", {{"data.path", bin.string()}}));
    // 257 records: 205 for training, 205 = 128 + 77; a batch of 204 would leave one record.
    CHECK_THROWS_AS(
        train::train_predictor(config("seg", {{"data.path", bin.string()}, {"optimization.batch_size", "204"}}), b),
        error);
    CHECK_THROWS_WITH_AS(
        train::train_predictor(config("seg", {{"data.path", bin.string()}, {"network.input_dim", "30"}}), b),
        "network.input_dim is 30 but seg codes have 27 dimensions (use AUTO)", error);
    CHECK_THROWS_WITH_AS(train::train_predictor(config("seg", {{"data.path", bin.string()},
                                                               {"data.metrics", "[[mIoU], [top1]]"},
                                                               {"network.layer2_drop_ratio", "[0.5, 0]"}}),
                                                b),
                         "unknown metric 'top1' in setting seg (it has: mIoU, mAcc, aAcc, flops, params)", error);
}

TEST_CASE("the thread chooser: all threads on an idle machine, one while they are slower") {
    train::detail::thread_chooser c(4, true);
    std::vector<int> used;
    // Idle: four threads take 1 s, one 1.5 s. Epochs 5-29 a busy machine: four take 2 s. Then idle again.
    for (int e = 0; e < 40; ++e) {
        const int t = c.next(e);
        used.push_back(t);
        const bool busy = e >= 5 && e < 30;
        c.record(t, t == 4 ? (busy ? 2.0 : 1.0) : 1.5);
    }
    CHECK(used[1] == 1);  // one thread timed once
    CHECK(std::count(used.begin() + 2, used.begin() + 11, 1) == 0);  // four keep their pace: no probe
    CHECK(used[11] == 1);  // slower by more than a third: try one
    CHECK(used[12] == 1);  // one was faster: stay
    CHECK(used[21] == 4);  // ten epochs later, try four again
    CHECK(used[22] == 1);  // still slower
    CHECK(used[31] == 4);  // idle again: four are faster
    CHECK(std::count(used.begin() + 31, used.end(), 1) == 0);
    train::detail::thread_chooser fixed(4, false);
    fixed.record(4, 5.0);
    CHECK(fixed.next(10) == 4);
}

TEST_CASE("training_data keeps the records data.subset draws; main_metric_only trains one head") {
    const auto b = test::synthetic_benchmark("seg", {"mIoU", "mAcc", "aAcc", "flops", "params"}, 200, 5);
    const auto all = train::training_data(config("seg", {}), b);
    CHECK(all.codes == b.codes);
    const auto cfg = config("seg", {{"data.subset", "50"}, {"data.subset_seed", "3"}});
    const auto some = train::training_data(cfg, b);
    const auto rows = train::training_records(cfg, b.size());
    REQUIRE(some.size() == 50);
    for (std::size_t i = 0; i < rows.size(); ++i) CHECK(some.metrics(i, 0) == b.metrics(rows[i], 0));
    CHECK_THROWS_WITH_AS(train::training_data(config("seg", {{"data.subset", "201"}}), b),
                         doctest::Contains("data.subset is 201 but"), error);

    const auto one = train::main_metric_only(config("seg", {{"network.layer2_drop_ratio", "[0.25, 0.5, 0]"}}));
    CHECK(one.data.metrics == std::vector<std::vector<std::string>>{{"mIoU"}});
    CHECK(one.network.layer2_drop_ratio == std::vector<double>{0.25});
    const auto r = train::train_predictor(io::load_config(test::source_dir() / "configs/seg.yaml",
                                                          overrides{{"optimization.epoch", "1"}}),
                                          b);
    const auto r1 = train::train_predictor(
        train::main_metric_only(io::load_config(test::source_dir() / "configs/seg.yaml",
                                                overrides{{"optimization.epoch", "1"}})),
        b);
    CHECK(r.metric_names.size() == 5);
    CHECK(r1.metric_names == std::vector<std::string>{"mIoU"});
}

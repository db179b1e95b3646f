/// Column statistics, the seeded split, metric groups and joined settings.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "ncp/data/dataset.hpp"
#include "test_support.hpp"

namespace {

using ncp::data::benchmark;

// `records` distinct codes of `dim` values; metric m of record r is a function of the record's code.
benchmark synthetic(const std::string& setting, std::vector<std::string> metrics, std::size_t records = 6,
                    std::size_t dim = 3) {
    benchmark b{setting, std::move(metrics), xt::xtensor<double, 2>::from_shape({records, dim}), {}};
    b.metrics = xt::xtensor<double, 2>::from_shape({records, b.metric_names.size()});
    for (std::size_t r = 0; r < records; ++r) {
        for (std::size_t c = 0; c < dim; ++c) b.codes(r, c) = static_cast<double>(8 * ((r >> c) % 4 + 1) + c);
        for (std::size_t m = 0; m < b.metric_names.size(); ++m)
            b.metrics(r, m) =
                b.codes(r, 0) * (m + 1) + b.codes(r, dim - 1) / (m + 2.0) + static_cast<double>(setting.size());
    }
    return b;
}

// Reorders the records of `b` by `order` (record k of the result is record order[k] of b).
benchmark permuted(const benchmark& b, const std::vector<std::size_t>& order) {
    benchmark out = b;
    for (std::size_t k = 0; k < order.size(); ++k) {
        for (std::size_t c = 0; c < b.code_dim(); ++c) out.codes(k, c) = b.codes(order[k], c);
        for (std::size_t m = 0; m < b.metric_names.size(); ++m) out.metrics(k, m) = b.metrics(order[k], m);
    }
    return out;
}

}  // namespace

TEST_CASE("column statistics equal a naive reference: mean and population std") {
    std::mt19937_64 gen(7);
    std::normal_distribution<double> normal(3.0, 2.0);
    xt::xtensor<double, 2> table = xt::xtensor<double, 2>::from_shape({257, 5});
    for (auto& v : table) v = normal(gen);
    const auto s = ncp::data::column_stats(table);
    REQUIRE(s.mean.size() == 5);
    for (std::size_t c = 0; c < 5; ++c) {
        long double sum = 0;
        long double sum_sq = 0;
        for (std::size_t r = 0; r < 257; ++r) {
            sum += table(r, c);
            sum_sq += static_cast<long double>(table(r, c)) * table(r, c);
        }
        const long double mean = sum / 257;
        const long double var = sum_sq / 257 - mean * mean;
        CHECK(s.mean(c) == doctest::Approx(static_cast<double>(mean)).epsilon(1e-13));
        CHECK(s.std(c) == doctest::Approx(std::sqrt(static_cast<double>(var))).epsilon(1e-11));
    }
    const xt::xtensor<double, 2> small = {{1.0}, {2.0}, {3.0}, {4.0}};
    CHECK(ncp::data::column_stats(small).std(0) == doctest::Approx(std::sqrt(1.25)));  // divides by n, not n - 1
}

TEST_CASE("a constant column gets std 1 and its value as mean; a table without rows is an error") {
    const xt::xtensor<double, 2> table = {{0.1, 5.0}, {0.1, 6.0}, {0.1, 7.0}};
    const auto s = ncp::data::column_stats(table);
    CHECK(s.mean(0) == doctest::Approx(0.1));
    CHECK(s.std(0) == 1.0);
    CHECK(s.std(1) == doctest::Approx(std::sqrt(2.0 / 3.0)));
    CHECK_THROWS_AS(ncp::data::column_stats(xt::xtensor<double, 2>::from_shape({0, 3})), ncp::error);
}

TEST_CASE("the split is a seeded partition with sklearn's rounding: ceil(0.2 n) validation records") {
    const auto s = ncp::data::train_validation_split(2507);
    CHECK(s.train.size() == 2005);
    CHECK(s.validation.size() == 502);
    std::vector<std::size_t> all = s.train;
    all.insert(all.end(), s.validation.begin(), s.validation.end());
    std::sort(all.begin(), all.end());
    std::vector<std::size_t> expected(2507);
    std::iota(expected.begin(), expected.end(), 0);
    CHECK(all == expected);

    const auto again = ncp::data::train_validation_split(2507, 233);
    CHECK(again.train == s.train);
    CHECK(again.validation == s.validation);
    CHECK(ncp::data::train_validation_split(2507, 234).validation != s.validation);

    const auto half = ncp::data::train_validation_split(2507, 233, 0.5);
    CHECK(half.validation.size() == 1254);
    CHECK(half.train.size() == 1253);
}

TEST_CASE("the split is the same on every standard library") {
    // Computed by an independent Python implementation of MT19937-64 and of the documented Fisher-Yates.
    const auto small = ncp::data::train_validation_split(10);
    CHECK(small.train == std::vector<std::size_t>{9, 0, 7, 6, 3, 4, 8, 5});
    CHECK(small.validation == std::vector<std::size_t>{2, 1});
    const auto s = ncp::data::train_validation_split(2507);
    CHECK(std::vector<std::size_t>(s.train.begin(), s.train.begin() + 8) ==
          std::vector<std::size_t>{2103, 927, 854, 139, 1080, 457, 2000, 1056});
    CHECK(std::vector<std::size_t>(s.validation.begin(), s.validation.begin() + 8) ==
          std::vector<std::size_t>{1614, 2408, 2356, 2135, 2142, 1411, 711, 873});
    const auto other = ncp::data::train_validation_split(100, 1, 0.5);
    CHECK(std::vector<std::size_t>(other.train.begin(), other.train.begin() + 5) ==
          std::vector<std::size_t>{96, 62, 58, 27, 21});
    CHECK(std::vector<std::size_t>(other.validation.begin(), other.validation.begin() + 5) ==
          std::vector<std::size_t>{19, 93, 20, 26, 68});
    std::mt19937_64 gen;  // the generator the split relies on, as the standard fixes it
    gen.discard(9999);
    CHECK(gen() == 9981545732273789042ULL);
}

TEST_CASE("uniform_below stays below its bound and reaches every value") {
    std::mt19937_64 gen(1);
    for (std::uint64_t bound : {1ULL, 2ULL, 3ULL, 7ULL, 1000ULL}) {
        std::vector<int> seen(bound, 0);
        for (int i = 0; i < 20000; ++i) {
            const auto v = ncp::data::uniform_below(gen, bound);
            REQUIRE(v < bound);
            ++seen[v];
        }
        CHECK(std::count(seen.begin(), seen.end(), 0) == 0);
    }
}

TEST_CASE("split arguments that leave a part empty are errors") {
    CHECK_THROWS_AS(ncp::data::train_validation_split(100, 233, 0.0), ncp::error);
    CHECK_THROWS_AS(ncp::data::train_validation_split(100, 233, 1.0), ncp::error);
    CHECK_THROWS_AS(ncp::data::train_validation_split(100, 233, std::nan("")), ncp::error);
    CHECK_THROWS_AS(ncp::data::train_validation_split(1), ncp::error);
    CHECK_THROWS_AS(ncp::data::train_validation_split(0), ncp::error);
    CHECK(ncp::data::train_validation_split(2).validation.size() == 1);
}

TEST_CASE("metric groups map names to columns and refuse unknown, repeated or empty entries") {
    const auto b = synthetic("seg", {"mIoU", "mAcc", "aAcc", "flops", "params"});
    const auto groups = ncp::data::metric_groups(b, ncp::data::default_metric_groups("seg"));
    CHECK(groups == std::vector<std::vector<std::size_t>>{{0}, {1, 2}, {3, 4}});
    CHECK(ncp::data::metric_groups(b, {{"params"}, {"mIoU"}}) == std::vector<std::vector<std::size_t>>{{4}, {0}});
    CHECK_THROWS_WITH_AS(ncp::data::metric_groups(b, {{"mIoU"}, {"top1"}}), doctest::Contains("unknown metric 'top1'"),
                         ncp::error);
    CHECK_THROWS_WITH_AS(ncp::data::metric_groups(b, {{"mIoU"}, {"mIoU", "flops"}}),
                         doctest::Contains("'mIoU' of setting seg is in more than one group"), ncp::error);
    CHECK_THROWS_AS(ncp::data::metric_groups(b, {{"mIoU"}, {}}), ncp::error);
    CHECK_THROWS_AS(ncp::data::metric_groups(b, {}), ncp::error);

    const auto table = ncp::data::select_metrics(b, ncp::data::metric_groups(b, {{"flops"}, {"mIoU", "aAcc"}}));
    REQUIRE(table.shape(1) == 3);
    for (std::size_t r = 0; r < b.size(); ++r) {
        CHECK(table(r, 0) == b.metrics(r, 3));
        CHECK(table(r, 1) == b.metrics(r, 0));
        CHECK(table(r, 2) == b.metrics(r, 2));
    }
}

TEST_CASE("default metric groups follow the table of docs/algorithm.md section 1") {
    CHECK(ncp::data::default_metric_groups("seg-4x").size() == 3);
    CHECK(ncp::data::default_metric_groups("cls-50-1000")[1] == std::vector<std::string>{"top5"});
    CHECK(ncp::data::default_metric_groups("video-p")[0] == std::vector<std::string>{"top1"});
    CHECK(ncp::data::default_metric_groups("3ddet") ==
          std::vector<std::vector<std::string>>{{"moderate"}, {"flops", "params"}});
    CHECK(ncp::data::default_metric_groups("nas-bench-201")[1] == std::vector<std::string>{"Flops", "Params"});
    CHECK_THROWS_WITH_AS(ncp::data::default_metric_groups("mystery"), doctest::Contains("'mystery'"), ncp::error);
}

TEST_CASE("joining settings puts their metrics side by side, matching records by code") {
    const auto seg = synthetic("seg", {"mIoU", "flops"});
    const auto cls = synthetic("cls-10c", {"top1", "top5"});
    const std::vector<std::size_t> order{3, 0, 5, 1, 4, 2};
    for (const auto& other : {cls, permuted(cls, order)}) {
        const std::vector<benchmark> parts{seg, other};
        const auto j = ncp::data::join_settings(parts);
        CHECK(j.setting == "seg+cls-10c");
        CHECK(j.metric_names == std::vector<std::string>{"seg/mIoU", "seg/flops", "cls-10c/top1", "cls-10c/top5"});
        CHECK(j.codes == seg.codes);
        for (std::size_t r = 0; r < seg.size(); ++r) {
            CHECK(j.metrics(r, 0) == seg.metrics(r, 0));
            CHECK(j.metrics(r, 1) == seg.metrics(r, 1));
            CHECK(j.metrics(r, 2) == cls.metrics(r, 0));
            CHECK(j.metrics(r, 3) == cls.metrics(r, 1));
        }
    }
}

TEST_CASE("joining settings of different architectures is an error naming the setting") {
    const auto seg = synthetic("seg", {"mIoU"});
    auto other = synthetic("video", {"top1"});
    other.codes(4, 1) = 1000;
    const std::vector<std::size_t> reversed{5, 4, 3, 2, 1, 0};
    for (const auto& bad : {other, permuted(other, reversed)}) {
        const std::vector<benchmark> parts{seg, bad};
        CHECK_THROWS_WITH_AS(ncp::data::join_settings(parts),
                             doctest::Contains("cannot join setting video: it has no unmatched record with the code "
                                               "of record 4 of seg"),
                             ncp::error);
    }
    const std::vector<benchmark> sizes{seg, synthetic("video", {"top1"}, 5)};
    CHECK_THROWS_WITH_AS(ncp::data::join_settings(sizes), doctest::Contains("cannot join setting video (5 records"),
                         ncp::error);
    auto repeated = synthetic("video", {"top1"});
    for (std::size_t c = 0; c < 3; ++c) repeated.codes(2, c) = repeated.codes(0, c);
    const std::vector<benchmark> repeats{seg, permuted(repeated, reversed)};
    CHECK_THROWS_WITH_AS(ncp::data::join_settings(repeats), doctest::Contains("repeats an earlier code"), ncp::error);
    CHECK_THROWS_AS(ncp::data::join_settings({}), ncp::error);
}

TEST_CASE("the NAS-Bench-MR settings join row by row, and their default groups resolve") {
    std::vector<benchmark> parts;
    for (const std::string setting :
         {"seg", "seg-4x", "cls-10c", "cls-50-100", "cls-50-1000", "cls-10-1000", "video", "video-p"}) {
        const auto file = ncp::test::converted(setting);
        if (!file) return;
        parts.push_back(ncp::data::load_benchmark(*file));
        CHECK(ncp::data::metric_groups(parts.back(), ncp::data::default_metric_groups(setting)).size() == 3);
    }
    const auto j = ncp::data::join_settings(parts);
    CHECK(j.size() == 2507);
    CHECK(j.metric_names.size() == 2 * 5 + 6 * 4);
    CHECK(j.metric("video-p/top5") == parts.back().metric("top5"));
    CHECK(j.metric("seg/mIoU") == parts.front().metric("mIoU"));

    const auto file = ncp::test::converted("nas-bench-201");
    REQUIRE(file);
    const auto nb201 = ncp::data::load_benchmark(*file);
    const auto stats = ncp::data::column_stats(nb201.codes);
    for (std::size_t c = 0; c < nb201.code_dim(); ++c) CHECK(stats.mean(c) == doctest::Approx(0.2));  // all 5^6 cells
    CHECK(ncp::data::metric_groups(nb201, ncp::data::default_metric_groups("nas-bench-201")).size() == 2);
}

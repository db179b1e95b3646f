/// Checkpoints: a round trip, and every kind of damaged or foreign file.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "ncp/io/checkpoint.hpp"
#include "test_support.hpp"

using ncp::test::read_file;

namespace {

ncp::io::model_record sample() {
    ncp::io::model_record r;
    r.setting = "seg";
    r.input_dim = 2;
    r.shared_layer = 4;
    r.separated_layer = 3;
    r.activation = "swish";
    r.layer1_drop_ratio = 0.5;
    r.layer2_drop_ratio = {0.5, 0};
    r.metric_groups = {{"mIoU"}, {"flops", "params"}};
    r.input_mean = {1, 2};
    r.input_std = {0.5, 1};
    r.output_mean = {70, 2, 3};
    r.output_std = {1, 0.1, 0.2};
    r.parameters = {{"trunk.1.weight", 4, 2, {1, 2, 3, 4, 5, 6, 7, 8}}, {"trunk.1.bias", 1, 4, {0.5f, -1, 2, 0}}};
    r.buffers = {{"trunk.0.running_mean", 1, 2, {0.25f, 0.75f}}};
    r.epoch = 7;
    r.config_yaml = "data:\n  dataset: seg\n";
    return r;
}

void write(const std::filesystem::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

std::string error_of(const std::filesystem::path& p) {
    try {
        ncp::io::load_checkpoint(p);
    } catch (const ncp::error& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("round trip") {
    const ncp::test::scratch_dir dir("checkpoint");
    const auto path = dir / "model.ckpt";
    ncp::io::save_checkpoint(path, sample());
    const auto r = ncp::io::load_checkpoint(path);
    CHECK(r.setting == "seg");
    CHECK(r.metric_groups == sample().metric_groups);
    CHECK(r.outputs() == 3);
    CHECK(r.metric_names() == std::vector<std::string>{"mIoU", "flops", "params"});
    CHECK(r.output_std == sample().output_std);
    REQUIRE(r.parameters.size() == 2);
    CHECK(r.parameters[0].name == "trunk.1.weight");
    CHECK(r.parameters[0].values == sample().parameters[0].values);
    CHECK(r.buffers[0].values == sample().buffers[0].values);
    CHECK(r.epoch == 7);
    CHECK(r.config_yaml == sample().config_yaml);
    CHECK(ncp::io::encode_checkpoint(r) == read_file(path));  // deterministic bytes
    int files = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
    CHECK(files == 1);  // no temporary left behind
}

TEST_CASE("damaged, foreign and missing files name the file") {
    const ncp::test::scratch_dir dir("checkpoint-bad");
    const auto good = ncp::io::encode_checkpoint(sample());
    const auto path = dir / "model.ckpt";
    for (std::size_t keep :
         {std::size_t{0}, std::size_t{5}, std::size_t{12}, std::size_t{19}, good.size() / 2, good.size() - 1}) {
        CAPTURE(keep);
        write(path, good.substr(0, keep));
        const auto message = error_of(path);
        CHECK(message.find(path.string()) == 0);
        CHECK((message.find("truncated") != std::string::npos || message.find("bad magic") != std::string::npos));
    }
    std::string other = good;
    other[8] = 2;  // version 2
    write(path, other);
    CHECK(error_of(path) ==
          path.string() + ": checkpoint version 2, this ncp reads version 1 (train the model again with this ncp)");
    std::string flipped = good;
    flipped[good.size() / 2] ^= 0x20;
    write(path, flipped);
    CHECK(error_of(path) == path.string() + ": checkpoint checksum mismatch (corrupt file)");
    write(path, "not a checkpoint at all");
    CHECK(error_of(path) == path.string() + ": not an ncp checkpoint (bad magic)");
    CHECK(error_of(dir / "missing.ckpt") == (dir / "missing.ckpt").string() + ": no such checkpoint file");

    auto bad = sample();
    bad.parameters[1].values.pop_back();
    CHECK_THROWS_WITH_AS(
        ncp::io::save_checkpoint(path, bad),
        (path.string() + ": inconsistent checkpoint: tensor 'trunk.1.bias' holds 3 values for 1 x 4").c_str(),
        ncp::error);
}

TEST_CASE("layer sizes the stored tensors do not back are refused before the model is built") {
    auto r = sample();  // 12 stored values; the sizes need 2 * 2 + 3 * 4 + 2 * 4 + (15 + 6 + 4) + (15 + 6 + 8)
    CHECK_THROWS_WITH_AS(
        ncp::io::make_predictor(r, "s.ckpt"),
        "s.ckpt: the layer sizes (2 inputs, 4 shared, 3 separated) need 78 parameters, the checkpoint holds 12",
        ncp::error);
    r.shared_layer = std::int64_t{1} << 40;  // a damaged field: the model would take terabytes
    CHECK_THROWS_WITH_AS(ncp::io::make_predictor(r, "s.ckpt"), doctest::Contains("separated) need "), ncp::error);
}

TEST_CASE("weights that are not finite, or a negative running variance, are refused on save and load") {
    const ncp::test::scratch_dir dir("checkpoint-nan");
    const auto path = dir / "model.ckpt";
    auto r = sample();
    r.parameters[0].values[3] = std::nanf("");
    CHECK_THROWS_WITH_AS(ncp::io::save_checkpoint(path, r),
                         (path.string() + ": inconsistent checkpoint: tensor 'trunk.1.weight' value 3 is nan (not "
                                          "finite)").c_str(),
                         ncp::error);
    r = sample();
    r.buffers = {{"trunk.0.running_var", 1, 2, {0.5f, -0.25f}}};
    CHECK_THROWS_WITH_AS(ncp::io::save_checkpoint(path, r),
                         doctest::Contains("'trunk.0.running_var' value 1 is -0.25 (a variance must be finite"),
                         ncp::error);
    CHECK_FALSE(std::filesystem::exists(path));
}

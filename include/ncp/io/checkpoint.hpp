#pragma once
/// Predictor checkpoints (`best_model.ckpt`, `last_model.ckpt`): the architecture, the metric groups, the
/// normalisation statistics, every weight and batch-norm running statistic, and the run's config, as a cereal
/// binary payload framed by a magic, a version, the payload length and a CRC-32. Loading checks the frame before
/// decoding anything, then the record's consistency; every failure is an ncp::error naming the file.
///
/// File layout (little-endian): "NCPMODEL" | u32 version | u64 payload bytes | payload | u32 CRC-32 of payload.

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <cereal/archives/binary.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include "ncp/config.hpp"
#include "ncp/data/format.hpp"
#include "ncp/io/atomic.hpp"
#include "ncp/nn/predictor.hpp"

namespace ncp::io {

/// First bytes of every checkpoint.
inline constexpr std::array<char, 8> checkpoint_magic = {'N', 'C', 'P', 'M', 'O', 'D', 'E', 'L'};
/// The only checkpoint layout this ncp reads; any change of the record increments it.
inline constexpr std::uint32_t checkpoint_version = 1;

/// One named row-major tensor (the original state_dict's names, e.g. "fc.1.weight", "nets.0.4.bias").
struct named_tensor {
    std::string name;           ///< where it belongs in the model
    std::int64_t rows = 0;      ///< 1 for vectors
    std::int64_t cols = 0;      ///< elements per row
    std::vector<float> values;  ///< rows x cols values

    template <class Archive>
    void serialize(Archive& ar) {
        ar(name, rows, cols, values);
    }
};

/// Everything a trained predictor needs to predict in original units, and what produced it.
struct model_record {
    std::string setting;                                ///< benchmark setting trained on, e.g. "seg"
    std::int64_t input_dim = 0;                         ///< code dimension
    std::int64_t shared_layer = 0;                      ///< trunk width
    std::int64_t separated_layer = 0;                   ///< head width
    std::string activation;                             ///< relu, relu6, tanh or swish
    double layer1_drop_ratio = 0;                       ///< trunk dropout
    std::vector<double> layer2_drop_ratio;              ///< dropout of each head
    std::vector<std::vector<std::string>> metric_groups;  ///< metric names of each head, in output order
    std::vector<double> input_mean, input_std;          ///< code statistics (z-scoring inside the model)
    std::vector<double> output_mean, output_std;        ///< metric statistics, one per output
    std::vector<named_tensor> parameters;               ///< weights, biases, batch-norm gamma and beta
    std::vector<named_tensor> buffers;                  ///< batch-norm running means and variances
    std::int64_t epoch = -1;                            ///< epoch (0-based) after which these weights were taken
    std::string config_yaml;                            ///< the run's full config (io::to_yaml)

    /// Number of outputs (metrics over all groups).
    std::size_t outputs() const {
        std::size_t n = 0;
        for (const auto& g : metric_groups) n += g.size();
        return n;
    }
    /// Metric names over all groups, in output order.
    std::vector<std::string> metric_names() const {
        std::vector<std::string> names;
        for (const auto& g : metric_groups) names.insert(names.end(), g.begin(), g.end());
        return names;
    }

    template <class Archive>
    void serialize(Archive& ar) {
        ar(setting, input_dim, shared_layer, separated_layer, activation, layer1_drop_ratio, layer2_drop_ratio,
           metric_groups, input_mean, input_std, output_mean, output_std, parameters, buffers, epoch, config_yaml);
    }
};

namespace detail {

inline constexpr std::size_t checkpoint_header_bytes = 8 + 4 + 8;

/// Throws unless the record is self-consistent; `source` names the file.
inline void check_record(const model_record& r, const std::string& source) {
    auto fail = [&](const std::string& what) { throw error(source + ": inconsistent checkpoint: " + what); };
    if (r.input_dim <= 0 || r.shared_layer <= 0 || r.separated_layer <= 0) fail("non-positive layer sizes");
    if (r.metric_groups.empty()) fail("no metric groups");
    for (const auto& g : r.metric_groups)
        if (g.empty()) fail("an empty metric group");
    if (r.layer2_drop_ratio.size() != r.metric_groups.size()) fail("head dropouts do not match the metric groups");
    const auto dim = static_cast<std::size_t>(r.input_dim);
    if (r.input_mean.size() != dim || r.input_std.size() != dim) fail("input statistics do not match input_dim");
    if (r.output_mean.size() != r.outputs() || r.output_std.size() != r.outputs())
        fail("output statistics do not match the metrics");
    for (const auto* list : {&r.parameters, &r.buffers})
        for (const auto& t : *list) {
            if (t.rows < 0 || t.cols < 0 || t.values.size() != static_cast<std::size_t>(t.rows * t.cols))
                fail("tensor '" + t.name + "' holds " + std::to_string(t.values.size()) + " values for " +
                     std::to_string(t.rows) + " x " + std::to_string(t.cols));
            // A model of such weights predicts NaN for every code.
            const bool variance = std::string_view(t.name).ends_with("running_var");
            for (std::size_t i = 0; i < t.values.size(); ++i)
                if (!std::isfinite(t.values[i]) || (variance && t.values[i] < 0))
                    fail("tensor '" + t.name + "' value " + std::to_string(i) + " is " + number_text(t.values[i]) +
                         (variance ? " (a variance must be finite and >= 0)" : " (not finite)"));
        }
}

}  // namespace detail

/// The checkpoint file bytes of `r`.
inline std::string encode_checkpoint(const model_record& r) {
    std::ostringstream payload_stream(std::ios::binary);
    {
        cereal::BinaryOutputArchive archive(payload_stream);
        archive(r);
    }
    const std::string payload = std::move(payload_stream).str();
    std::string out;
    out.reserve(detail::checkpoint_header_bytes + payload.size() + 4);
    out.append(checkpoint_magic.data(), checkpoint_magic.size());
    const std::uint32_t version = checkpoint_version;
    const std::uint64_t length = payload.size();
    out.append(reinterpret_cast<const char*>(&version), 4);
    out.append(reinterpret_cast<const char*>(&length), 8);
    out += payload;
    const std::uint32_t crc = data::crc32(std::as_bytes(std::span(payload.data(), payload.size())));
    out.append(reinterpret_cast<const char*>(&crc), 4);
    return out;
}

/// Decodes checkpoint bytes; `source` names them in errors.
inline model_record decode_checkpoint(std::string_view bytes, const std::string& source) {
    if (bytes.size() < checkpoint_magic.size() ||
        std::memcmp(bytes.data(), checkpoint_magic.data(), checkpoint_magic.size()) != 0)
        throw error(source + ": not an ncp checkpoint (bad magic)");
    if (bytes.size() < detail::checkpoint_header_bytes)
        throw error(source + ": truncated checkpoint (" + std::to_string(bytes.size()) + " bytes)");
    std::uint32_t version;
    std::uint64_t length;
    std::memcpy(&version, bytes.data() + 8, 4);
    std::memcpy(&length, bytes.data() + 12, 8);
    if (version != checkpoint_version)
        throw error(source + ": checkpoint version " + std::to_string(version) + ", this ncp reads version " +
                    std::to_string(checkpoint_version) + " (train the model again with this ncp)");
    const std::size_t available = bytes.size() - detail::checkpoint_header_bytes;
    if (available < 4 || length != available - 4)
        throw error(source + ": truncated or padded checkpoint: the header announces " + std::to_string(length) +
                    " payload bytes, the file holds " + std::to_string(available < 4 ? 0 : available - 4));
    const std::string_view payload = bytes.substr(detail::checkpoint_header_bytes, length);
    std::uint32_t stored;
    std::memcpy(&stored, bytes.data() + detail::checkpoint_header_bytes + length, 4);
    if (data::crc32(std::as_bytes(std::span(payload.data(), payload.size()))) != stored)
        throw error(source + ": checkpoint checksum mismatch (corrupt file)");
    model_record r;
    try {
        std::istringstream in(std::string(payload), std::ios::binary);
        cereal::BinaryInputArchive archive(in);
        archive(r);
        if (in.peek() != std::char_traits<char>::eof()) throw error("trailing bytes in the payload");
    } catch (const std::exception& e) {
        throw error(source + ": cannot decode checkpoint: " + e.what());
    }
    detail::check_record(r, source);
    return r;
}

/// Writes `r` to `path` atomically (temporary file, then rename).
inline void save_checkpoint(const std::filesystem::path& path, const model_record& r) {
    detail::check_record(r, path.string());
    atomic_write(path, encode_checkpoint(r));
}

/// Reads a checkpoint written by save_checkpoint; errors name `path`.
inline model_record load_checkpoint(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw error(path.string() + ": no such checkpoint file");
    if (!std::filesystem::is_regular_file(path, ec))
        throw error(path.string() + ": not a regular file (a checkpoint is one: best_model.ckpt)");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw error(path.string() + ": cannot open checkpoint");
    std::ostringstream content;
    content << in.rdbuf();
    if (in.bad()) throw error(path.string() + ": cannot read checkpoint");
    return decode_checkpoint(content.view(), path.string());
}

/// The record of `model`'s current weights and statistics; `epoch` and `config_yaml` say what produced them.
template <class T, class Backend>
model_record make_record(nn::predictor<T, Backend>& model, const std::string& setting, std::int64_t epoch,
                         const std::string& config_yaml) {
    const nn::predictor_spec& spec = model.spec();
    model_record r;
    r.setting = setting;
    r.input_dim = spec.input_dim;
    r.shared_layer = spec.shared_layer;
    r.separated_layer = spec.separated_layer;
    r.activation = nn::activation_name(spec.activation);
    r.layer1_drop_ratio = spec.layer1_drop_ratio;
    r.layer2_drop_ratio = spec.layer2_drop_ratio;
    r.metric_groups = spec.metric_groups;
    r.input_mean = model.stats().input_mean;
    r.input_std = model.stats().input_std;
    r.output_mean = model.stats().output_mean;
    r.output_std = model.stats().output_std;
    auto to_named = [](const std::string& name, const Tensor<T, Backend>& t) {
        named_tensor n{name, t.rows(), t.cols(), {}};
        for (const T v : t.to_host()) n.values.push_back(static_cast<float>(v));
        return n;
    };
    model.for_each_parameter(
        [&](const std::string& name, auto& p) { r.parameters.push_back(to_named(name, p.value)); });
    model.for_each_buffer([&](const std::string& name, auto& b) { r.buffers.push_back(to_named(name, b)); });
    r.epoch = epoch;
    r.config_yaml = config_yaml;
    return r;
}

/// The predictor a record describes, in evaluation mode, with its weights; `source` names the record in errors
/// (a missing or misshapen tensor).
template <class T = float, class Backend = default_backend>
nn::predictor<T, Backend> make_predictor(const model_record& r, const std::string& source) {
    detail::check_record(r, source);
    nn::predictor_spec spec;
    spec.input_dim = r.input_dim;
    spec.shared_layer = r.shared_layer;
    spec.separated_layer = r.separated_layer;
    try {
        spec.activation = nn::parse_activation(r.activation);
    } catch (const error& e) {
        throw error(source + ": " + e.what());
    }
    spec.layer1_drop_ratio = r.layer1_drop_ratio;
    spec.layer2_drop_ratio = r.layer2_drop_ratio;
    spec.metric_groups = r.metric_groups;
    // Before the model is built: layer sizes the stored tensors do not back (a damaged file) would allocate for them.
    double stored = 0;
    for (const auto& t : r.parameters) stored += static_cast<double>(t.values.size());
    if (spec.parameters() != stored)
        throw error(source + ": the layer sizes (" + std::to_string(spec.input_dim) + " inputs, " +
                    std::to_string(spec.shared_layer) + " shared, " + std::to_string(spec.separated_layer) +
                    " separated) need " + number_text(spec.parameters()) + " parameters, the checkpoint holds " +
                    number_text(stored));
    nn::predictor<T, Backend> model(spec, {r.input_mean, r.input_std, r.output_mean, r.output_std}, 0);
    auto load = [&](const std::vector<named_tensor>& list, std::size_t& next, const std::string& name,
                    Tensor<T, Backend>& into) {
        if (next >= list.size() || list[next].name != name)
            throw error(source + ": checkpoint lacks '" + name + "' where the model expects it");
        const named_tensor& t = list[next++];
        if (t.rows != into.rows() || t.cols != into.cols())
            throw error(source + ": '" + name + "' is " + std::to_string(t.rows) + " x " + std::to_string(t.cols) +
                        ", the model needs " + into.shape_string());
        std::vector<T> values(t.values.begin(), t.values.end());
        into.copy_from_host(values);
    };
    std::size_t next_param = 0, next_buffer = 0;
    model.for_each_parameter([&](const std::string& name, auto& p) { load(r.parameters, next_param, name, p.value); });
    model.for_each_buffer([&](const std::string& name, auto& b) { load(r.buffers, next_buffer, name, b); });
    if (next_param != r.parameters.size() || next_buffer != r.buffers.size())
        throw error(source + ": checkpoint holds tensors the model does not have");
    model.train(false);
    return model;
}

/// Reads a checkpoint into a predictor (evaluation mode); errors name `path`.
template <class T = float, class Backend = default_backend>
nn::predictor<T, Backend> load_predictor(const std::filesystem::path& path) {
    return make_predictor<T, Backend>(load_checkpoint(path), path.string());
}

}  // namespace ncp::io

#pragma once
/// The run configuration: the original release's YAML configs (`configs/*.yaml`) as a typed struct, with the
/// original's `--section.key value` overrides. Unknown keys, ill-typed and out-of-range values are errors naming
/// the key (and the file and line where there is one).

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "ncp/config.hpp"

namespace ncp::io {

/// `data:` which benchmark file to read and which metrics the predictor learns, grouped into heads.
struct data_config {
    std::string dataset = "seg";  ///< setting name: the folder under `root`
    std::vector<std::vector<std::string>> metrics = {{"mIoU"}, {"mAcc", "aAcc"}, {"flops", "params"}};  ///< heads
    std::string root = "data";    ///< folder holding `<dataset>/trainval.bin`
    std::string path;             ///< explicit .bin file; wins over root/dataset when not empty
    int subset = 0;               ///< train on this many records drawn at random (0: every record)
    std::int64_t subset_seed = 0; ///< seeds the draw of `subset` (apart from SEED, so ensembles share the records)
};

/// `network:` the predictor MLP (docs/algorithm.md section 4).
struct network_config {
    int input_dim = 0;                                  ///< 0 = AUTO (the data's code dimension)
    int shared_layer = 256;                             ///< trunk width
    int seperated_layer = 128;                          ///< head width (the original's spelling)
    std::string activation = "swish";                   ///< relu, relu6, tanh, swish
    double layer1_drop_ratio = 0.5;                     ///< trunk dropout
    std::vector<double> layer2_drop_ratio = {0.5, 0.5, 0.0};  ///< one dropout per head
};

/// `optimization.adam_param:` (also used by adamw).
struct adam_config {
    double lr = 1e-2;            ///< peak learning rate
    double weight_decay = 1e-7;  ///< L2 (adam) or decoupled (adamw) decay
};

/// `optimization.sgd_param:`
struct sgd_config {
    double lr = 1e-2;            ///< peak learning rate
    double weight_decay = 1e-7;  ///< L2 added to the gradient
    double momentum = 0.9;       ///< heavy-ball momentum
    bool nesterov = false;       ///< Nesterov momentum
};

/// `optimization.onecycle_scheduler:`
struct onecycle_config {
    double pct_start = 0.3;          ///< share of steps spent warming up
    double div_factor = 10;          ///< initial lr = max lr / div_factor
    double final_div_factor = 1e4;   ///< final lr = initial lr / final_div_factor
    double base_momentum = 0.85;     ///< momentum (beta1) at the lr peak
    double max_momentum = 0.95;      ///< momentum (beta1) at the start and end
};

/// `optimization:` training loop, loss, optimiser and schedule (docs/algorithm.md section 5).
struct optimization_config {
    int epoch = 200;                          ///< passes over the training split
    int batch_size = 128;                     ///< records per step
    std::string criterion = "smoothl1";       ///< mse, smoothl1, l1
    std::string optimizer = "adam";           ///< adam, adamw, sgd
    adam_config adam_param;                   ///< adam/adamw settings
    sgd_config sgd_param;                     ///< sgd settings
    std::string scheduler = "onecycle";       ///< exp, step, cosine, onecycle
    double exp_gamma = 0.97;                  ///< exp_scheduler.gamma (per epoch)
    std::vector<int> step_milestones = {30, 60, 90};  ///< step_scheduler.milestones (epochs)
    double step_gamma = 0.1;                  ///< step_scheduler.gamma
    onecycle_config onecycle_scheduler;       ///< onecycle settings (per batch)
    double cosine_eta_min = 0;                ///< cosine_scheduler.eta_min (per batch)
};

/// `editing:` the NCP search (docs/algorithm.md section 6).
struct editing_config {
    std::string model_path = "output/";  ///< folder holding `<dataset>/best_model.ckpt`
    int iters = 70;                      ///< gradient steps on the code
    double lr = 3;                       ///< SGD step on the z-scored code
    double per_step_increase = 0.1;      ///< target increase of the main metric per step (z-units)
    bool use_flops = true;               ///< add the FLOPs-decrease term
    double per_flops_decrease = 0.1;     ///< target decrease of predicted FLOPs per step (z-units)
    double alpha = 0.5;                  ///< weight of the FLOPs term
    double max_value_alpha = 4;          ///< upper bound = max_value / 2 * max_value_alpha
    double max_grad_decline = 0;         ///< kept for compatibility with the original configs (unused there too)
    std::string start;                   ///< the start code (empty: the all-64 code, or NAS-Bench-201's largest cell)
    int starts = 0;                      ///< N > 0: N seeded random valid start codes instead, searched as one batch
    std::string start_file;              ///< start codes, one per line; wins over start and starts
    int start_known = 0;                 ///< also start from the K best known records (the training data)
    double max_flops = 0;                ///< budget of the selected architecture's FLOPs in G (0: none)
    double max_params = 0;               ///< budget of its params in M (0: none)
    double budget_weight = 1;            ///< weight of the hinge on predicted FLOPs/params above the budgets
    std::string convention = "benchmark";  ///< FLOPs/params: benchmark (cls head, 50 classes) or segmentation (19)
    double kappa = 1;                    ///< selection penalty per unit of ensemble spread (z-units)
    bool guard = false;                  ///< select only what beats the best known record beyond the spread
    bool known_results = false;          ///< score visited known records by their stored results, not predictions
};

/// `ask:` the closed loop of `ncp ask` (docs/algorithm.md, section 8): the ensemble trained on the known results,
/// where proposals come from and how they are chosen.
struct ask_config {
    int members = 5;                  ///< ensemble members, trained with seeds derived from SEED
    std::string model = "best";       ///< each member's best (validation) or last model
    std::string acquisition = "ucb";  ///< ucb (mean + beta spread), ei (expected improvement) or mean
    double beta = 1;                  ///< ucb: weight of the ensemble's spread (z-units)
    int start_known = 10;             ///< NCP starts: the best known codes
    int random_starts = 0;            ///< NCP starts: this many random codes besides
    bool neighbours = true;           ///< also propose the one-step neighbours of the start_known best
    double clip = 0.5;                ///< main-metric targets below their clip-quantile are raised to it (0: off)
    int radius = 1;                   ///< diversity: a candidate is passed over while max_within proposals lie
    int max_within = 2;               ///< within radius grid steps (edges) of it
};

/// One run's configuration: every key of the original configs plus ncp's additions.
struct run_config {
    data_config data;                  ///< `data:`
    network_config network;            ///< `network:`
    optimization_config optimization;  ///< `optimization:`
    std::string log_dir = "output/";   ///< outputs go to `<log_dir>/<dataset>/`
    int log_interval = 50;             ///< batches between progress lines
    std::int64_t seed = 233;           ///< `SEED`: split, shuffling, dropout, initialisation
    int cuda_device = 0;               ///< `CUDA_DEVICE`
    editing_config editing;            ///< `editing:`
    ask_config ask;                    ///< `ask:`
};

namespace detail {

/// Calls `f(key, field)` for every configurable field under its dotted YAML key: the one schema that loading,
/// overriding and saving share.
template <class Config, class F>
void for_each_config_field(Config& c, F&& f) {
    f("data.dataset", c.data.dataset);
    f("data.metrics", c.data.metrics);
    f("data.root", c.data.root);
    f("data.path", c.data.path);
    f("data.subset", c.data.subset);
    f("data.subset_seed", c.data.subset_seed);
    f("network.input_dim", c.network.input_dim);
    f("network.shared_layer", c.network.shared_layer);
    f("network.seperated_layer", c.network.seperated_layer);
    f("network.activation", c.network.activation);
    f("network.layer1_drop_ratio", c.network.layer1_drop_ratio);
    f("network.layer2_drop_ratio", c.network.layer2_drop_ratio);
    auto& o = c.optimization;
    f("optimization.epoch", o.epoch);
    f("optimization.batch_size", o.batch_size);
    f("optimization.criterion", o.criterion);
    f("optimization.optimizer", o.optimizer);
    f("optimization.adam_param.lr", o.adam_param.lr);
    f("optimization.adam_param.weight_decay", o.adam_param.weight_decay);
    f("optimization.sgd_param.lr", o.sgd_param.lr);
    f("optimization.sgd_param.weight_decay", o.sgd_param.weight_decay);
    f("optimization.sgd_param.momentum", o.sgd_param.momentum);
    f("optimization.sgd_param.nesterov", o.sgd_param.nesterov);
    f("optimization.scheduler", o.scheduler);
    f("optimization.exp_scheduler.gamma", o.exp_gamma);
    f("optimization.step_scheduler.milestones", o.step_milestones);
    f("optimization.step_scheduler.gamma", o.step_gamma);
    f("optimization.onecycle_scheduler.pct_start", o.onecycle_scheduler.pct_start);
    f("optimization.onecycle_scheduler.div_factor", o.onecycle_scheduler.div_factor);
    f("optimization.onecycle_scheduler.final_div_factor", o.onecycle_scheduler.final_div_factor);
    f("optimization.onecycle_scheduler.base_momentum", o.onecycle_scheduler.base_momentum);
    f("optimization.onecycle_scheduler.max_momentum", o.onecycle_scheduler.max_momentum);
    f("optimization.cosine_scheduler.eta_min", o.cosine_eta_min);
    f("log_dir", c.log_dir);
    f("log_interval", c.log_interval);
    f("SEED", c.seed);
    f("CUDA_DEVICE", c.cuda_device);
    auto& e = c.editing;
    f("editing.model_path", e.model_path);
    f("editing.iters", e.iters);
    f("editing.lr", e.lr);
    f("editing.per_step_increase", e.per_step_increase);
    f("editing.use_flops", e.use_flops);
    f("editing.per_flops_decrease", e.per_flops_decrease);
    f("editing.alpha", e.alpha);
    f("editing.max_value_alpha", e.max_value_alpha);
    f("editing.max_grad_decline", e.max_grad_decline);
    f("editing.start", e.start);
    f("editing.starts", e.starts);
    f("editing.start_file", e.start_file);
    f("editing.start_known", e.start_known);
    f("editing.max_flops", e.max_flops);
    f("editing.max_params", e.max_params);
    f("editing.budget_weight", e.budget_weight);
    f("editing.convention", e.convention);
    f("editing.kappa", e.kappa);
    f("editing.guard", e.guard);
    f("editing.known_results", e.known_results);
    auto& a = c.ask;
    f("ask.members", a.members);
    f("ask.model", a.model);
    f("ask.acquisition", a.acquisition);
    f("ask.beta", a.beta);
    f("ask.start_known", a.start_known);
    f("ask.random_starts", a.random_starts);
    f("ask.neighbours", a.neighbours);
    f("ask.clip", a.clip);
    f("ask.radius", a.radius);
    f("ask.max_within", a.max_within);
}

/// Where a value came from, for messages: "configs/seg.yaml:12" or "--optimization.epoch".
inline std::string config_origin(const std::string& source, const YAML::Node& node) {
    const auto mark = node.Mark();
    return mark.is_null() ? source : source + ":" + std::to_string(mark.line + 1);
}

[[noreturn]] inline void config_type_error(const std::string& key, const std::string& origin,
                                           const std::string& expected) {
    throw error(origin + ": key '" + key + "' expects " + expected);
}

/// Reads one YAML scalar as T, with a message naming the key when it is not one.
template <class T>
T config_scalar(const YAML::Node& node, const std::string& key, const std::string& origin, const char* expected) {
    if (!node.IsScalar()) config_type_error(key, origin, expected);
    T value{};
    if (!YAML::convert<T>::decode(node, value)) config_type_error(key, origin, expected);
    return value;
}

inline void config_decode(const YAML::Node& n, const std::string& key, const std::string& origin, std::string& out) {
    out = n.IsNull() ? std::string() : config_scalar<std::string>(n, key, origin, "a string");
}

inline void config_decode(const YAML::Node& n, const std::string& key, const std::string& origin, bool& out) {
    out = config_scalar<bool>(n, key, origin, "true or false");
}

inline void config_decode(const YAML::Node& n, const std::string& key, const std::string& origin, int& out) {
    if (key == "network.input_dim" && n.IsScalar() && n.Scalar() == "AUTO") {
        out = 0;
        return;
    }
    out = config_scalar<int>(n, key, origin, key == "network.input_dim" ? "an integer or AUTO" : "an integer");
}

inline void config_decode(const YAML::Node& n, const std::string& key, const std::string& origin,
                          std::int64_t& out) {
    out = config_scalar<std::int64_t>(n, key, origin, "an integer");
}

inline void config_decode(const YAML::Node& n, const std::string& key, const std::string& origin, double& out) {
    out = config_scalar<double>(n, key, origin, "a number");
    if (!std::isfinite(out)) config_type_error(key, origin, "a finite number");
}

template <class T>
void config_decode(const YAML::Node& n, const std::string& key, const std::string& origin, std::vector<T>& out) {
    if (!n.IsSequence()) config_type_error(key, origin, "a list such as [a, b]");
    std::vector<T> values(n.size());
    for (std::size_t i = 0; i < n.size(); ++i)
        config_decode(n[i], key + "[" + std::to_string(i) + "]", origin, values[i]);
    out = std::move(values);
}

inline void config_encode(YAML::Emitter& out, const std::string& v) { out << YAML::DoubleQuoted << v; }
inline void config_encode(YAML::Emitter& out, bool v) { out << v; }
inline void config_encode(YAML::Emitter& out, int v) { out << v; }
inline void config_encode(YAML::Emitter& out, std::int64_t v) { out << v; }
inline void config_encode(YAML::Emitter& out, double v) {
    char buffer[32];  // shortest text that reads back to the same double
    const auto end = std::to_chars(buffer, buffer + sizeof buffer, v).ptr;
    out << std::string(buffer, end);
}
template <class T>
void config_encode(YAML::Emitter& out, const std::vector<T>& v) {
    out << YAML::Flow << YAML::BeginSeq;
    for (const auto& x : v) config_encode(out, x);
    out << YAML::EndSeq;
}

/// Walks a YAML map, assigning every leaf to its field; any key not in the schema is an error, and so is a key given
/// twice (YAML would let the later one win silently), also when once nested and once dotted: `seen` holds the full
/// keys met so far.
inline void apply_config_node(run_config& cfg, const YAML::Node& node, const std::string& prefix,
                              const std::string& source, std::set<std::string>& seen) {
    if (!node.IsMap()) {
        throw error(config_origin(source, node) + ": " + (prefix.empty() ? "the config" : "key '" + prefix + "'") +
                    " must be a mapping of keys");
    }
    for (const auto& item : node) {
        const std::string key = (prefix.empty() ? "" : prefix + ".") + item.first.as<std::string>();
        if (!seen.insert(key).second)
            throw error(config_origin(source, item.first) + ": key '" + key + "' appears twice");
        bool known = false;
        bool is_section = false;
        for_each_config_field(cfg, [&](std::string_view name, auto& field) {
            if (name == key) {
                config_decode(item.second, key, config_origin(source, item.second), field);
                known = true;
            } else if (name.starts_with(key + ".")) {
                is_section = true;
            }
        });
        if (known) continue;
        if (is_section && item.second.IsMap()) {
            apply_config_node(cfg, item.second, key, source, seen);
            continue;
        }
        if (is_section) throw error(config_origin(source, item.second) + ": key '" + key + "' must be a section");
        throw error(config_origin(source, item.first) + ": unknown key '" + key + "'");
    }
}

inline void require(bool ok, const std::string& key, const std::string& what) {
    if (!ok) throw error("config: key '" + key + "' " + what);
}

}  // namespace detail

/// Checks values that parse but make no sense, naming the key.
inline void validate(const run_config& c) {
    using detail::require;
    auto one_of = [](const std::string& v, std::initializer_list<const char*> options) {
        for (const char* o : options)
            if (v == o) return true;
        return false;
    };
    require(!c.data.dataset.empty(), "data.dataset", "must not be empty");
    require(!c.data.metrics.empty(), "data.metrics", "must name at least one group");
    std::set<std::string> seen;
    for (const auto& group : c.data.metrics) {
        require(!group.empty(), "data.metrics", "has an empty group");
        for (const auto& m : group) require(seen.insert(m).second, "data.metrics", "names '" + m + "' twice");
    }
    require(c.network.input_dim >= 0, "network.input_dim", "must be AUTO or positive");
    require(c.network.shared_layer > 0, "network.shared_layer", "must be positive");
    require(c.network.seperated_layer > 0, "network.seperated_layer", "must be positive");
    require(one_of(c.network.activation, {"relu", "relu6", "tanh", "swish"}), "network.activation",
            "must be one of relu, relu6, tanh, swish (got '" + c.network.activation + "')");
    require(c.network.layer1_drop_ratio >= 0 && c.network.layer1_drop_ratio < 1, "network.layer1_drop_ratio",
            "must be in [0, 1)");
    require(c.network.layer2_drop_ratio.size() == c.data.metrics.size(), "network.layer2_drop_ratio",
            "needs one value per metric group (" + std::to_string(c.data.metrics.size()) + ")");
    for (double p : c.network.layer2_drop_ratio)
        require(p >= 0 && p < 1, "network.layer2_drop_ratio", "values must be in [0, 1)");
    const auto& o = c.optimization;
    require(o.epoch > 0, "optimization.epoch", "must be positive");
    require(o.batch_size > 0, "optimization.batch_size", "must be positive");
    require(one_of(o.criterion, {"mse", "smoothl1", "l1"}), "optimization.criterion",
            "must be one of mse, smoothl1, l1 (got '" + o.criterion + "')");
    require(one_of(o.optimizer, {"adam", "adamw", "sgd"}), "optimization.optimizer",
            "must be one of adam, adamw, sgd (got '" + o.optimizer + "')");
    require(one_of(o.scheduler, {"exp", "step", "cosine", "onecycle"}), "optimization.scheduler",
            "must be one of exp, step, cosine, onecycle (got '" + o.scheduler + "')");
    require(o.adam_param.lr > 0, "optimization.adam_param.lr", "must be positive");
    require(o.sgd_param.lr > 0, "optimization.sgd_param.lr", "must be positive");
    require(o.adam_param.weight_decay >= 0, "optimization.adam_param.weight_decay", "must not be negative");
    require(o.sgd_param.weight_decay >= 0, "optimization.sgd_param.weight_decay", "must not be negative");
    require(o.sgd_param.momentum >= 0 && o.sgd_param.momentum < 1, "optimization.sgd_param.momentum",
            "must be in [0, 1)");
    require(!o.sgd_param.nesterov || o.sgd_param.momentum > 0, "optimization.sgd_param.nesterov",
            "needs a positive momentum");
    const auto& oc = o.onecycle_scheduler;
    require(oc.pct_start > 0 && oc.pct_start < 1, "optimization.onecycle_scheduler.pct_start", "must be in (0, 1)");
    require(oc.div_factor > 0, "optimization.onecycle_scheduler.div_factor", "must be positive");
    require(oc.final_div_factor > 0, "optimization.onecycle_scheduler.final_div_factor", "must be positive");
    require(oc.base_momentum >= 0 && oc.base_momentum <= oc.max_momentum && oc.max_momentum < 1,
            "optimization.onecycle_scheduler.base_momentum", "must satisfy 0 <= base_momentum <= max_momentum < 1");
    require(o.exp_gamma > 0, "optimization.exp_scheduler.gamma", "must be positive");
    require(o.step_gamma > 0, "optimization.step_scheduler.gamma", "must be positive");
    for (std::size_t i = 0; i < o.step_milestones.size(); ++i)
        require(o.step_milestones[i] > 0 && (i == 0 || o.step_milestones[i] > o.step_milestones[i - 1]),
                "optimization.step_scheduler.milestones", "must be positive and increasing");
    require(c.log_interval > 0, "log_interval", "must be positive");
    require(c.editing.iters >= 0, "editing.iters", "must not be negative");
    require(c.editing.lr > 0, "editing.lr", "must be positive");
    require(c.data.subset >= 0, "data.subset", "must not be negative (0 = every record)");
    require(c.data.subset_seed >= 0, "data.subset_seed", "must not be negative");
    const auto& e = c.editing;
    require(e.max_value_alpha >= 1 && e.max_value_alpha <= 4, "editing.max_value_alpha",
            "must be in [1, 4] (upper bounds max_value / 2 x alpha stay in the space of valid codes)");
    require(e.starts >= 0, "editing.starts", "must not be negative");
    require(e.start_known >= 0, "editing.start_known", "must not be negative");
    require(e.max_flops >= 0, "editing.max_flops", "must not be negative (0 = no budget)");
    require(e.max_params >= 0, "editing.max_params", "must not be negative (0 = no budget)");
    require(e.budget_weight >= 0, "editing.budget_weight", "must not be negative");
    require(e.kappa >= 0, "editing.kappa", "must not be negative");
    require(one_of(e.convention, {"benchmark", "segmentation"}), "editing.convention",
            "must be benchmark or segmentation (got '" + e.convention + "')");
    const auto& a = c.ask;
    require(a.members >= 1, "ask.members", "must be at least 1");
    require(one_of(a.model, {"best", "last"}), "ask.model", "must be best or last (got '" + a.model + "')");
    require(one_of(a.acquisition, {"ucb", "ei", "mean"}), "ask.acquisition",
            "must be one of ucb, ei, mean (got '" + a.acquisition + "')");
    require(a.beta >= 0, "ask.beta", "must not be negative");
    require(a.start_known >= 0, "ask.start_known", "must not be negative");
    require(a.random_starts >= 0, "ask.random_starts", "must not be negative");
    require(a.clip >= 0 && a.clip < 1, "ask.clip", "must be in [0, 1) (0: off)");
    require(a.radius >= 0, "ask.radius", "must not be negative (0: only distinct codes)");
    require(a.max_within >= 1, "ask.max_within", "must be at least 1");
}

/// Applies `--section.key value` pairs (the original's override syntax) on top of `cfg`. Each key must exist;
/// the value is read as YAML, so lists work too (`--data.metrics "[[mIoU], [flops, params]]"`).
inline void apply_overrides(run_config& cfg, std::span<const std::pair<std::string, std::string>> overrides) {
    for (const auto& [key, text] : overrides) {
        YAML::Node value;
        try {
            value = YAML::Load(text);
        } catch (const YAML::Exception& e) {
            throw error("--" + key + ": cannot read value '" + text + "': " + e.msg);
        }
        bool known = false;
        detail::for_each_config_field(cfg, [&](std::string_view name, auto& field) {
            if (name == key) {
                detail::config_decode(value, key, "--" + key, field);
                known = true;
            }
        });
        if (!known) throw error("--" + key + ": unknown config key '" + key + "'");
    }
}

/// Reads a YAML config file (keys absent from it keep ncp's defaults, which are the original's) and validates it.
inline run_config load_config(const std::filesystem::path& file,
                              std::span<const std::pair<std::string, std::string>> overrides = {}) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) throw error(file.string() + ": config file not found");
    if (std::filesystem::is_directory(file, ec)) throw error(file.string() + ": is a folder, not a config file");
    YAML::Node root;
    try {
        root = YAML::LoadFile(file.string());
    } catch (const YAML::Exception& e) {
        throw error(file.string() + ":" + std::to_string(e.mark.line + 1) + ": not valid YAML: " + e.msg);
    }
    run_config cfg;
    std::set<std::string> seen;
    if (!root.IsNull()) detail::apply_config_node(cfg, root, "", file.string(), seen);
    apply_overrides(cfg, overrides);
    validate(cfg);
    return cfg;
}

/// The config as YAML text with every key, readable by load_config (stored in checkpoints and logs).
inline std::string to_yaml(const run_config& cfg) {
    YAML::Emitter out;
    out << YAML::BeginMap;
    std::vector<std::string> open;  // sections currently open; the schema lists each section's keys together
    detail::for_each_config_field(cfg, [&](std::string_view name, const auto& field) {
        std::vector<std::string> parts;
        for (auto dot = name.find('.'); dot != std::string_view::npos; dot = name.find('.')) {
            parts.emplace_back(name.substr(0, dot));
            name.remove_prefix(dot + 1);
        }
        std::size_t common = 0;
        while (common < open.size() && common < parts.size() && open[common] == parts[common]) ++common;
        for (; open.size() > common; open.pop_back()) out << YAML::EndMap;
        for (; open.size() < parts.size(); open.push_back(parts[open.size()]))
            out << YAML::Key << parts[open.size()] << YAML::Value << YAML::BeginMap;
        out << YAML::Key << std::string(name) << YAML::Value;
        detail::config_encode(out, field);
    });
    for (; !open.empty(); open.pop_back()) out << YAML::EndMap;
    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

}  // namespace ncp::io

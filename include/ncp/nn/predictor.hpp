#pragma once
/// The multi-head predictor of NCP (docs/algorithm.md section 4): a trunk BatchNorm1d(in) -> Linear(in, shared) ->
/// BatchNorm1d(shared) -> activation -> Dropout, then one head per metric group, Linear(shared, separated) ->
/// BatchNorm1d -> activation -> Dropout -> Linear(separated, |group|), outputs concatenated in group order.
///
/// The model works on z-scored codes and metrics and carries the statistics, so `predict` takes codes and returns
/// metrics in original units. Parameter names follow the original's state_dict ("fc.1.weight", "nets.0.4.bias").

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ncp/nn/layers.hpp"
#include "ncp/parallel/thread_team.hpp"

namespace ncp::nn {

/// The predictor's shape: sizes, activation, dropouts, metric groups.
struct predictor_spec {
    index_t input_dim = 27;                               ///< code dimension
    index_t shared_layer = 256;                           ///< trunk width
    index_t separated_layer = 128;                        ///< head width
    activation_kind activation = activation_kind::swish;  ///< of trunk and heads
    double layer1_drop_ratio = 0.5;                       ///< trunk dropout
    std::vector<double> layer2_drop_ratio = {0.5, 0.5, 0.0};  ///< dropout of each head
    std::vector<std::vector<std::string>> metric_groups = {{"mIoU"}, {"mAcc", "aAcc"}, {"flops", "params"}};  ///< heads

    /// Outputs over all heads.
    index_t outputs() const {
        index_t n = 0;
        for (const auto& g : metric_groups) n += static_cast<index_t>(g.size());
        return n;
    }
    /// Parameters of the model: a double, so that estimates for absurd layer sizes do not overflow.
    double parameters() const {
        const auto in = static_cast<double>(input_dim), shared = static_cast<double>(shared_layer),
                   sep = static_cast<double>(separated_layer);
        double n = 2 * in + (in + 1) * shared + 2 * shared;  // batch norm, linear, batch norm
        for (const auto& g : metric_groups)
            n += (shared + 1) * sep + 2 * sep + (sep + 1) * static_cast<double>(g.size());  // linear, batch norm, linear
        return n;
    }
    /// Metric names in output order.
    std::vector<std::string> metric_names() const {
        std::vector<std::string> names;
        for (const auto& g : metric_groups) names.insert(names.end(), g.begin(), g.end());
        return names;
    }
    /// Throws naming what is inconsistent.
    void check() const {
        if (input_dim <= 0 || shared_layer <= 0 || separated_layer <= 0)
            throw error("predictor: layer sizes must be positive");
        if (metric_groups.empty()) throw error("predictor: needs at least one metric group");
        for (const auto& g : metric_groups)
            if (g.empty()) throw error("predictor: a metric group is empty");
        if (layer2_drop_ratio.size() != metric_groups.size())
            throw error("predictor: " + std::to_string(layer2_drop_ratio.size()) + " head dropouts for " +
                        std::to_string(metric_groups.size()) + " metric groups");
    }
};

/// Means and population standard deviations of the codes and of the metrics (output order).
struct normalisation {
    std::vector<double> input_mean, input_std;    ///< per code dimension
    std::vector<double> output_mean, output_std;  ///< per output

    /// Throws unless the sizes fit `spec` and every std is positive and finite.
    void check(const predictor_spec& spec) const {
        const auto fits = [](const std::vector<double>& v, index_t n) { return static_cast<index_t>(v.size()) == n; };
        if (!fits(input_mean, spec.input_dim) || !fits(input_std, spec.input_dim) ||
            !fits(output_mean, spec.outputs()) || !fits(output_std, spec.outputs()))
            throw error("predictor: normalisation statistics do not fit " + std::to_string(spec.input_dim) +
                        " inputs and " + std::to_string(spec.outputs()) + " outputs");
        for (const auto* v : {&input_mean, &output_mean})
            for (double x : *v)
                if (!std::isfinite(x)) throw error("predictor: a normalisation mean is not finite");
        for (const auto* v : {&input_std, &output_std})
            for (double x : *v)
                if (!(x > 0 && std::isfinite(x))) throw error("predictor: a normalisation std is not positive");
    }

    /// Code dimension i's `value` z-scored, as the model takes it.
    double code_z(std::size_t i, double value) const { return (value - input_mean[i]) / input_std[i]; }
    /// Output q's `value` (original units) z-scored, as the model gives it.
    double output_z(std::size_t q, double value) const { return (value - output_mean[q]) / output_std[q]; }
    /// Output q in original units from the model's z-scored `z`.
    double output_value(std::size_t q, double z) const { return z * output_std[q] + output_mean[q]; }
};

template <class T = float, class Backend = default_backend>
class predictor {
public:
    /// BatchNorm1d -> Linear -> BatchNorm1d -> activation -> Dropout.
    using trunk_type = sequential<batch_norm1d<T, Backend>, linear<T, Backend>, batch_norm1d<T, Backend>,
                                  activation<T, Backend>, dropout<T, Backend>>;
    /// Linear -> BatchNorm1d -> activation -> Dropout -> Linear.
    using head_type = sequential<linear<T, Backend>, batch_norm1d<T, Backend>, activation<T, Backend>,
                                 dropout<T, Backend>, linear<T, Backend>>;

    /// A freshly initialised model; `seed` fixes the initial weights and the dropout streams.
    predictor(predictor_spec spec, normalisation stats, std::uint64_t seed)
        : m_spec((spec.check(), std::move(spec))), m_stats(std::move(stats)), m_trunk(make_trunk(m_spec, seed)) {
        m_stats.check(m_spec);
        for (std::size_t g = 0; g < m_spec.metric_groups.size(); ++g) {
            const std::uint64_t s0 = layer_seed(seed, 2 + 3 * g), s1 = layer_seed(seed, 3 + 3 * g),
                                s2 = layer_seed(seed, 4 + 3 * g);
            m_heads.emplace_back(
                linear<T, Backend>(m_spec.shared_layer, m_spec.separated_layer, s0),
                batch_norm1d<T, Backend>(m_spec.separated_layer), activation<T, Backend>(m_spec.activation),
                dropout<T, Backend>(static_cast<T>(m_spec.layer2_drop_ratio[g]), s1),
                linear<T, Backend>(m_spec.separated_layer, static_cast<index_t>(m_spec.metric_groups[g].size()), s2));
        }
    }

    /// z-scored codes [batch, input_dim] -> z-scored metrics [batch, outputs].
    var<T, Backend> forward(const var<T, Backend>& x) {
        if (x.cols() != m_spec.input_dim)
            throw error("predictor: input has " + std::to_string(x.cols()) + " columns, the model takes " +
                        std::to_string(m_spec.input_dim));
        const var<T, Backend> h = m_trunk.forward(x);
        std::vector<var<T, Backend>> outs;
        outs.reserve(m_heads.size());
        for (auto& head : m_heads) outs.push_back(head.forward(h));
        if (outs.size() == 1) return outs.front();
        return autograd::concat_cols(std::span<const var<T, Backend>>(outs));
    }

    /// Training or evaluation mode for every layer.
    void train(bool on) {
        m_training = on;
        m_trunk.train(on);
        for (auto& h : m_heads) h.train(on);
    }
    bool training() const { return m_training; }

    /// f(name, parameter&) for every parameter in the original's state_dict order and names.
    template <class F>
    void for_each_parameter(F&& f) {
        m_trunk.for_each_parameter(f, "fc.");
        for (std::size_t g = 0; g < m_heads.size(); ++g)
            m_heads[g].for_each_parameter(f, "nets." + std::to_string(g) + ".");
    }
    /// f(name, tensor&) for every batch-norm running statistic.
    template <class F>
    void for_each_buffer(F&& f) {
        m_trunk.for_each_buffer(f, "fc.");
        for (std::size_t g = 0; g < m_heads.size(); ++g)
            m_heads[g].for_each_buffer(f, "nets." + std::to_string(g) + ".");
    }

    /// Metrics in original units for codes in original units (rows of `codes`, row-major, input_dim each), in
    /// evaluation mode without recording gradients. Returns rows x outputs values, row-major. The rows go through the
    /// model in chunks of about predict_rows (chunk_count), so that a chunk's activations stay in cache and their
    /// memory does not grow with the request; on the CPU up to `threads` threads (at least 1; more than chunks are
    /// not started) take the chunks. The chunks do not depend on `threads`, so neither do the results. It switches
    /// the model to evaluation mode for the call: calls on one model must not overlap.
    std::vector<double> predict(std::span<const double> codes, int threads = parallel::hardware_threads()) {
        const auto d = static_cast<std::size_t>(m_spec.input_dim);
        const auto o = static_cast<std::size_t>(m_spec.outputs());
        if (codes.size() % d != 0)
            throw error("predictor: " + std::to_string(codes.size()) + " values are not whole codes of " +
                        std::to_string(d));
        if (threads < 1)
            throw error("predictor: predict needs at least one thread (got " + std::to_string(threads) + ")");
        const std::size_t n = codes.size() / d;
        if (n == 0) return {};
        const evaluation_mode mode(*this);
        std::vector<double> out(n * o);
        const std::size_t chunks = chunk_count(n);
        // What a thread reuses from chunk to chunk.
        struct worker {
            autograd::tape<T, Backend> tape;  ///< the chunk's forward pass
            Tensor<T, Backend> input;         ///< its z-scored codes
            std::vector<T> z;                 ///< the same on the host
        };
        // A device backend runs on one host thread.
        const int members = ncp::detail::kernels<Backend>::host_accessible
                                 ? static_cast<int>(std::min(static_cast<std::size_t>(threads), chunks))
                                 : 1;
        std::vector<worker> workers(static_cast<std::size_t>(members));
        parallel::thread_team(members).for_each(chunks, [&](std::size_t c, int rank) {
            const autograd::no_grad scope;  // per thread
            worker& w = workers[static_cast<std::size_t>(rank)];
            const std::size_t first = c * n / chunks, rows = (c + 1) * n / chunks - first;
            w.z.resize(rows * d);
            for (std::size_t i = 0; i < w.z.size(); ++i) {
                w.z[i] = static_cast<T>(m_stats.code_z(i % d, codes[first * d + i]));
                if (!std::isfinite(w.z[i]))  // NaN, or beyond T's range once z-scored: every output would be NaN
                    throw error("predictor: code " + std::to_string(first + i / d) + ", value " +
                                std::to_string(i % d) + " (" + number_text(codes[first * d + i]) +
                                ") is out of the model's range");
            }
            w.input.resize(static_cast<index_t>(rows), m_spec.input_dim);
            w.input.copy_from_host(w.z);
            w.tape.clear();
            const std::vector<T> raw = forward(w.tape.input(w.input)).value().to_host();
            double* dest = out.data() + first * o;
            for (std::size_t i = 0; i < raw.size(); ++i) {
                dest[i] = m_stats.output_value(i % o, static_cast<double>(raw[i]));
                if (!std::isfinite(dest[i]))
                    throw error("predictor: the prediction for code " + std::to_string(first + i / o) +
                                " is not finite (its values lie far outside the model's training data)");
            }
        });
        return out;
    }

    /// About how many rows predict() runs through the model at a time: on the CPU 256 (256 rows of the widest layer,
    /// 256 features, are 256 KB, which stay in a core's L2 cache); on a device 65536 (few launches a row, and 64 MB
    /// a layer).
    static constexpr std::size_t predict_rows = ncp::detail::kernels<Backend>::host_accessible ? 256 : 65536;
    /// Chunks predict() cuts n rows into: as many as predict_rows needs, the rows shared out evenly (chunk c holds
    /// rows [c n / chunks, (c + 1) n / chunks)), so that no chunk is small: beyond predict_rows rows every chunk holds
    /// at least half as many. With ncp's AVX-512 float products a row then gets the bits of one pass over all rows;
    /// Eigen's and cuBLAS's products may block by the row count, so there a row's last bits depend on its chunk
    /// (never on the threads).
    static std::size_t chunk_count(std::size_t n) {
        return std::max<std::size_t>(1, (n + predict_rows - 1) / predict_rows);
    }

    const predictor_spec& spec() const { return m_spec; }
    const normalisation& stats() const { return m_stats; }
    trunk_type& trunk() { return m_trunk; }
    std::vector<head_type>& heads() { return m_heads; }

private:
    /// Evaluation mode for a scope: the mode the model had comes back when it ends, also by an exception.
    class evaluation_mode {
    public:
        explicit evaluation_mode(predictor& model) : m_model(model), m_was_training(model.training()) {
            model.train(false);
        }
        evaluation_mode(const evaluation_mode&) = delete;
        evaluation_mode& operator=(const evaluation_mode&) = delete;
        ~evaluation_mode() { m_model.train(m_was_training); }

    private:
        predictor& m_model;   ///< the model
        bool m_was_training;  ///< its mode before
    };

    /// The seed of the model's i-th seeded layer (splitmix64 of seed and i): layers draw unrelated streams.
    static std::uint64_t layer_seed(std::uint64_t seed, std::uint64_t i) {
        std::uint64_t z = seed + (i + 1) * 0x9e3779b97f4a7c15ULL;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }

    static trunk_type make_trunk(const predictor_spec& spec, std::uint64_t seed) {
        return trunk_type(batch_norm1d<T, Backend>(spec.input_dim),
                          linear<T, Backend>(spec.input_dim, spec.shared_layer, layer_seed(seed, 0)),
                          batch_norm1d<T, Backend>(spec.shared_layer), activation<T, Backend>(spec.activation),
                          dropout<T, Backend>(static_cast<T>(spec.layer1_drop_ratio), layer_seed(seed, 1)));
    }

    predictor_spec m_spec;
    normalisation m_stats;
    trunk_type m_trunk;
    std::vector<head_type> m_heads;
    bool m_training = true;
};

}  // namespace ncp::nn

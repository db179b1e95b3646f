#pragma once
/// Training the predictor as the original's tools/train_predictor.py does: z-scoring with the whole file's
/// statistics, the seeded 80/20 split, batches reshuffled every epoch, the configured loss, optimiser and schedule
/// (onecycle and cosine stepped per batch, exp and step per epoch), and after every epoch the validation MAE per
/// metric in original units; the best (lowest main-metric MAE) and last models are kept, and the best one's rank
/// correlations reported. Outputs: checkpoints, metrics.json, split.json, train.log.
///
/// Every backend trains through the tape (nn::predictor::forward, the loss, backward, the optimiser's update). On
/// the CPU a batch is cut into row blocks (row_blocks_for) that a team of threads shares out, one tape per thread
/// (autograd/row_split.hpp): the blocks, not the threads, fix the arithmetic, so the results are the same bits for
/// any number of threads, which may therefore change from epoch to epoch (options::adapt_threads). A device backend
/// steps whole batches on one host thread.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <random>
#include <span>
#include <sstream>
#include <unordered_map>
#include <string>
#include <variant>
#include <vector>

#include "ncp/arch/model_code.hpp"
#include "ncp/data/dataset.hpp"
#include "ncp/data/format.hpp"
#include "ncp/data/statistics.hpp"
#include "ncp/io/atomic.hpp"
#include "ncp/io/checkpoint.hpp"
#include "ncp/io/config.hpp"
#include "ncp/io/json.hpp"
#include "ncp/nn/loss.hpp"
#include "ncp/nn/predictor.hpp"
#include "ncp/optim/optimizers.hpp"
#include "ncp/optim/schedulers.hpp"
#include "ncp/parallel/memory.hpp"
#include "ncp/parallel/thread_team.hpp"

namespace ncp::train {

/// One epoch's numbers.
struct epoch_summary {
    int epoch = 0;                ///< 0-based
    double train_loss = 0;        ///< mean training loss over the epoch's batches (z-scored units)
    double lr = 0;                ///< learning rate of the epoch's last step
    std::vector<double> val_mae;  ///< validation MAE per metric, original units
};

/// Handed to the progress callback after every epoch.
struct progress {
    const epoch_summary& last;  ///< the epoch just finished
    int epochs;                 ///< epochs in the run
    int best_epoch;             ///< epoch of the best model so far
    double best_mae;            ///< its main-metric MAE
    double elapsed_s;           ///< seconds since training started
};

/// Handed to the batch callback every `log_interval` batches within an epoch (not after its last batch: the epoch
/// callback reports that one).
struct batch_progress {
    int epoch;              ///< 0-based
    int epochs;             ///< epochs in the run
    std::int64_t batch;     ///< batches of this epoch done so far
    std::int64_t batches;   ///< batches per epoch
    double mean_loss;       ///< mean training loss of those batches (z-scored units)
    double elapsed_s;       ///< seconds since training started
};

/// How to train, besides the config.
struct options {
    /// Threads stepping a batch on the CPU, at least 1 (more than row_blocks_for(batch size) are not used); the
    /// results do not depend on it. Device backends use one.
    int threads = parallel::hardware_threads();
    bool adapt_threads = false;  ///< run epochs on one thread while that is faster (a busy machine)
    /// Called once the config, data and sizes are checked, before the first epoch (may be empty): a program's
    /// header line then follows the errors of its input instead of preceding them.
    std::function<void()> on_start = {};
    std::function<void(const progress&)> on_epoch = {};  ///< called after every epoch (may be empty)
    /// Called every config `log_interval` batches within an epoch, on the calling thread (may be empty).
    std::function<void(const batch_progress&)> on_batch = {};
};

/// Everything a training run produced.
struct result {
    std::vector<std::string> metric_names;  ///< output order
    std::vector<epoch_summary> epochs;      ///< one per epoch
    int best_epoch = -1;                    ///< epoch of the best model
    std::vector<double> kendall_tau;        ///< best model on the validation split, per metric (NaN if undefined)
    std::vector<double> spearman_rho;       ///< likewise
    data::split_indices split;              ///< record indices of both parts
    std::uint64_t seed = 0;                 ///< the config's SEED
    int threads = 1;                        ///< threads that stepped the batches
    int epochs_on_one_thread = 0;           ///< epochs adapt_threads ran on one of several threads
    std::int64_t steps = 0;                 ///< optimiser steps
    double train_s = 0;                     ///< the epoch loop, validation included
    double wall_s = 0;                      ///< train_predictor as a whole (statistics, split, model, loop)
    io::model_record best;                  ///< the best model
    io::model_record last;                  ///< the model after the last epoch

    /// Training time per optimiser step, validation included, as the PyTorch peer reports it.
    double ms_per_step() const { return steps > 0 ? 1e3 * train_s / static_cast<double>(steps) : 0; }
};

/// The benchmark file a config names: data.path when set, else <data.root>/<data.dataset>/trainval.bin.
inline std::filesystem::path data_file(const io::run_config& cfg) {
    if (!cfg.data.path.empty()) return cfg.data.path;
    return std::filesystem::path(cfg.data.root) / cfg.data.dataset / "trainval.bin";
}

/// The records of a benchmark of `records` that a config trains on: data.subset of them drawn with
/// data.subset_seed (ascending), or all.
inline std::vector<std::size_t> training_records(const io::run_config& cfg, std::size_t records) {
    if (cfg.data.subset == 0) {
        std::vector<std::size_t> all(records);
        for (std::size_t i = 0; i < records; ++i) all[i] = i;
        return all;
    }
    if (static_cast<std::size_t>(cfg.data.subset) > records)
        throw error("data.subset is " + std::to_string(cfg.data.subset) + " but " + data_file(cfg).string() +
                    " holds " + std::to_string(records) + " records");
    return data::random_subset(records, static_cast<std::size_t>(cfg.data.subset),
                               static_cast<std::uint64_t>(cfg.data.subset_seed));
}

/// The records of `b` that a config trains on: data.subset of them (training_records), or all.
inline data::benchmark training_data(const io::run_config& cfg, data::benchmark b) {
    if (cfg.data.subset == 0) return b;
    return data::select_records(b, training_records(cfg, b.size()));
}

/// Loads the config's benchmark file, whole (`subset` false) or the records it trains on (data.subset); a missing
/// file is an error naming it and how to create it.
inline data::benchmark load_data(const io::run_config& cfg, bool subset = true) {
    const auto file = data_file(cfg);
    std::error_code ec;
    if (!std::filesystem::exists(file, ec))
        throw error(file.string() + ": benchmark file not found; convert the setting's pickle first: /usr/bin/python3 "
                    "scripts/convert_pkl.py <NAS-Bench-MR>/" + cfg.data.dataset + "/trainval.pkl " + file.string() +
                    " (or set data.path)");
    data::benchmark b = data::load_benchmark(file);
    if (!subset) return b;
    return training_data(cfg, std::move(b));
}

/// The config training on its main metric alone (the first name of data.metrics, one head with that head's
/// dropout): what a predictor fitted to one column of results, the main metric, trains on.
inline io::run_config main_metric_only(io::run_config cfg) {
    cfg.data.metrics = {{cfg.data.metrics.at(0).at(0)}};
    cfg.network.layer2_drop_ratio = {cfg.network.layer2_drop_ratio.at(0)};
    io::validate(cfg);
    return cfg;
}

namespace detail {

/// The config's optimiser over the step's parameters, on `Backend`.
template <class Backend = default_backend>
using optimizer = std::variant<optim::adam<float, Backend>, optim::sgd<float, Backend>>;

template <class Backend = default_backend>
optimizer<Backend> make_optimizer(const io::optimization_config& o, std::vector<optim::parameter<float>> params) {
    if (o.optimizer == "sgd")
        return optim::sgd<float, Backend>(std::move(params), {.lr = o.sgd_param.lr,
                                                              .momentum = o.sgd_param.momentum,
                                                              .weight_decay = o.sgd_param.weight_decay,
                                                              .nesterov = o.sgd_param.nesterov});
    return optim::adam<float, Backend>(std::move(params), {.lr = o.adam_param.lr,
                                                           .weight_decay = o.adam_param.weight_decay,
                                                           .decoupled = o.optimizer == "adamw"});
}

/// The config's schedule; total_steps counts batches over all epochs (onecycle, cosine).
inline optim::scheduler make_scheduler(const io::optimization_config& o, double lr, std::int64_t total_steps) {
    if (o.scheduler == "onecycle") {
        const auto& c = o.onecycle_scheduler;
        return optim::one_cycle({.max_lr = lr,
                                 .total_steps = total_steps,
                                 .pct_start = c.pct_start,
                                 .div_factor = c.div_factor,
                                 .final_div_factor = c.final_div_factor,
                                 .base_momentum = c.base_momentum,
                                 .max_momentum = c.max_momentum});
    }
    if (o.scheduler == "cosine") return optim::cosine_annealing(lr, total_steps, o.cosine_eta_min);
    if (o.scheduler == "exp") return optim::exponential(lr, o.exp_gamma);
    return optim::multi_step(lr, std::vector<std::int64_t>(o.step_milestones.begin(), o.step_milestones.end()),
                             o.step_gamma);
}

/// The predictor's shape from the config and the benchmark's code dimension.
inline nn::predictor_spec make_spec(const io::run_config& cfg, const data::benchmark& b) {
    const auto dim = static_cast<index_t>(b.code_dim());
    if (cfg.network.input_dim != 0 && cfg.network.input_dim != dim)
        throw error("network.input_dim is " + std::to_string(cfg.network.input_dim) + " but " + b.setting +
                    " codes have " + std::to_string(dim) + " dimensions (use AUTO)");
    nn::predictor_spec spec;
    spec.input_dim = dim;
    spec.shared_layer = cfg.network.shared_layer;
    spec.separated_layer = cfg.network.seperated_layer;
    spec.activation = nn::parse_activation(cfg.network.activation);
    spec.layer1_drop_ratio = cfg.network.layer1_drop_ratio;
    spec.layer2_drop_ratio = cfg.network.layer2_drop_ratio;
    spec.metric_groups = cfg.data.metrics;
    spec.check();
    return spec;
}

}  // namespace detail

/// Bytes train_predictor(cfg, b) holds, about: the model's parameters eight times (values, gradients, the
/// optimiser's two moments, the row split's sums, the best and last records), a batch's activations and their
/// gradients, the records z-scored. A double, so that absurd layer sizes do not overflow. Compared with the host's
/// memory on every backend (on a device the activations live in its memory, which this does not check). Throws as
/// train_predictor does for a network that does not fit b.
inline double memory_estimate(const io::run_config& cfg, const data::benchmark& b) {
    const nn::predictor_spec spec = detail::make_spec(cfg, b);
    double row = 2 * static_cast<double>(spec.input_dim) + 6 * static_cast<double>(spec.shared_layer);
    for (const auto& g : spec.metric_groups)
        row += 6 * static_cast<double>(spec.separated_layer) + 2 * static_cast<double>(g.size());
    const double codes_and_targets = static_cast<double>(spec.input_dim + spec.outputs());
    return sizeof(float) * (8 * spec.parameters() + 2 * row * static_cast<double>(cfg.optimization.batch_size) +
                            3 * codes_and_targets * static_cast<double>(b.size()));
}

namespace detail {

/// Picks the thread count of each epoch when adapting: all `threads` (results do not depend on it) unless the last
/// epochs showed one thread to be faster, as on a machine where other processes hold the cores. It times one
/// thread for epoch 1, then again (at most every 10 epochs) when all got slower than their best by a third or no
/// longer beat one by a quarter; while on one thread it tries all every 10 epochs.
class thread_chooser {
public:
    thread_chooser(int threads, bool adapt) : m_threads(threads), m_adapt(adapt && threads > 1) {}
    /// Threads for epoch `epoch`.
    int next(int epoch) {
        if (!m_adapt) return m_threads;
        if (epoch == 1) return probe(epoch, 1);
        const bool slowed = m_last_many > 1.33 * m_best_many || m_last_many > 0.8 * m_last_one;
        if (m_current == m_threads && slowed && epoch - m_probed >= 10) return probe(epoch, 1);
        if (m_current == 1 && epoch - m_probed >= 10) return probe(epoch, m_threads);
        return m_current;
    }
    /// The epoch that ran on `threads` took `seconds` (its training part).
    void record(int threads, double seconds) {
        if (threads == 1) {
            m_last_one = seconds;
        } else {
            m_last_many = seconds;
            m_best_many = std::min(m_best_many, seconds);
        }
        if (m_probing) m_current = m_last_one < m_last_many ? 1 : m_threads;
        m_probing = false;
    }

private:
    int probe(int epoch, int threads) {
        m_probed = epoch;
        m_probing = true;
        return threads;
    }
    int m_threads;
    bool m_adapt;
    int m_current = m_threads;
    bool m_probing = false;
    int m_probed = -1000;
    double m_last_one = std::numeric_limits<double>::infinity();
    double m_last_many = std::numeric_limits<double>::infinity();
    double m_best_many = std::numeric_limits<double>::infinity();
};

/// A portable Fisher-Yates shuffle (data::uniform_below, not std::shuffle, whose draws differ between libraries).
inline void shuffle(std::vector<std::size_t>& v, std::mt19937_64& gen) {
    for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[data::uniform_below(gen, i)]);
}

}  // namespace detail

/// Row blocks of a CPU training batch of `rows` rows: blocks of at least min_block_rows rows, at most max_blocks.
/// The results depend on it (through the order of the sums over rows), not on the thread count.
inline constexpr index_t min_block_rows = 64;
inline constexpr index_t max_blocks = 16;
inline index_t row_blocks_for(index_t rows) { return std::clamp<index_t>(rows / min_block_rows, 1, max_blocks); }

namespace detail {

/// Training through the tape on `Backend` (see the header comment): per batch, every member of a thread team
/// records the model's forward pass and the loss on its rows, runs backward, and after a barrier sums its share of
/// the parameters' gradients over the blocks and applies the optimiser's update to it. On a device backend one
/// member steps whole batches. Buffers (tapes, batches, the row split's) are reused: once every batch size has
/// been seen, the backend allocates nothing.
template <class Backend>
class tape_training {
public:
    using tensor = Tensor<float, Backend>;
    using kernels = ncp::detail::kernels<Backend>;
    /// Whether batches are row-split over host threads (else whole, on one).
    static constexpr bool split = kernels::host_accessible;

    /// Batches of up to `batch` records of x (`dim` codes a row) and y (`outputs` targets a row), z-scored,
    /// row-major; `xv` the validation codes; `threads` and `adapt` as options::threads and adapt_threads.
    tape_training(nn::predictor<float, Backend>& model, index_t batch, int threads, bool adapt, nn::loss_kind loss,
                  std::span<const float> x, std::span<const float> y, std::span<const float> xv, index_t dim,
                  index_t outputs)
        : m_model(model),
          m_loss(loss),
          m_x(x),
          m_y(y),
          m_dim(dim),
          m_outputs(outputs),
          m_xv(tensor::from_host(xv, static_cast<index_t>(xv.size()) / dim, dim)),
          m_team(team_size(threads, batch)),
          m_split(m_team),
          m_members(static_cast<std::size_t>(m_team.size())),
          m_chooser(m_team.size(), adapt),
          m_active(m_team.size()) {
        model.for_each_parameter([&](const std::string&, autograd::parameter<float, Backend>& p) {
            // The optimiser keeps the gradient's address; backward and the row split reuse a buffer of this size.
            p.grad.resize_like(p.value);
            p.grad.fill(0.0f);
            m_index.emplace(&p, m_params.size());
            m_params.push_back({p.value.data(), p.grad.data(), p.value.size()});
        });
    }

    /// Values and gradients of the model's parameters, in for_each_parameter order, for the optimiser.
    std::vector<optim::parameter<float>> parameters() const { return m_params; }
    /// Threads stepping the batches.
    int threads() const { return m_team.size(); }
    /// Sum of the current epoch's losses of batches [0, count); from epoch()'s `after` callback, batches done only.
    double loss_sum(index_t count) {
        m_host_losses.resize(static_cast<std::size_t>(count));
        kernels::to_host(count, m_losses.data(), m_host_losses.data());
        double sum = 0;
        for (const float l : m_host_losses) sum += l;
        return sum;
    }
    /// Epochs run on one thread of several (options::adapt_threads).
    int epochs_on_one_thread() const { return m_one_thread_epochs; }

    /// Trains epoch `epoch` on `order` (record indices) in batches of `batch`: per batch the optimiser's step,
    /// then after(k) on the calling thread. Returns the sum of the batch losses.
    template <class Optimizer, class After>
    double epoch(int epoch, std::span<const std::size_t> order, index_t batch, Optimizer& opt, After&& after) {
        const auto n = static_cast<index_t>(order.size());
        stage(order);
        const index_t batches = (n + batch - 1) / batch;
        m_losses.resize(batches);
        m_active = m_chooser.next(epoch);
        m_one_thread_epochs += m_active == 1 && m_team.size() > 1;
        const auto start = std::chrono::steady_clock::now();
        m_team.run([&](int rank) {
            member& w = m_members[static_cast<std::size_t>(rank)];
            for (index_t k = 0; k < batches; ++k) {
                m_team.barrier();  // the previous batch's updates are done
                if (rank == 0) {
                    if (k > 0) after(k - 1);
                    opt.begin_step();
                }
                const index_t first = k * batch, rows = std::min(batch, n - first);
                const autograd::row_blocks layout{rows, split ? row_blocks_for(rows) : 1};
                w.tape.clear();
                index_t mine = rows, offset = first;
                if constexpr (split) {
                    const auto share = m_split.share(rank, layout);
                    w.tape.set_split(share);
                    mine = share.rows();
                    offset += share.first_row();
                }
                w.x.resize(mine, m_dim);
                kernels::copy(mine * m_dim, m_epoch_x.data() + offset * m_dim, w.x.data());
                w.y.resize(mine, m_outputs);
                kernels::copy(mine * m_outputs, m_epoch_y.data() + offset * m_outputs, w.y.data());
                const auto loss = nn::loss(m_loss, m_model.forward(w.tape.input(w.x)), w.tape.input(w.y));
                w.tape.backward(loss);
                if constexpr (split) {
                    m_team.barrier();  // every member's per-block gradients are in
                    if (rank == 0) {
                        m_split.finish_batch();
                        kernels::copy(1, loss.value().data(), m_losses.data() + k);
                    }
                    m_split.reduce_gradients(rank, w.tape.split_leaves(), layout.blocks,
                                             [&](autograd::parameter<float, Backend>& p, index_t begin, index_t end) {
                                                 opt.update(m_index.at(&p), begin, end);
                                             });
                } else {
                    kernels::copy(1, loss.value().data(), m_losses.data() + k);
                    for (std::size_t i = 0; i < m_params.size(); ++i) opt.update(i, 0, m_params[i].size);
                }
            }
            m_team.barrier();
            if (rank == 0) after(batches - 1);
            w.tape.clear();
        }, m_active);
        m_chooser.record(m_active, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        return loss_sum(batches);
    }

    /// z-scored predictions of the validation codes (the model in evaluation mode) into `pred`: chunks of
    /// eval_rows records shared out over the threads (rows are independent in evaluation).
    void evaluate(std::span<float> pred) {
        const index_t n = m_xv.rows();
        const index_t chunk = split ? eval_rows : std::max<index_t>(n, 1);
        const index_t chunks = (n + chunk - 1) / chunk;
        m_team.run([&](int rank) {
            member& w = m_members[static_cast<std::size_t>(rank)];
            const autograd::no_grad scope;  // per thread
            w.tape.clear();
            w.tape.clear_split();
            for (index_t c = rank; c < chunks; c += m_active) {
                const index_t first = c * chunk, rows = std::min(chunk, n - first);
                w.x.resize(rows, m_dim);
                kernels::copy(rows * m_dim, m_xv.data() + first * m_dim, w.x.data());
                w.tape.clear();
                const auto out = m_model.forward(w.tape.input(w.x));
                kernels::to_host(rows * m_outputs, out.value().data(), pred.data() + first * m_outputs);
            }
            w.tape.clear();
        }, m_active);
    }

private:
    /// Validation records per evaluation chunk on the CPU.
    static constexpr index_t eval_rows = 128;

    /// One thread's tape and its rows of the current batch.
    struct member {
        autograd::tape<float, Backend> tape;  ///< this thread's graph
        tensor x, y;                          ///< its rows: codes and targets
    };

    /// Threads for `threads` requested and batches of up to `batch` rows (see options::threads).
    static int team_size(int threads, index_t batch) {
        if (threads < 1) throw error("training: threads must be at least 1 (got " + std::to_string(threads) + ")");
        if constexpr (!split) return 1;
        return static_cast<int>(std::min<index_t>(threads, row_blocks_for(batch)));
    }

    /// The epoch's records in batch order on the backend (one upload).
    void stage(std::span<const std::size_t> order) {
        const auto d = static_cast<std::size_t>(m_dim), o = static_cast<std::size_t>(m_outputs);
        m_host_x.resize(order.size() * d);
        m_host_y.resize(order.size() * o);
        for (std::size_t i = 0; i < order.size(); ++i) {
            std::copy_n(m_x.begin() + static_cast<std::ptrdiff_t>(order[i] * d), d,
                        m_host_x.begin() + static_cast<std::ptrdiff_t>(i * d));
            std::copy_n(m_y.begin() + static_cast<std::ptrdiff_t>(order[i] * o), o,
                        m_host_y.begin() + static_cast<std::ptrdiff_t>(i * o));
        }
        const auto n = static_cast<index_t>(order.size());
        m_epoch_x.resize(n, m_dim);
        m_epoch_x.copy_from_host(m_host_x);
        m_epoch_y.resize(n, m_outputs);
        m_epoch_y.copy_from_host(m_host_y);
    }

    nn::predictor<float, Backend>& m_model;     ///< trained in place
    nn::loss_kind m_loss;                       ///< the criterion
    std::span<const float> m_x, m_y;            ///< every record, z-scored, on the host
    index_t m_dim, m_outputs;                   ///< code and target widths
    tensor m_xv;                                ///< validation codes
    std::vector<optim::parameter<float>> m_params;  ///< the optimiser's view of the model
    std::unordered_map<const autograd::parameter<float, Backend>*, std::size_t> m_index;  ///< into m_params
    std::vector<float> m_host_x, m_host_y;      ///< an epoch's records in batch order, before the upload
    std::vector<float> m_host_losses;           ///< batch losses read back
    tensor m_epoch_x, m_epoch_y;                ///< the same on the backend
    tensor m_losses;                            ///< the epoch's batch losses
    parallel::thread_team m_team;               ///< the threads stepping the batches
    autograd::row_split<float, Backend> m_split;  ///< what they share
    std::vector<member> m_members;              ///< one per thread
    thread_chooser m_chooser;                   ///< threads per epoch
    int m_active;                               ///< threads of the current epoch
    int m_one_thread_epochs = 0;                ///< epochs the chooser ran on one thread
};

}  // namespace detail

/// Trains the predictor `cfg` describes on benchmark `b` (see the header comment) on `Backend`. Deterministic for a
/// given config and backend: the same seed gives the same split, batches, masks and weights, with any number of
/// threads. Other backends agree with the CPU's results to float rounding, not bit for bit (they step whole
/// batches, the CPU row blocks). Calls on different models may run concurrently (on threads of the caller's).
template <class Backend = default_backend>
result train_predictor(const io::run_config& cfg, const data::benchmark& b, const options& opt = {}) {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    const auto& o = cfg.optimization;
    const nn::predictor_spec spec = detail::make_spec(cfg, b);
    for (std::size_t r = 0; r < b.size(); ++r) {  // a predictor of invalid codes would be searched from them
        try {
            arch::check_code(std::span<const double>(&b.codes(r, 0), b.code_dim()));
        } catch (const error& e) {
            throw error("benchmark '" + b.setting + "' record " + std::to_string(r) + ": " + e.what());
        }
    }
    parallel::require_memory(memory_estimate(cfg, b),
                             "the training's buffers (" + std::to_string(spec.shared_layer) + " shared and " +
                                 std::to_string(spec.separated_layer) + " separated units, batches of " +
                                 std::to_string(o.batch_size) + ")",
                             "a smaller network.shared_layer, network.seperated_layer or optimization.batch_size");
    const auto groups = data::metric_groups(b, cfg.data.metrics);
    const xt::xtensor<double, 2> targets = data::select_metrics(b, groups);
    const auto code_stats = data::column_stats(b.codes);
    const auto target_stats = data::column_stats(targets);
    const std::size_t n = b.size(), d = b.code_dim(), m = targets.shape(1);

    nn::normalisation stats{{code_stats.mean.begin(), code_stats.mean.end()},
                            {code_stats.std.begin(), code_stats.std.end()},
                            {target_stats.mean.begin(), target_stats.mean.end()},
                            {target_stats.std.begin(), target_stats.std.end()}};
    // z-scored inputs and targets, float, row-major
    std::vector<float> x(n * d), y(n * m);
    for (std::size_t r = 0; r < n; ++r) {
        for (std::size_t c = 0; c < d; ++c) x[r * d + c] = static_cast<float>(stats.code_z(c, b.codes(r, c)));
        for (std::size_t c = 0; c < m; ++c) y[r * m + c] = static_cast<float>(stats.output_z(c, targets(r, c)));
    }

    result res;
    res.metric_names = spec.metric_names();
    res.seed = static_cast<std::uint64_t>(cfg.seed);
    res.split = data::train_validation_split(n, res.seed);
    const auto& train_rows = res.split.train;
    const auto& val_rows = res.split.validation;
    const auto batch = static_cast<index_t>(o.batch_size);
    if (batch < 2) throw error("optimization.batch_size must be at least 2 (batch norm needs two records)");
    if (train_rows.size() % static_cast<std::size_t>(batch) == 1)
        throw error("optimization.batch_size " + std::to_string(batch) + " leaves a last batch of one record of the " +
                    std::to_string(train_rows.size()) + " training records (batch norm needs two); choose another");
    const auto batches = static_cast<std::int64_t>((train_rows.size() + static_cast<std::size_t>(batch) - 1) /
                                                   static_cast<std::size_t>(batch));

    // validation inputs gathered once; truth in original units
    const std::size_t nv = val_rows.size();
    std::vector<float> xv(nv * d), pred(nv * m), best_pred;
    for (std::size_t i = 0; i < nv; ++i)
        std::copy_n(x.begin() + static_cast<std::ptrdiff_t>(val_rows[i] * d), d,
                    xv.begin() + static_cast<std::ptrdiff_t>(i * d));

    nn::predictor<float, Backend> model(spec, std::move(stats), res.seed);
    model.train(true);
    detail::tape_training<Backend> training(model, std::min<index_t>(batch, static_cast<index_t>(train_rows.size())),
                                            opt.threads, opt.adapt_threads, nn::parse_loss(o.criterion), x, y, xv,
                                            static_cast<index_t>(d), static_cast<index_t>(m));
    res.threads = training.threads();
    auto optimizer = detail::make_optimizer<Backend>(o, training.parameters());
    const double base_lr = o.optimizer == "sgd" ? o.sgd_param.lr : o.adam_param.lr;
    optim::scheduler schedule = detail::make_scheduler(o, base_lr, batches * o.epoch);
    const bool per_batch = o.scheduler == "onecycle" || o.scheduler == "cosine";
    std::visit([&](auto& opt_) { optim::set_rates(opt_, schedule); }, optimizer);

    const std::string config_yaml = io::to_yaml(cfg);

    std::vector<std::size_t> order = train_rows;
    std::mt19937_64 shuffler(res.seed ^ 0x5851f42d4c957f2dULL);  // batches: a stream apart from the split's
    double best_mae = std::numeric_limits<double>::infinity();
    if (opt.on_start) opt.on_start();
    const auto loop_start = clock::now();
    for (int epoch = 0; epoch < o.epoch; ++epoch) {
        detail::shuffle(order, shuffler);
        const double loss_sum = std::visit(
            [&](auto& opt_) {
                return training.epoch(epoch, order, batch, opt_, [&](index_t k) {
                    if (per_batch) {
                        optim::advance(schedule);
                        optim::set_rates(opt_, schedule);
                    }
                    const std::int64_t done = k + 1;
                    if (opt.on_batch && done < batches && done % cfg.log_interval == 0)
                        opt.on_batch({epoch, o.epoch, done, batches,
                                      training.loss_sum(static_cast<index_t>(done)) / static_cast<double>(done),
                                      std::chrono::duration<double>(clock::now() - loop_start).count()});
                });
            },
            optimizer);
        epoch_summary summary;
        summary.epoch = epoch;
        summary.train_loss = loss_sum / static_cast<double>(batches);
        summary.lr = std::visit([](const auto& opt_) { return opt_.lr(); }, optimizer);
        if (!per_batch) {
            optim::advance(schedule);
            std::visit([&](auto& opt_) { optim::set_rates(opt_, schedule); }, optimizer);
        }
        res.steps += batches;

        model.train(false);
        training.evaluate(pred);
        model.train(true);
        summary.val_mae.assign(m, 0.0);
        for (std::size_t i = 0; i < nv; ++i)
            for (std::size_t c = 0; c < m; ++c) {
                const double p = model.stats().output_value(c, static_cast<double>(pred[i * m + c]));
                summary.val_mae[c] += std::abs(p - targets(val_rows[i], c));
            }
        for (double& v : summary.val_mae) v /= static_cast<double>(nv);
        if (!std::isfinite(summary.val_mae[0]))
            throw error("training diverged: the validation error of " + res.metric_names[0] +
                        " is not finite at epoch " + std::to_string(epoch) + " (lower the learning rate)");
        if (summary.val_mae[0] < best_mae) {
            best_mae = summary.val_mae[0];
            res.best_epoch = epoch;
            res.best = io::make_record(model, b.setting, epoch, config_yaml);
            best_pred = pred;
        }
        res.epochs.push_back(summary);
        if (opt.on_epoch) {
            opt.on_epoch({res.epochs.back(), o.epoch, res.best_epoch, best_mae,
                          std::chrono::duration<double>(clock::now() - loop_start).count()});
        }
    }
    res.train_s = std::chrono::duration<double>(clock::now() - loop_start).count();
    res.epochs_on_one_thread = training.epochs_on_one_thread();
    res.last = io::make_record(model, b.setting, o.epoch - 1, config_yaml);

    std::vector<double> p(nv), t(nv);
    for (std::size_t c = 0; c < m; ++c) {
        for (std::size_t i = 0; i < nv; ++i) {
            p[i] = model.stats().output_value(c, static_cast<double>(best_pred[i * m + c]));
            t[i] = targets(val_rows[i], c);
        }
        res.kendall_tau.push_back(data::kendall_tau_b(p, t));
        res.spearman_rho.push_back(data::spearman_rho(p, t));
    }
    res.wall_s = std::chrono::duration<double>(clock::now() - start).count();
    return res;
}

/// metrics.json: per-epoch validation MAE (original units), train loss and lr; the best epoch with its MAE, Kendall
/// tau and Spearman rho per metric on the validation split; timings.
inline std::string metrics_json(const result& r, const io::run_config& cfg) {
    std::ostringstream out;
    io::json_writer j(out);
    auto per_metric = [&](const char* key, const std::vector<double>& values) {
        j.key(key).begin_object();
        for (std::size_t i = 0; i < r.metric_names.size(); ++i) {
            j.key(r.metric_names[i]);
            if (std::isfinite(values[i])) {
                j.value(values[i]);
            } else {
                j.null();  // undefined (a constant prediction or metric)
            }
        }
        j.end_object();
    };
    j.begin_object();
    j.member("setting", cfg.data.dataset).member("seed", r.seed).member("threads", r.threads);
    j.member("epochs_on_one_thread", r.epochs_on_one_thread);
    j.key("metrics").array(r.metric_names);
    j.member("train_records", r.split.train.size()).member("val_records", r.split.validation.size());
    j.key("epochs").begin_array();
    for (const auto& e : r.epochs) {
        j.begin_object().member("epoch", e.epoch).member("train_loss", e.train_loss).member("lr", e.lr);
        per_metric("val_mae", e.val_mae);
        j.end_object();
    }
    j.end_array();
    j.member("best_epoch", r.best_epoch);
    per_metric("best_val_mae", r.epochs.at(static_cast<std::size_t>(r.best_epoch)).val_mae);
    per_metric("kendall_tau", r.kendall_tau);
    per_metric("spearman_rho", r.spearman_rho);
    j.member("steps", r.steps)
        .member("train_s", r.train_s)
        .member("wall_s", r.wall_s)
        .member("ms_per_step", r.ms_per_step());
    j.end_object();
    out << "\n";
    return out.str();
}

/// split.json: {"seed": ..., "train": [...], "val": [...]} (record indices, in split order).
inline std::string split_json(const result& r) {
    std::ostringstream out;
    io::json_writer j(out, false);
    j.begin_object().member("seed", r.seed);
    j.key("train").array(r.split.train);
    j.key("val").array(r.split.validation);
    j.end_object();
    out << "\n";
    return out.str();
}

/// Writes best_model.ckpt, last_model.ckpt, metrics.json, split.json and train.log (`log`) into `dir`, each
/// atomically; creates `dir`.
inline void write_outputs(const result& r, const io::run_config& cfg, const std::filesystem::path& dir,
                          const std::string& log) {
    io::make_output_folder(dir);
    io::save_checkpoint(dir / "best_model.ckpt", r.best);
    io::save_checkpoint(dir / "last_model.ckpt", r.last);
    io::atomic_write(dir / "metrics.json", metrics_json(r, cfg));
    io::atomic_write(dir / "split.json", split_json(r));
    io::atomic_write(dir / "train.log", log);
}

}  // namespace ncp::train

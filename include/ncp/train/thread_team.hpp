#pragma once
/// A fixed team of threads for one training run: the caller is member 0, the others are started once and wait
/// for work, so a training step costs no thread creation, only a few barriers. Waiting spins briefly, then sleeps
/// (std::atomic::wait), so a team on a busy machine does not burn the cores it waits for.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif

#include "ncp/config.hpp"

namespace ncp::train {

namespace detail {

/// Tells the CPU this is a spin-wait loop (lets the sibling hyper-thread run).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(_M_X64)
    _mm_pause();
#endif
}

/// Waits until `word` differs from `seen`: spins a few microseconds, then sleeps until notified.
inline void wait_for_change(const std::atomic<std::uint32_t>& word, std::uint32_t seen) {
    for (int i = 0; i < 4096; ++i) {
        if (word.load(std::memory_order_acquire) != seen) return;
        cpu_relax();
    }
    while (word.load(std::memory_order_acquire) == seen) word.wait(seen, std::memory_order_acquire);
}

}  // namespace detail

/// `size()` threads running one job at a time; see the header comment.
class thread_team {
public:
    /// A team of `threads` members (at least 1); members 1.. are started here.
    explicit thread_team(int threads) : m_size(threads) {
        if (threads < 1) throw error("thread team: needs at least one thread (got " + std::to_string(threads) + ")");
        for (int rank = 1; rank < threads; ++rank) m_workers.emplace_back([this, rank] { work(rank); });
    }
    thread_team(const thread_team&) = delete;
    thread_team& operator=(const thread_team&) = delete;
    ~thread_team() {
        m_stop = true;
        publish();
        for (auto& w : m_workers) w.join();
    }

    /// Number of members.
    int size() const { return m_size; }

    /// Runs job(rank) on every member, the caller being rank 0, and returns when all have finished. The job must
    /// not throw (a member that throws ends the program: the others could wait for it forever at a barrier).
    void run(const std::function<void(int)>& job) {
        m_job = &job;
        publish();
        execute(0);
        barrier();
        m_job = nullptr;
    }

    /// Runs job(i, rank) for every i in [0, count), handing out the indices to the members as they come free; the
    /// first exception a job throws stops the handing out and is rethrown here once every member has finished.
    template <class Job>
    void for_each(std::size_t count, Job&& job) {
        std::atomic<std::size_t> next{0};
        std::atomic<bool> failed{false};
        std::exception_ptr first;
        run([&](int rank) {
            for (std::size_t i = next.fetch_add(1); i < count && !failed.load(); i = next.fetch_add(1)) {
                try {
                    job(i, rank);
                } catch (...) {
                    if (!failed.exchange(true)) first = std::current_exception();
                }
            }
        });
        if (first) std::rethrow_exception(first);
    }

    /// Inside a job: returns once every member has reached this barrier.
    void barrier() {
        if (m_size == 1) return;
        const std::uint32_t generation = m_barrier_generation.load(std::memory_order_acquire);
        if (m_arrived.fetch_add(1, std::memory_order_acq_rel) + 1 == m_size) {
            m_arrived.store(0, std::memory_order_relaxed);
            m_barrier_generation.store(generation + 1, std::memory_order_release);
            m_barrier_generation.notify_all();
        } else {
            detail::wait_for_change(m_barrier_generation, generation);
        }
    }

private:
    void publish() {
        m_job_generation.fetch_add(1, std::memory_order_acq_rel);
        m_job_generation.notify_all();
    }

    void execute(int rank) noexcept { (*m_job)(rank); }

    void work(int rank) {
        std::uint32_t seen = 0;
        for (;;) {
            detail::wait_for_change(m_job_generation, seen);
            seen = m_job_generation.load(std::memory_order_acquire);
            if (m_stop) return;
            execute(rank);
            barrier();
        }
    }

    int m_size;
    std::vector<std::thread> m_workers;
    const std::function<void(int)>* m_job = nullptr;
    std::atomic<bool> m_stop{false};
    std::atomic<std::uint32_t> m_job_generation{0};
    std::atomic<std::uint32_t> m_barrier_generation{0};
    std::atomic<int> m_arrived{0};
};

}  // namespace ncp::train

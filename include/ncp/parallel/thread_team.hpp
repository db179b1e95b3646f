#pragma once
/// A fixed team of threads: the caller is member 0, the others are started once and wait for work, so a job costs
/// no thread creation, only a wake-up and the barriers it uses. Waiting spins briefly, then sleeps
/// (std::atomic::wait), so a team on a busy machine does not burn the cores it waits for.
///
/// A job that throws behaves as on one thread: run() rethrows the first exception thrown, once every member has
/// left the job. Members waiting at a barrier, or reaching one later, leave the job too (the barrier throws an
/// exception of the team's own, which run() swallows), so no member waits forever for the one that failed.
///
/// `spin_lock` guards the short critical sections that members of a job enter together (the row split's buffers).

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ncp/config.hpp"

namespace ncp::parallel {

namespace detail {

/// Tells the CPU this is a spin-wait loop (lets the sibling hyper-thread run). The builtin, not _mm_pause: the
/// intrinsics headers must first be included where backend/eigen_cpu.hpp silences GCC 12's warnings about them.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/// Pauses a waiting loop spins for before it sleeps: about 0.1 ms (27 ns a pause on Zen 4, 30-40 on recent Intel
/// cores), longer than the members of an evenly shared training step keep one another waiting, short enough not to
/// burn for long the core of a member that the scheduler took off its own.
inline constexpr int spin_pauses = 4096;

/// Waits until `word` differs from `seen`: spins (spin_pauses), then sleeps until notified.
inline void wait_for_change(const std::atomic<std::uint32_t>& word, std::uint32_t seen) {
    for (int i = 0; i < spin_pauses; ++i) {
        if (word.load(std::memory_order_acquire) != seen) return;
        cpu_relax();
    }
    while (word.load(std::memory_order_acquire) == seen) word.wait(seen, std::memory_order_acquire);
}

}  // namespace detail

/// A lock for critical sections of a few instructions that the members of a team enter at the same moment (they
/// run in step): waiting spins, then yields, where std::mutex would put the loser to sleep and pay a system call
/// to wake it. Meets the Lockable requirements (std::lock_guard).
class spin_lock {
public:
    void lock() noexcept {
        int spins = 0;
        while (m_locked.exchange(true, std::memory_order_acquire)) {
            while (m_locked.load(std::memory_order_relaxed)) {
                if (spins < detail::spin_pauses) {
                    detail::cpu_relax();
                    ++spins;
                } else {
                    std::this_thread::yield();
                }
            }
        }
    }
    [[nodiscard]] bool try_lock() noexcept { return !m_locked.exchange(true, std::memory_order_acquire); }
    void unlock() noexcept { m_locked.store(false, std::memory_order_release); }

private:
    std::atomic<bool> m_locked{false};  ///< held
};

/// The machine's hardware threads (at least 1): the default thread count of the library and the programs.
inline int hardware_threads() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

/// `size()` threads running one job at a time; see the header comment.
class thread_team {
public:
    /// A team of `threads` members (at least 1); members 1.. are started here. Where the system refuses a thread,
    /// the ones started stop again and the error names the count.
    explicit thread_team(int threads) : m_size(threads), m_active(threads) {
        if (threads < 1) throw error("thread team: needs at least one thread (got " + std::to_string(threads) + ")");
        try {
            m_workers.reserve(static_cast<std::size_t>(threads - 1));
            for (int rank = 1; rank < threads; ++rank) m_workers.emplace_back([this, rank] { work(rank); });
        } catch (const std::exception& e) {
            stop();  // destroying joinable threads would end the program
            throw error("thread team: cannot start " + std::to_string(threads) + " threads (" + e.what() + ")");
        }
    }
    thread_team(const thread_team&) = delete;
    thread_team& operator=(const thread_team&) = delete;
    ~thread_team() { stop(); }

    /// Number of members.
    int size() const { return m_size; }

    /// Members taking part in the current job (run's `members`); all of them between jobs.
    int active() const { return m_active; }

    /// Runs job(rank) on every member, the caller being rank 0, and returns when all have left it. When jobs
    /// throw, the first exception thrown is rethrown here (see the header comment).
    void run(const std::function<void(int)>& job) { run(job, m_size); }
    /// The same on members [0, members) only: barriers wait for those (the others skip the job).
    void run(const std::function<void(int)>& job, int members) {
        if (members < 1 || members > m_size)
            throw error("thread team: cannot run on " + std::to_string(members) + " of " + std::to_string(m_size) +
                        " members");
        m_job = &job;
        m_active = members;
        m_failed.store(false, std::memory_order_relaxed);
        m_finished.store(0, std::memory_order_relaxed);
        publish();
        execute(0);
        // Every member acknowledges the job, taking part or not: none can still be reading it when the next starts.
        const auto others = static_cast<std::uint32_t>(m_size - 1);
        for (std::uint32_t done; (done = m_finished.load(std::memory_order_acquire)) != others;)
            detail::wait_for_change(m_finished, done);
        m_arrived.store(0, std::memory_order_relaxed);  // a failed job may leave members counted at a barrier
        m_job = nullptr;
        m_active = m_size;
        if (std::exception_ptr e = std::exchange(m_error, nullptr)) std::rethrow_exception(e);
    }

    /// Runs job(i, rank) for every i in [0, count), handing out the indices to the members as they come free (so
    /// what a job writes must depend on i alone, not on rank or order); the first exception a job throws stops the
    /// handing out and is rethrown here once every member has finished.
    template <class Job>
    void for_each(std::size_t count, Job&& job) {
        std::atomic<std::size_t> next{0};
        run([&](int rank) {
            for (std::size_t i = next.fetch_add(1); i < count; i = next.fetch_add(1)) {
                try {
                    job(i, rank);
                } catch (...) {
                    next.store(count);
                    throw;
                }
            }
        });
    }

    /// Inside a job: returns once every member has reached this barrier. After another member's job threw, it
    /// throws instead (an exception run() catches), which ends this member's job.
    void barrier() {
        if (m_active == 1) return;
        // The generation is read before the failure flag: a failure that comes later changes the generation.
        const std::uint32_t generation = m_barrier_generation.load(std::memory_order_acquire);
        if (m_failed.load(std::memory_order_acquire)) throw cancelled{};
        if (m_arrived.fetch_add(1, std::memory_order_acq_rel) + 1 == m_active) {
            m_arrived.store(0, std::memory_order_relaxed);
            m_barrier_generation.fetch_add(1, std::memory_order_acq_rel);
            m_barrier_generation.notify_all();
        } else {
            detail::wait_for_change(m_barrier_generation, generation);
            if (m_failed.load(std::memory_order_acquire)) throw cancelled{};
        }
    }

private:
    /// What barrier() throws once a member failed; not an std::exception, so callers' handlers let it pass.
    struct cancelled {};

    void publish() {
        m_job_generation.fetch_add(1, std::memory_order_acq_rel);
        m_job_generation.notify_all();
    }

    /// Ends the members' threads.
    void stop() noexcept {
        m_stop = true;
        publish();
        for (auto& w : m_workers) w.join();
    }

    void execute(int rank) noexcept {
        try {
            (*m_job)(rank);
        } catch (const cancelled&) {
            // another member failed first; run() rethrows its exception
        } catch (...) {
            fail(std::current_exception());
        }
    }

    /// Keeps the first exception and wakes the members waiting at a barrier.
    void fail(std::exception_ptr e) noexcept {
        {
            const std::lock_guard<std::mutex> lock(m_error_mutex);
            if (!m_error) m_error = std::move(e);
        }
        m_failed.store(true, std::memory_order_release);
        m_barrier_generation.fetch_add(1, std::memory_order_acq_rel);
        m_barrier_generation.notify_all();
    }

    void work(int rank) {
        std::uint32_t seen = 0;
        for (;;) {
            detail::wait_for_change(m_job_generation, seen);
            seen = m_job_generation.load(std::memory_order_acquire);
            if (m_stop) return;
            if (rank < m_active) execute(rank);
            m_finished.fetch_add(1, std::memory_order_acq_rel);
            m_finished.notify_all();
        }
    }

    int m_size;                                             ///< members, the caller included
    int m_active;                                           ///< members taking part in the current job
    std::vector<std::thread> m_workers;                     ///< members 1..
    const std::function<void(int)>* m_job = nullptr;        ///< the job being run
    std::atomic<bool> m_stop{false};                        ///< set by the destructor
    std::atomic<std::uint32_t> m_job_generation{0};         ///< bumped per job (and to stop)
    std::atomic<std::uint32_t> m_barrier_generation{0};     ///< bumped per completed barrier and per failure
    std::atomic<int> m_arrived{0};                          ///< members at the current barrier
    std::atomic<std::uint32_t> m_finished{0};               ///< members 1.. done with (or skipping) the current job
    std::atomic<bool> m_failed{false};                      ///< a member's job threw
    std::mutex m_error_mutex;                               ///< guards m_error
    std::exception_ptr m_error;                             ///< the first exception thrown in the current job
};

}  // namespace ncp::parallel

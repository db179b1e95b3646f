/// The thread team: every member runs each job, a barrier orders what members write and read, and an exception
/// thrown in a job reaches the caller of run() as on one thread, without leaving members waiting at a barrier; the
/// spin lock excludes members that contend for it in step.

#include <doctest/doctest.h>

#include <atomic>
#include <cstddef>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "ncp/parallel/thread_team.hpp"

using ncp::parallel::thread_team;

TEST_CASE("barriers order writes between members, over many jobs") {
    for (int threads : {1, 2, 3, 4}) {
        CAPTURE(threads);
        thread_team team(threads);
        CHECK(team.size() == threads);
        std::vector<int> slot(static_cast<std::size_t>(threads), -1);
        std::atomic<int> mismatches{0};
        for (int job = 0; job < 100; ++job) {
            team.run([&](int rank) {
                for (int phase = 0; phase < 4; ++phase) {
                    slot[static_cast<std::size_t>(rank)] = job * 4 + phase;
                    team.barrier();
                    for (int other = 0; other < threads; ++other)
                        if (slot[static_cast<std::size_t>(other)] != job * 4 + phase) ++mismatches;
                    team.barrier();
                }
            });
        }
        CHECK(mismatches == 0);
        for (int v : slot) CHECK(v == 99 * 4 + 3);  // run() returns after every member finished
    }
    CHECK_THROWS_AS(thread_team(0), ncp::error);
}

TEST_CASE("a job on some of the members: barriers wait for those only, the others skip it") {
    thread_team team(4);
    for (int members : {1, 2, 3, 4, 2}) {
        CAPTURE(members);
        std::vector<int> ran(4, 0);
        std::atomic<int> seen{0};
        team.run(
            [&](int rank) {
                CHECK(team.active() == members);
                ran[static_cast<std::size_t>(rank)] = 1;
                team.barrier();
                for (int r = 0; r < members; ++r) seen += ran[static_cast<std::size_t>(r)];
            },
            members);
        CHECK(seen == members * members);  // after the barrier every taking part member had run
        for (int r = 0; r < 4; ++r) CHECK(ran[static_cast<std::size_t>(r)] == (r < members ? 1 : 0));
        CHECK(team.active() == 4);
    }
    CHECK_THROWS_WITH_AS(team.run([](int) {}, 5), "thread team: cannot run on 5 of 4 members", ncp::error);
}

TEST_CASE("an exception thrown in a job reaches the caller, and the team stays usable") {
    for (int threads : {1, 2, 4}) {
        CAPTURE(threads);
        thread_team team(threads);
        for (int thrower = 0; thrower < threads; ++thrower) {
            CAPTURE(thrower);
            // The thrower fails between two barriers; the others wait at the second one, or reach it later.
            std::atomic<int> after_failure{0};
            CHECK_THROWS_WITH_AS(team.run([&](int rank) {
                team.barrier();
                if (rank == thrower) throw ncp::error("member " + std::to_string(rank) + " failed");
                team.barrier();
                team.barrier();
                ++after_failure;
            }),
                                 ("member " + std::to_string(thrower) + " failed").c_str(), ncp::error);
            CHECK(after_failure == 0);  // nobody passed a barrier the thrower never reached
            // Other exception types come through unchanged.
            CHECK_THROWS_AS(team.run([&](int rank) {
                if (rank == thrower) throw std::out_of_range("index");
            }),
                            std::out_of_range);
            // Afterwards the barriers work as before.
            std::atomic<int> sum{0};
            team.run([&](int rank) {
                sum += rank;
                team.barrier();
                team.barrier();
            });
            CHECK(sum == threads * (threads - 1) / 2);
        }
    }
}

TEST_CASE("when several members throw, run() rethrows the first exception thrown") {
    thread_team team(4);
    // Member 1 throws at once; the others throw their own exceptions only once the barrier gave up on member 1,
    // that is, strictly later.
    CHECK_THROWS_WITH_AS(team.run([&](int rank) {
        if (rank == 1) throw std::runtime_error("first");
        try {
            team.barrier();
        } catch (...) {
            throw std::runtime_error("later");
        }
    }),
                         "first", std::runtime_error);
}

TEST_CASE("for_each hands out every index once, whatever the team's size; a throwing job stops it") {
    for (int threads : {1, 2, 3}) {
        CAPTURE(threads);
        thread_team team(threads);
        for (std::size_t count : {0u, 1u, 5u, 1000u}) {
            CAPTURE(count);
            std::vector<std::atomic<int>> visits(count);
            std::vector<int> by_rank(static_cast<std::size_t>(threads));
            team.for_each(count, [&](std::size_t i, int rank) {
                ++visits[i];
                ++by_rank[static_cast<std::size_t>(rank)];  // each member writes its own slot
            });
            for (std::size_t i = 0; i < count; ++i) CHECK(visits[i] == 1);
            int total = 0;
            for (int n : by_rank) total += n;
            CHECK(total == static_cast<int>(count));
        }
        // Index 3 throws: the exception reaches the caller, and no index is handed out after it (on one thread,
        // none after 3; on more, the others finish only what they took before).
        std::atomic<int> ran{0};
        CHECK_THROWS_WITH_AS(team.for_each(1000, [&](std::size_t i, int) {
            if (i == 3) throw ncp::error("index 3 failed");
            ++ran;
        }),
                             "index 3 failed", ncp::error);
        if (threads == 1) CHECK(ran == 3);
        std::atomic<int> after{0};
        team.for_each(10, [&](std::size_t, int) { ++after; });
        CHECK(after == 10);
    }
}

TEST_CASE("spin_lock: members entering at the same moment never overlap") {
    for (int threads : {2, 4}) {
        ncp::parallel::thread_team team(threads);
        ncp::parallel::spin_lock lock;
        long long counter = 0;  // not atomic: only the lock orders the increments
        int inside = 0;
        bool overlapped = false;
        constexpr int rounds = 20000;
        team.run([&](int) {
            for (int i = 0; i < rounds; ++i) {
                const std::lock_guard<ncp::parallel::spin_lock> guard(lock);
                overlapped = overlapped || ++inside != 1;
                ++counter;
                --inside;
            }
        });
        CAPTURE(threads);
        CHECK_FALSE(overlapped);
        CHECK(counter == static_cast<long long>(rounds) * threads);
        CHECK(lock.try_lock());
        CHECK_FALSE(lock.try_lock());
        lock.unlock();
    }
}

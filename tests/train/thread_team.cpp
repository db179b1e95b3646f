/// The thread team: every member runs each job, and a barrier orders what members write and read.

#include <doctest/doctest.h>

#include <atomic>
#include <vector>

#include "ncp/train/thread_team.hpp"

TEST_CASE("barriers order writes between members, over many jobs") {
    for (int threads : {1, 2, 3}) {
        ncp::train::thread_team team(threads);
        CHECK(team.size() == threads);
        std::vector<int> slot(threads, -1);
        std::atomic<int> mismatches{0};
        for (int job = 0; job < 100; ++job) {
            team.run([&](int rank) {
                for (int phase = 0; phase < 4; ++phase) {
                    slot[rank] = job * 4 + phase;
                    team.barrier();
                    for (int other = 0; other < threads; ++other)
                        if (slot[other] != job * 4 + phase) ++mismatches;
                    team.barrier();
                }
            });
        }
        CHECK(mismatches == 0);
        for (int v : slot) CHECK(v == 99 * 4 + 3);  // run() returns after every member finished
    }
    CHECK_THROWS_AS(ncp::train::thread_team(0), ncp::error);
}

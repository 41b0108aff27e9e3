// Tests of aio/barrier.hpp: arrival indices, rounds, abort, reset, cancellation of a wait.
#include "support.hpp"

#include <aio/barrier.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

using aio_test::join;
using aio_test::yield_until;

/// A task that waits at the barrier once and records "<name> <index>", "<name> broken" or
/// "<name> cancelled".
aio::task<void> arrive(aio::barrier& b, std::vector<std::string>& events, int& arrived,
                       std::string name) {
    return aio::create_task([&b, &events, &arrived, name]() -> aio::awaitable<void> {
        ++arrived;
        try {
            std::size_t index = co_await b.wait();
            events.push_back(name + " " + std::to_string(index));
        } catch (const aio::broken_barrier_error&) {
            events.push_back(name + " broken");
        } catch (const aio::cancelled_error&) {
            events.push_back(name + " cancelled");
        }
    });
}

} // namespace

TEST_CASE("wait returns arrival indices and the last arrival lets everyone through") {
    std::vector<std::string> events;
    std::size_t waiting_before_last = 0;
    std::size_t waiting_after = 99;
    std::size_t parties = 0;
    int ran = 0;
    int ran_after_last = -1;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::barrier b(3);
        parties = b.parties();
        int arrived = 0;
        auto first = arrive(b, events, arrived, "a");
        co_await yield_until(arrived, 1);
        auto second = arrive(b, events, arrived, "b");
        co_await yield_until(arrived, 2);
        co_await aio::sleep(0s);
        waiting_before_last = b.n_waiting();
        auto other = aio::create_task([&]() -> aio::awaitable<void> {
            ++ran;
            co_return;
        });
        std::size_t index = co_await b.wait(); // the last arrival does not wait
        ran_after_last = ran;
        events.push_back("main " + std::to_string(index));
        waiting_after = b.n_waiting();
        co_await first();
        co_await second();
        co_await other();
    });
    CHECK(parties == 3);
    CHECK(waiting_before_last == 2);
    CHECK(ran_after_last == 0);
    CHECK(waiting_after == 0);
    CHECK(join(events) == "main 2|a 0|b 1");
}

TEST_CASE("a barrier is reused round after round") {
    std::vector<std::string> events;
    bool broken = true;
    std::size_t waiting_at_end = 99;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::barrier b(3);
        std::vector<aio::task<void>> tasks;
        for (std::string name : {"a", "b", "c"}) {
            tasks.push_back(aio::create_task([&b, &events, name]() -> aio::awaitable<void> {
                for (int round = 0; round < 3; ++round) {
                    std::size_t index = co_await b.wait();
                    events.push_back(std::to_string(round) + name + std::to_string(index));
                }
            }));
        }
        for (auto& t : tasks) {
            co_await t();
        }
        broken = b.broken();
        waiting_at_end = b.n_waiting();
    });
    // Each round ends before the next: the tasks arrive in the order they left the previous
    // round, and the last to arrive goes through first.
    CHECK(join(events) == "0c2|0a0|0b1|1b2|1c0|1a1|2a2|2b0|2c1");
    CHECK_FALSE(broken);
    CHECK(waiting_at_end == 0);
}

TEST_CASE("abort breaks the waiting tasks and every wait until reset") {
    std::vector<std::string> events;
    bool broken_after_abort = false;
    bool wait_when_broken_threw = false;
    bool broken_after_reset = true;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::barrier b(3);
        int arrived = 0;
        auto a = arrive(b, events, arrived, "a");
        auto c = arrive(b, events, arrived, "b");
        co_await yield_until(arrived, 2);
        b.abort();
        broken_after_abort = b.broken();
        co_await a();
        co_await c();
        try {
            co_await b.wait();
        } catch (const aio::broken_barrier_error&) {
            wait_when_broken_threw = true;
        }
        b.reset();
        broken_after_reset = b.broken();
        auto d = arrive(b, events, arrived, "d");
        auto e = arrive(b, events, arrived, "e");
        co_await yield_until(arrived, 4);
        co_await aio::sleep(0s);
        events.push_back("main " + std::to_string(co_await b.wait()));
        co_await d();
        co_await e();
    });
    CHECK(broken_after_abort);
    CHECK(wait_when_broken_threw);
    CHECK_FALSE(broken_after_reset);
    CHECK(join(events) == "a broken|b broken|main 2|d 0|e 1");
}

TEST_CASE("reset breaks the waiting tasks and leaves the barrier ready for a new round") {
    std::vector<std::string> events;
    bool broken_after_reset = true;
    std::size_t waiting_after_reset = 99;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::barrier b(2);
        int arrived = 0;
        auto a = arrive(b, events, arrived, "a");
        co_await yield_until(arrived, 1);
        b.reset();
        broken_after_reset = b.broken();
        waiting_after_reset = b.n_waiting();
        co_await a();
        auto c = arrive(b, events, arrived, "c");
        co_await yield_until(arrived, 2);
        co_await aio::sleep(0s);
        events.push_back("main " + std::to_string(co_await b.wait()));
        co_await c();
    });
    CHECK_FALSE(broken_after_reset);
    CHECK(waiting_after_reset == 0);
    CHECK(join(events) == "a broken|main 1|c 0");
}

TEST_CASE("a task cancelled while waiting leaves the round without breaking the barrier") {
    std::vector<std::string> events;
    std::size_t waiting_after_cancel = 99;
    bool broken = true;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::barrier b(3);
        int arrived = 0;
        auto a = arrive(b, events, arrived, "a");
        co_await yield_until(arrived, 1);
        auto c = arrive(b, events, arrived, "b");
        co_await yield_until(arrived, 2);
        co_await aio::sleep(0s);
        a.cancel();
        waiting_after_cancel = b.n_waiting();
        co_await a();
        auto d = arrive(b, events, arrived, "c");
        co_await yield_until(arrived, 3);
        co_await aio::sleep(0s);
        events.push_back("main " + std::to_string(co_await b.wait()));
        co_await c();
        co_await d();
        broken = b.broken();
    });
    CHECK(waiting_after_cancel == 1);
    CHECK_FALSE(broken);
    // The indices stay distinct: b and c take the first places of the round.
    CHECK(join(events) == "a cancelled|main 2|b 0|c 1");
}

TEST_CASE("a task cancelled after the barrier let it through gets cancelled_error") {
    std::vector<std::string> events;
    bool broken = true;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::barrier b(3);
        int arrived = 0;
        auto a = arrive(b, events, arrived, "a");
        co_await yield_until(arrived, 1);
        auto c = arrive(b, events, arrived, "b");
        co_await yield_until(arrived, 2);
        co_await aio::sleep(0s);
        std::size_t index = co_await b.wait(); // lets a and b through...
        a.cancel();                            // ...and a is cancelled before it runs again
        events.push_back("main " + std::to_string(index));
        co_await a();
        co_await c();
        broken = b.broken();
    });
    CHECK(join(events) == "main 2|a cancelled|b 1");
    CHECK_FALSE(broken);
}

TEST_CASE("a barrier for one party never waits; zero parties is an error") {
    std::vector<std::size_t> indices;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::barrier b(1);
        indices.push_back(co_await b.wait());
        indices.push_back(co_await b.wait());
    });
    CHECK(indices == std::vector<std::size_t>{0, 0});
    CHECK_THROWS_AS(aio::barrier(0), std::invalid_argument);
}

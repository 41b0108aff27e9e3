// Tests of aio/barrier.hpp: arrival indices, rounds, abort, reset, cancellation of a wait.
#include "fixtures.hpp"

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

AIO_TEST_CASE("wait returns arrival indices and the last arrival lets everyone through") {
    aio::barrier b(3);
    std::vector<std::string> events;
    int arrived = 0;
    CHECK(b.parties() == 3);
    auto first = arrive(b, events, arrived, "a");
    co_await yield_until(arrived, 1);
    auto second = arrive(b, events, arrived, "b");
    co_await yield_until(arrived, 2);
    co_await aio::sleep(0s);
    CHECK(b.n_waiting() == 2);
    int ran = 0;
    auto other = aio_test::count_run(ran);
    std::size_t index = co_await b.wait(); // the last arrival does not wait
    CHECK(ran == 0);
    events.push_back("main " + std::to_string(index));
    CHECK(b.n_waiting() == 0);
    co_await first();
    co_await second();
    co_await other();
    CHECK(join(events) == "main 2|a 0|b 1");
}

AIO_TEST_CASE("a barrier is reused round after round") {
    aio::barrier b(3);
    std::vector<std::string> events;
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
    // Each round ends before the next: the tasks arrive in the order they left the previous
    // round, and the last to arrive goes through first.
    CHECK(join(events) == "0c2|0a0|0b1|1b2|1c0|1a1|2a2|2b0|2c1");
    CHECK_FALSE(b.broken());
    CHECK(b.n_waiting() == 0);
}

AIO_TEST_CASE("abort breaks the waiting tasks and every wait until reset") {
    aio::barrier b(3);
    std::vector<std::string> events;
    int arrived = 0;
    auto a = arrive(b, events, arrived, "a");
    auto c = arrive(b, events, arrived, "b");
    co_await yield_until(arrived, 2);
    b.abort();
    CHECK(b.broken());
    co_await a();
    co_await c();
    bool wait_when_broken_threw =
        co_await aio_test::co_throws_as<aio::broken_barrier_error>(b.wait());
    CHECK(wait_when_broken_threw);
    b.reset();
    CHECK_FALSE(b.broken());
    auto d = arrive(b, events, arrived, "d");
    auto e = arrive(b, events, arrived, "e");
    co_await yield_until(arrived, 4);
    co_await aio::sleep(0s);
    std::size_t index = co_await b.wait();
    events.push_back("main " + std::to_string(index));
    co_await d();
    co_await e();
    CHECK(join(events) == "a broken|b broken|main 2|d 0|e 1");
}

AIO_TEST_CASE("reset breaks the waiting tasks and leaves the barrier ready for a new round") {
    aio::barrier b(2);
    std::vector<std::string> events;
    int arrived = 0;
    auto a = arrive(b, events, arrived, "a");
    co_await yield_until(arrived, 1);
    b.reset();
    CHECK_FALSE(b.broken());
    CHECK(b.n_waiting() == 0);
    co_await a();
    auto c = arrive(b, events, arrived, "c");
    co_await yield_until(arrived, 2);
    co_await aio::sleep(0s);
    std::size_t index = co_await b.wait();
    events.push_back("main " + std::to_string(index));
    co_await c();
    CHECK(join(events) == "a broken|main 1|c 0");
}

AIO_TEST_CASE("a task cancelled while waiting leaves the round without breaking the barrier") {
    aio::barrier b(3);
    std::vector<std::string> events;
    int arrived = 0;
    auto a = arrive(b, events, arrived, "a");
    co_await yield_until(arrived, 1);
    auto c = arrive(b, events, arrived, "b");
    co_await yield_until(arrived, 2);
    co_await aio::sleep(0s);
    a.cancel();
    CHECK(b.n_waiting() == 1);
    co_await a();
    auto d = arrive(b, events, arrived, "c");
    co_await yield_until(arrived, 3);
    co_await aio::sleep(0s);
    std::size_t index = co_await b.wait();
    events.push_back("main " + std::to_string(index));
    co_await c();
    co_await d();
    CHECK_FALSE(b.broken());
    // The indices stay distinct: b and c take the first places of the round.
    CHECK(join(events) == "a cancelled|main 2|b 0|c 1");
}

AIO_TEST_CASE("a task cancelled after the barrier let it through gets cancelled_error") {
    aio::barrier b(3);
    std::vector<std::string> events;
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
    CHECK(join(events) == "main 2|a cancelled|b 1");
    CHECK_FALSE(b.broken());
}

AIO_TEST_CASE("a barrier for one party never waits, zero parties is an error") {
    aio::barrier b(1);
    std::size_t first = co_await b.wait();
    std::size_t second = co_await b.wait();
    CHECK(first == 0);
    CHECK(second == 0);
    CHECK_THROWS_AS(aio::barrier(0), std::invalid_argument);
}

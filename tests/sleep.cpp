// Tests of aio/sleep.hpp: sleep(d) and sleep(0).
#include "support.hpp"

#include <aio/sleep.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <exception>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

using aio_test::join;

aio::awaitable<void> take_turns(std::vector<std::string>& events, std::string name) {
    for (int i = 0; i < 3; ++i) {
        events.push_back(name + std::to_string(i));
        co_await aio::sleep(0s);
    }
}

} // namespace

TEST_CASE("sleep zero lets another ready task run in between") {
    int counter = 0;
    int before = -1;
    int after = -1;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto t = aio::create_task([&]() -> aio::awaitable<void> {
            ++counter;
            co_return;
        });
        before = counter;
        co_await aio::sleep(0s);
        after = counter;
        co_await t();
    });
    CHECK(before == 0);
    CHECK(after == 1);
}

TEST_CASE("two tasks sleeping zero take turns") {
    std::vector<std::string> events;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto a = aio::create_task(take_turns(events, "a"));
        auto b = aio::create_task(take_turns(events, "b"));
        co_await a();
        co_await b();
    });
    CHECK(join(events) == "a0|b0|a1|b1|a2|b2");
}

TEST_CASE("sleep with a negative duration yields once like sleep zero") {
    int counter = 0;
    int after = -1;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto t = aio::create_task([&]() -> aio::awaitable<void> {
            ++counter;
            co_return;
        });
        co_await aio::sleep(-5s);
        after = counter;
        co_await t();
    });
    CHECK(after == 1);
}

TEST_CASE("sleep lasts at least the requested duration") {
    auto elapsed = std::chrono::steady_clock::duration::zero();
    auto elapsed_fraction = std::chrono::steady_clock::duration::zero();
    aio_test::run([&]() -> aio::awaitable<void> {
        auto start = std::chrono::steady_clock::now();
        co_await aio::sleep(20ms);
        elapsed = std::chrono::steady_clock::now() - start;
        start = std::chrono::steady_clock::now();
        co_await aio::sleep(std::chrono::duration<double, std::milli>(10.5));
        elapsed_fraction = std::chrono::steady_clock::now() - start;
    });
    CHECK(elapsed >= 20ms);
    CHECK(elapsed_fraction >= std::chrono::microseconds(10500));
}

TEST_CASE("sleep works in coroutines of another io_context, also run inside a task") {
    // Outside any loop, and inside a task that runs a second io_context to completion: the
    // sleep must wait on that context's timers, not on the (blocked) loop's.
    auto sleep_on_own_context = [] {
        boost::asio::io_context other(1);
        bool slept = false;
        std::exception_ptr failure;
        boost::asio::co_spawn(
            other,
            [&]() -> aio::awaitable<void> {
                co_await aio::sleep(1ms);
                co_await aio::sleep(0s);
                slept = true;
            },
            [&](std::exception_ptr e) { failure = e; });
        other.run();
        return slept && !failure;
    };
    CHECK(sleep_on_own_context());
    bool inside_task = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        inside_task = sleep_on_own_context();
        co_return;
    });
    CHECK(inside_task);
}

TEST_CASE("a cancelled sleep throws cancelled_error promptly and later awaits work") {
    bool caught = false;
    bool awaited_after = false;
    auto later_sleep = std::chrono::steady_clock::duration::zero();
    bool cancelled = true;
    bool done = false;
    auto start = std::chrono::steady_clock::now();
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> started;
        auto sleeper = aio::create_task([&]() -> aio::awaitable<void> {
            try {
                started.set_result();
                co_await aio::sleep(1h);
            } catch (const aio::cancelled_error&) {
                caught = true;
            }
            co_await aio::sleep(0s);
            auto before = std::chrono::steady_clock::now();
            co_await aio::sleep(10ms);
            later_sleep = std::chrono::steady_clock::now() - before;
            awaited_after = true;
        });
        auto canceller = aio::create_task([&]() -> aio::awaitable<void> {
            co_await started();
            sleeper.cancel();
        });
        co_await canceller();
        co_await sleeper();
        cancelled = sleeper.cancelled();
        done = sleeper.done();
    });
    auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(caught);
    CHECK(awaited_after);
    CHECK(later_sleep >= 10ms);
    CHECK(done);
    CHECK_FALSE(cancelled);
    CHECK(elapsed < 1min);
}

TEST_CASE("a cancellation requested while a task is queued in sleep zero is delivered there") {
    bool caught = false;
    bool cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> started;
        auto t = aio::create_task([&]() -> aio::awaitable<void> {
            started.set_result();
            try {
                co_await aio::sleep(0s);
            } catch (const aio::cancelled_error&) {
                caught = true;
                throw;
            }
        });
        co_await started();
        t.cancel();
        try {
            co_await t();
        } catch (const aio::cancelled_error&) {
        }
        cancelled = t.cancelled();
    });
    CHECK(caught);
    CHECK(cancelled);
}

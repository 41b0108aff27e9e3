// Tests of aio/sleep.hpp: sleep(d) and sleep(0).
#include "fixtures.hpp"

#include <aio/sleep.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <exception>
#include <future>
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

AIO_TEST_CASE("sleep zero lets another ready task run in between") {
    int counter = 0;
    auto t = aio::create_task([&]() -> aio::awaitable<void> {
        ++counter;
        co_return;
    });
    CHECK(counter == 0);
    co_await aio::sleep(0s);
    CHECK(counter == 1);
    co_await t();
}

AIO_TEST_CASE("two tasks sleeping zero take turns") {
    std::vector<std::string> events;
    auto a = aio::create_task(take_turns(events, "a"));
    auto b = aio::create_task(take_turns(events, "b"));
    co_await a();
    co_await b();
    CHECK(join(events) == "a0|b0|a1|b1|a2|b2");
}

AIO_TEST_CASE("sleep with a negative duration yields once like sleep zero") {
    int counter = 0;
    auto t = aio::create_task([&]() -> aio::awaitable<void> {
        ++counter;
        co_return;
    });
    co_await aio::sleep(-5s);
    CHECK(counter == 1);
    co_await t();
}

AIO_TEST_CASE("sleep lasts at least the requested duration") {
    auto start = std::chrono::steady_clock::now();
    co_await aio::sleep(20ms);
    CHECK(std::chrono::steady_clock::now() - start >= 20ms);
    start = std::chrono::steady_clock::now();
    co_await aio::sleep(std::chrono::duration<double, std::milli>(10.5));
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::microseconds(10500));
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
    aio_test::run([&]() -> aio::awaitable<void> {
        CHECK(sleep_on_own_context());
        co_return;
    });
}

TEST_CASE("a sleep in a coroutine of another io_context ends at its cancellation, once") {
    // The cancellation is emitted by a handler queued behind the coroutine's start: it runs
    // once the coroutine is parked in the hour-long sleep.
    boost::asio::io_context other(1);
    boost::asio::cancellation_signal cancel;
    auto start = std::chrono::steady_clock::now();
    bool caught = false;
    bool slept_after = false;
    std::exception_ptr failure;
    boost::asio::co_spawn(
        other,
        [&]() -> aio::awaitable<void> {
            try {
                co_await aio::sleep(1h);
            } catch (const aio::cancelled_error&) {
                caught = true;
            }
            co_await aio::sleep(1ms); // delivered once: a later sleep waits normally
            slept_after = true;
        },
        boost::asio::bind_cancellation_slot(cancel.slot(),
                                            [&](std::exception_ptr e) { failure = e; }));
    boost::asio::post(other, [&] { cancel.emit(boost::asio::cancellation_type::terminal); });
    other.run();
    CHECK(caught);
    CHECK(slept_after);
    CHECK_FALSE(failure);
    CHECK(std::chrono::steady_clock::now() - start < 1min);
}

TEST_CASE("sleep works in coroutines of a thread pool") {
    boost::asio::thread_pool pool(2);
    std::promise<int> done;
    std::future<int> slept = done.get_future();
    boost::asio::co_spawn(
        pool,
        [&]() -> aio::awaitable<int> {
            int n = 0;
            for (; n < 20; ++n) {
                co_await aio::sleep(1ms);
            }
            co_return n;
        },
        [&](std::exception_ptr e, int n) {
            if (e) {
                done.set_exception(e);
            } else {
                done.set_value(n);
            }
        });
    CHECK(slept.get() == 20);
    pool.join();
}

AIO_TEST_CASE("a cancelled sleep throws cancelled_error promptly and later awaits work") {
    auto start = std::chrono::steady_clock::now();
    bool caught = false;
    auto later_sleep = std::chrono::steady_clock::duration::zero();
    bool awaited_after = false;
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
    CHECK(caught);
    CHECK(awaited_after);
    CHECK(later_sleep >= 10ms);
    CHECK(sleeper.done());
    CHECK_FALSE(sleeper.cancelled());
    CHECK(std::chrono::steady_clock::now() - start < 1min);
}

AIO_TEST_CASE("a cancellation requested while a task is queued in sleep zero is delivered there") {
    bool caught = false;
    auto t = co_await aio_test::start_task([&](aio::future<void> started) -> aio::awaitable<void> {
        started.set_result();
        try {
            co_await aio::sleep(0s);
        } catch (const aio::cancelled_error&) {
            caught = true;
            throw;
        }
    });
    t.cancel();
    bool await_threw = co_await aio_test::co_throws_as<aio::cancelled_error>(t());
    CHECK(caught);
    CHECK(await_threw);
    CHECK(t.cancelled());
}

// Tests of aio/future.hpp: future<T>, set_result / set_exception / cancel, ensure_task.
#include "support.hpp"

#include <aio/future.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

using namespace std::chrono_literals;

namespace {

using aio_test::holds;
using aio_test::join;
using aio_test::throws_as;

aio::awaitable<int> value_of(int v) {
    co_return v;
}

} // namespace

TEST_CASE("set_result wakes every task awaiting the future") {
    int parked = 0;
    std::size_t woken_before_set = 99;
    std::vector<int> seen;
    bool done = false;
    int result = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<int> f;
        std::vector<aio::task<void>> waiters;
        for (int i = 0; i < 3; ++i) {
            waiters.push_back(aio::create_task([&]() -> aio::awaitable<void> {
                ++parked;
                seen.push_back(co_await f());
            }));
        }
        co_await aio::sleep(0s);
        woken_before_set = seen.size();
        f.set_result(5);
        for (auto& w : waiters) {
            co_await w();
        }
        done = f.done();
        result = f.result();
    });
    CHECK(parked == 3);
    CHECK(woken_before_set == 0);
    CHECK(seen == std::vector<int>{5, 5, 5});
    CHECK(done);
    CHECK(result == 5);
}

TEST_CASE("set_exception is rethrown to every awaiter") {
    std::vector<std::string> messages;
    bool result_threw = false;
    bool exception_kept = false;
    bool cancelled = true;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<int> f;
        std::vector<aio::task<void>> waiters;
        for (int i = 0; i < 2; ++i) {
            waiters.push_back(aio::create_task([&]() -> aio::awaitable<void> {
                try {
                    co_await f();
                    messages.push_back("no exception");
                } catch (const std::runtime_error& e) {
                    messages.push_back(e.what());
                }
            }));
        }
        co_await aio::sleep(0s);
        f.set_exception(std::make_exception_ptr(std::runtime_error("bad")));
        for (auto& w : waiters) {
            co_await w();
        }
        result_threw = throws_as<std::runtime_error>([&] { (void)f.result(); });
        exception_kept = holds<std::runtime_error>(f.exception());
        cancelled = f.cancelled();
    });
    CHECK(join(messages) == "bad|bad");
    CHECK(result_threw);
    CHECK(exception_kept);
    CHECK_FALSE(cancelled);
}

TEST_CASE("setting a future twice throws invalid_state_error") {
    bool result_twice = false;
    bool exception_after_result = false;
    bool result_after_exception = false;
    bool result_after_cancel = false;
    bool void_twice = false;
    int kept = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<int> a;
        a.set_result(1);
        result_twice = throws_as<aio::invalid_state_error>([&] { a.set_result(2); });
        exception_after_result = throws_as<aio::invalid_state_error>(
            [&] { a.set_exception(std::make_exception_ptr(std::runtime_error("x"))); });
        kept = co_await a();

        aio::future<int> b;
        b.set_exception(std::make_exception_ptr(std::runtime_error("first")));
        result_after_exception = throws_as<aio::invalid_state_error>([&] { b.set_result(3); });
        (void)b.exception();

        aio::future<int> c;
        c.cancel();
        result_after_cancel = throws_as<aio::invalid_state_error>([&] { c.set_result(4); });

        aio::future<void> d;
        d.set_result();
        void_twice = throws_as<aio::invalid_state_error>([&] { d.set_result(); });
    });
    CHECK(result_twice);
    CHECK(exception_after_result);
    CHECK(result_after_exception);
    CHECK(result_after_cancel);
    CHECK(void_twice);
    CHECK(kept == 1);
}

TEST_CASE("result and exception of a pending future throw invalid_state_error") {
    bool result_threw = false;
    bool exception_threw = false;
    bool done = true;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<int> f;
        done = f.done();
        result_threw = throws_as<aio::invalid_state_error>([&] { (void)f.result(); });
        exception_threw = throws_as<aio::invalid_state_error>([&] { (void)f.exception(); });
        co_return;
    });
    CHECK_FALSE(done);
    CHECK(result_threw);
    CHECK(exception_threw);
}

TEST_CASE("cancel makes the awaiters of a future throw cancelled_error") {
    int cancelled_awaiters = 0;
    bool first_cancel = false;
    bool second_cancel = true;
    bool cancelled = false;
    bool done = false;
    bool exception_is_cancelled = false;
    bool waiters_cancelled = true;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<int> f;
        std::vector<aio::task<void>> waiters;
        for (int i = 0; i < 2; ++i) {
            waiters.push_back(aio::create_task([&]() -> aio::awaitable<void> {
                try {
                    co_await f();
                } catch (const aio::cancelled_error&) {
                    ++cancelled_awaiters;
                }
            }));
        }
        co_await aio::sleep(0s);
        first_cancel = f.cancel();
        second_cancel = f.cancel();
        for (auto& w : waiters) {
            co_await w();
        }
        waiters_cancelled = waiters[0].cancelled() || waiters[1].cancelled();
        cancelled = f.cancelled();
        done = f.done();
        exception_is_cancelled = holds<aio::cancelled_error>(f.exception());
    });
    CHECK(cancelled_awaiters == 2);
    CHECK(first_cancel);
    CHECK_FALSE(second_cancel);
    CHECK(cancelled);
    CHECK(done);
    CHECK(exception_is_cancelled);
    CHECK_FALSE(waiters_cancelled);
}

TEST_CASE("cancelling a task that awaits a future cancels the future") {
    bool task_threw = false;
    bool task_cancelled = false;
    bool future_cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<int> f;
        aio::future<void> started;
        auto t = aio::create_task([&]() -> aio::awaitable<int> {
            started.set_result();
            co_return co_await f();
        });
        co_await started();
        t.cancel();
        try {
            co_await t();
        } catch (const aio::cancelled_error&) {
            task_threw = true;
        }
        task_cancelled = t.cancelled();
        future_cancelled = f.cancelled();
    });
    CHECK(task_threw);
    CHECK(task_cancelled);
    CHECK(future_cancelled);
}

TEST_CASE("add_done_callback of a future runs after it is set and can be removed") {
    std::vector<std::string> events;
    bool removed_ran = false;
    std::size_t removed = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<int> f;
        f.add_done_callback([&](aio::future<int> x) {
            events.push_back("callback " + std::to_string(x.result()));
        });
        auto id = f.add_done_callback([&](aio::future<int>) { removed_ran = true; });
        removed = f.remove_done_callback(id);
        co_await aio::sleep(0s);
        events.push_back("set");
        f.set_result(6);
        co_await aio::sleep(0s);
        events.push_back("after");
    });
    CHECK(join(events) == "set|callback 6|after");
    CHECK(removed == 1);
    CHECK_FALSE(removed_ran);
}

TEST_CASE("ensure_task and as_task let gather await futures") {
    int first = 0;
    std::string second;
    int third = 0;
    bool same_state = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<int> a;
        aio::future<std::string> b;
        same_state = aio::ensure_task(a) == a.as_task();
        auto setter = aio::create_task([&]() -> aio::awaitable<void> {
            co_await aio::sleep(0s);
            a.set_result(1);
            b.set_result("two");
        });
        auto results = co_await aio::gather(aio::ensure_task(a), b.as_task(), value_of(3));
        first = std::get<0>(results);
        second = std::get<1>(results);
        third = std::get<2>(results);
        co_await setter();
    });
    CHECK(same_state);
    CHECK(first == 1);
    CHECK(second == "two");
    CHECK(third == 3);
}

TEST_CASE("a future exception nobody retrieved is reported once") {
    aio_test::report_log log;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(co_await aio::this_loop());
        {
            aio::future<int> lost;
            lost.set_exception(std::make_exception_ptr(std::runtime_error("lost")));
        }
        aio::future<int> retrieved;
        retrieved.set_exception(std::make_exception_ptr(std::runtime_error("retrieved")));
        (void)retrieved.exception();
        aio::future<int> awaited;
        awaited.set_exception(std::make_exception_ptr(std::runtime_error("awaited")));
        try {
            co_await awaited();
        } catch (const std::runtime_error&) {
        }
        aio::future<int> cancelled;
        cancelled.cancel();
        co_await aio::sleep(0s);
    });
    CHECK(log.count("Future exception was never retrieved") == 1);
    REQUIRE(log.entries.size() == 1);
    CHECK(aio::describe(log.entries[0].exception) == "lost");
    CHECK(log.entries[0].task_name.rfind("Future-", 0) == 0);
}

TEST_CASE("a future created outside a running loop throws std::logic_error") {
    CHECK_THROWS_AS(aio::future<int>(), std::logic_error);
}

TEST_CASE("a task cancelled after the future it awaits failed: the error is reported, not lost") {
    aio_test::report_log log;
    bool cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(co_await aio::this_loop());
        aio::future<void> f;
        aio::task<void> t = aio::create_task([&]() -> aio::awaitable<void> { co_await f(); });
        co_await aio::sleep(0s); // t is parked on f
        f.set_exception(std::make_exception_ptr(std::runtime_error("seen by nobody")));
        t.cancel(); // before t runs again: the cancellation wins, as in asyncio
        co_await t.wait_done();
        cancelled = t.cancelled();
    });
    CHECK(cancelled);
    // asyncio's wakeup takes the result before it throws CancelledError, so the error is lost
    // there; aio reports it.
    REQUIRE(log.entries.size() == 1);
    CHECK(log.entries[0].message == "Future exception was never retrieved");
    CHECK(aio::describe(log.entries[0].exception) == "seen by nobody");
}

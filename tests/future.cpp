// Tests of aio/future.hpp: future<T>, set_result / set_exception / cancel, ensure_task.
#include "fixtures.hpp"

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
using aio_test::value_now;

/// Tasks that await the same future, each recording what its await gave: the value, the
/// message of the exception it threw, or "cancelled".
struct awaiters {
    int parked = 0;
    std::vector<std::string> outcomes;
    std::vector<aio::task<void>> tasks;

    /// Starts `n` tasks awaiting `f`; returns after one yield, which parks them in that await.
    aio::awaitable<void> start(aio::future<int>& f, int n) {
        for (int i = 0; i < n; ++i) {
            tasks.push_back(aio::create_task([this, &f]() -> aio::awaitable<void> {
                ++parked;
                try {
                    int value = co_await f();
                    outcomes.push_back(std::to_string(value));
                } catch (const aio::cancelled_error&) {
                    outcomes.push_back("cancelled");
                } catch (const std::exception& e) {
                    outcomes.push_back(e.what());
                }
            }));
        }
        co_await aio::sleep(0s);
    }

    /// Awaits every task; returns their outcomes joined with '|', in the order they ended.
    aio::awaitable<std::string> finish() {
        for (auto& t : tasks) {
            co_await t();
        }
        co_return join(outcomes);
    }
};

} // namespace

AIO_TEST_CASE("set_result wakes every task awaiting the future") {
    aio::future<int> f;
    awaiters w;
    co_await w.start(f, 3);
    CHECK(w.parked == 3);
    CHECK(w.outcomes.empty());
    f.set_result(5);
    std::string seen = co_await w.finish();
    CHECK(seen == "5|5|5");
    CHECK(f.done());
    CHECK(f.result() == 5);
}

AIO_TEST_CASE("set_exception is rethrown to every awaiter") {
    aio::future<int> f;
    awaiters w;
    co_await w.start(f, 2);
    f.set_exception(std::make_exception_ptr(std::runtime_error("bad")));
    std::string messages = co_await w.finish();
    CHECK(messages == "bad|bad");
    CHECK(throws_as<std::runtime_error>([&] { (void)f.result(); }));
    CHECK(holds<std::runtime_error>(f.exception()));
    CHECK_FALSE(f.cancelled());
}

AIO_TEST_CASE("setting a future twice throws invalid_state_error") {
    aio::future<int> a;
    a.set_result(1);
    CHECK(throws_as<aio::invalid_state_error>([&] { a.set_result(2); }));
    CHECK(throws_as<aio::invalid_state_error>(
        [&] { a.set_exception(std::make_exception_ptr(std::runtime_error("x"))); }));
    int kept = co_await a();
    CHECK(kept == 1);

    aio::future<int> b;
    b.set_exception(std::make_exception_ptr(std::runtime_error("first")));
    CHECK(throws_as<aio::invalid_state_error>([&] { b.set_result(3); }));
    (void)b.exception();

    aio::future<int> c;
    c.cancel();
    CHECK(throws_as<aio::invalid_state_error>([&] { c.set_result(4); }));

    aio::future<void> d;
    d.set_result();
    CHECK(throws_as<aio::invalid_state_error>([&] { d.set_result(); }));
}

AIO_TEST_CASE("result and exception of a pending future throw invalid_state_error") {
    aio::future<int> f;
    CHECK_FALSE(f.done());
    CHECK(throws_as<aio::invalid_state_error>([&] { (void)f.result(); }));
    CHECK(throws_as<aio::invalid_state_error>([&] { (void)f.exception(); }));
    co_return;
}

AIO_TEST_CASE("cancel makes the awaiters of a future throw cancelled_error") {
    aio::future<int> f;
    awaiters w;
    co_await w.start(f, 2);
    CHECK(f.cancel());
    CHECK_FALSE(f.cancel());
    std::string outcomes = co_await w.finish();
    CHECK(outcomes == "cancelled|cancelled");
    CHECK_FALSE(w.tasks[0].cancelled());
    CHECK_FALSE(w.tasks[1].cancelled());
    CHECK(f.cancelled());
    CHECK(f.done());
    CHECK(holds<aio::cancelled_error>(f.exception()));
}

AIO_TEST_CASE("cancelling a task that awaits a future cancels the future") {
    aio::future<int> f;
    auto t = co_await aio_test::start_task([&](aio::future<void> started) -> aio::awaitable<int> {
        started.set_result();
        co_return co_await f();
    });
    bool ended_cancelled = co_await aio_test::cancel_and_await(t);
    CHECK(ended_cancelled);
    CHECK(f.cancelled());
}

AIO_TEST_CASE("add_done_callback of a future runs after it is set and can be removed") {
    std::vector<std::string> events;
    bool removed_ran = false;
    aio::future<int> f;
    f.add_done_callback(
        [&](aio::future<int> x) { events.push_back("callback " + std::to_string(x.result())); });
    auto id = f.add_done_callback([&](aio::future<int>) { removed_ran = true; });
    CHECK(f.remove_done_callback(id) == 1);
    co_await aio::sleep(0s);
    events.push_back("set");
    f.set_result(6);
    co_await aio::sleep(0s);
    events.push_back("after");
    CHECK(join(events) == "set|callback 6|after");
    CHECK_FALSE(removed_ran);
}

AIO_TEST_CASE("ensure_task and as_task let gather await futures") {
    aio::future<int> a;
    aio::future<std::string> b;
    CHECK(aio::ensure_task(a) == a.as_task());
    auto setter = aio::create_task([&]() -> aio::awaitable<void> {
        co_await aio::sleep(0s);
        a.set_result(1);
        b.set_result("two");
    });
    auto results = co_await aio::gather(aio::ensure_task(a), b.as_task(), value_now(3));
    CHECK(std::get<0>(results) == 1);
    CHECK(std::get<1>(results) == "two");
    CHECK(std::get<2>(results) == 3);
    co_await setter();
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

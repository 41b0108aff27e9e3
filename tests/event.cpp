// Tests of aio/event.hpp: event set / clear / is_set / wait, and cancellation of a wait.
#include "support.hpp"

#include <aio/event.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

using aio_test::join;
using aio_test::yield_until;

// Every await that parks (an event's wait among them) holds Asio's completion handler inside its
// waiter: two pointers from Asio 1.26 to 1.38. A release whose handler grows would cost an
// allocation per park without failing anything else: it fails this build instead.
static_assert(aio::detail::waiter::fits<aio::detail::park_handler>,
              "Asio's awaitable handler no longer fits in aio's waiter: enlarge waiter::storage_");

/// A task that waits for the event and records `name` when it gets through (or that it was
/// cancelled).
aio::task<void> wait_and_record(aio::event& ev, std::vector<std::string>& order, int& waiting,
                                std::string name) {
    return aio::create_task([&ev, &order, &waiting, name]() -> aio::awaitable<void> {
        ++waiting;
        try {
            co_await ev.wait();
        } catch (const aio::cancelled_error&) {
            order.push_back(name + " cancelled");
            co_return;
        }
        order.push_back(name);
    });
}

} // namespace

AIO_TEST_CASE("set wakes every waiting task in the order they started waiting") {
    std::vector<std::string> order;
    aio::event ev;
    int waiting = 0;
    CHECK_FALSE(ev.is_set());
    auto a = wait_and_record(ev, order, waiting, "a");
    auto b = wait_and_record(ev, order, waiting, "b");
    auto c = wait_and_record(ev, order, waiting, "c");
    co_await yield_until(waiting, 3);
    co_await aio::sleep(0s);
    order.push_back("set");
    ev.set();
    ev.set(); // setting a set event changes nothing
    CHECK(ev.is_set());
    co_await a();
    co_await b();
    co_await c();
    CHECK(join(order) == "set|a|b|c");
}

AIO_TEST_CASE("waiting on a set event completes without yielding to other tasks") {
    int ran = 0;
    aio::event ev;
    ev.set();
    auto other = aio::create_task([&]() -> aio::awaitable<void> {
        ++ran;
        co_return;
    });
    co_await ev.wait();
    co_await ev.wait();
    CHECK(ran == 0);
    co_await other();
}

AIO_TEST_CASE("clear makes later waits wait, but does not take back a wake-up set gave") {
    std::vector<std::string> order;
    aio::event ev;
    int waiting = 0;
    auto early = wait_and_record(ev, order, waiting, "early");
    co_await yield_until(waiting, 1);
    ev.set();
    ev.clear(); // early was already woken: it still gets through
    CHECK_FALSE(ev.is_set());
    auto late = wait_and_record(ev, order, waiting, "late");
    co_await early();
    co_await yield_until(waiting, 2);
    co_await aio::sleep(0s);
    order.push_back("set again");
    ev.set();
    co_await late();
    CHECK(join(order) == "early|set again|late");
}

AIO_TEST_CASE("a waiter cancelled while waiting gets cancelled_error and the others still wake") {
    std::vector<std::string> order;
    aio::event ev;
    int waiting = 0;
    auto a = wait_and_record(ev, order, waiting, "a");
    auto b = wait_and_record(ev, order, waiting, "b");
    auto c = wait_and_record(ev, order, waiting, "c");
    co_await yield_until(waiting, 3);
    b.cancel();
    co_await b();
    order.push_back("set");
    ev.set();
    co_await a();
    co_await c();
    CHECK(join(order) == "b cancelled|set|a|c");
}

AIO_TEST_CASE("a waiter cancelled after set woke it gets cancelled_error, as in asyncio") {
    std::vector<std::string> order;
    bool later_await_works = false;
    aio::event ev;
    int waiting = 0;
    auto a = aio::create_task([&]() -> aio::awaitable<void> {
        ++waiting;
        try {
            co_await ev.wait();
            order.push_back("a woke");
        } catch (const aio::cancelled_error&) {
            order.push_back("a cancelled");
        }
        // The cancellation was delivered once: this await works.
        co_await ev.wait();
        later_await_works = true;
    });
    auto b = wait_and_record(ev, order, waiting, "b");
    co_await yield_until(waiting, 2);
    ev.set();   // wakes a and b...
    a.cancel(); // ...and a is cancelled before it runs again
    co_await a();
    co_await b();
    CHECK(join(order) == "a cancelled|b");
    CHECK(later_await_works);
    CHECK(ev.is_set());
}

AIO_TEST_CASE("set wakes many waiters, each once") {
    constexpr int waiter_count = 10000;
    int woken = 0;
    aio::event ev;
    int waiting = 0;
    std::vector<aio::task<void>> tasks;
    tasks.reserve(waiter_count);
    for (int i = 0; i < waiter_count; ++i) {
        tasks.push_back(aio::create_task([&]() -> aio::awaitable<void> {
            ++waiting;
            co_await ev.wait();
            ++woken;
        }));
    }
    co_await yield_until(waiting, waiter_count);
    CHECK(woken == 0);
    ev.set();
    for (auto& t : tasks) {
        co_await t();
    }
    CHECK(woken == waiter_count);
}

TEST_CASE("an event waited on by one loop and set from another throws logic_error") {
    aio::event ev;
    aio::runner first(aio::run_options{.handle_signals = false});
    aio::task<void> waiter = first.run([&]() -> aio::awaitable<aio::task<void>> {
        aio::task<void> t = aio::create_task(ev.wait());
        co_await aio::sleep(0s);
        co_return t;
    });
    bool threw = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        threw = aio_test::throws_as<std::logic_error>([&] { ev.set(); });
        co_return;
    });
    CHECK(threw);
    CHECK_FALSE(waiter.done());
}

// Tests of aio/condition.hpp: wait / wait_for / notify / notify_all, the lock rules, and
// cancellation at both awaits of wait (for the notification, for the lock).
#include "fixtures.hpp"

#include <aio/condition.hpp>
#include <aio/lock.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

using aio_test::join;
using aio_test::throws_as;
using aio_test::yield_until;

/// "locked" or "unlocked", for event logs.
std::string lock_state(const aio::condition& cond) {
    return cond.locked() ? "locked" : "unlocked";
}

/// A task that takes the lock, waits once, and records `name` when the wait returns (with the
/// lock state) or throws cancelled_error; it releases the lock after a yield, so that tasks
/// woken together are seen to take the lock one at a time.
aio::task<void> wait_once(aio::condition& cond, std::vector<std::string>& events, int& waiting,
                          std::string name) {
    return aio::create_task([&cond, &events, &waiting, name]() -> aio::awaitable<void> {
        auto held = co_await cond.scoped();
        ++waiting;
        try {
            co_await cond.wait();
            events.push_back(name + " woke " + lock_state(cond));
        } catch (const aio::cancelled_error&) {
            events.push_back(name + " cancelled " + lock_state(cond));
        }
        co_await aio::sleep(0s);
        events.push_back(name + " releases");
    });
}

} // namespace

AIO_TEST_CASE("wait releases the lock and returns holding it again after notify") {
    aio::condition cond;
    std::vector<std::string> events;
    int waiting = 0;
    auto a = wait_once(cond, events, waiting, "a");
    co_await yield_until(waiting, 1);
    events.push_back("main sees " + lock_state(cond));
    co_await cond.acquire();
    cond.notify();
    co_await aio::sleep(0s);
    events.push_back("main releases");
    cond.release();
    co_await a();
    events.push_back("end " + lock_state(cond));
    CHECK(join(events) == "main sees unlocked|main releases|a woke locked|a releases|end unlocked");
}

AIO_TEST_CASE("notify(n) wakes exactly n waiters, the longest-waiting first") {
    aio::condition cond;
    std::vector<std::string> events;
    int waiting = 0;
    std::vector<aio::task<void>> tasks;
    for (std::string name : {"a", "b", "c", "d", "e"}) {
        tasks.push_back(wait_once(cond, events, waiting, name));
        co_await yield_until(waiting, static_cast<int>(tasks.size()));
    }
    auto notify_and_settle = [&](std::size_t n) -> aio::awaitable<void> {
        events.push_back("notify " + std::to_string(n));
        co_await cond.acquire();
        cond.notify(n);
        cond.release();
        for (int i = 0; i < 10; ++i) {
            co_await aio::sleep(0s);
        }
    };
    co_await notify_and_settle(2);
    co_await notify_and_settle(1);
    co_await notify_and_settle(0);
    co_await notify_and_settle(5); // only two are left
    for (auto& t : tasks) {
        co_await t();
    }
    CHECK(join(events) == "notify 2|a woke locked|a releases|b woke locked|b releases|"
                          "notify 1|c woke locked|c releases|notify 0|"
                          "notify 5|d woke locked|d releases|e woke locked|e releases");
}

AIO_TEST_CASE("notify_all wakes every waiter, and they take the lock one at a time") {
    aio::condition cond;
    std::vector<std::string> events;
    int waiting = 0;
    auto a = wait_once(cond, events, waiting, "a");
    auto b = wait_once(cond, events, waiting, "b");
    auto c = wait_once(cond, events, waiting, "c");
    co_await yield_until(waiting, 3);
    {
        auto held = co_await cond.scoped();
        events.push_back("notify_all");
        cond.notify_all();
    }
    co_await a();
    co_await b();
    co_await c();
    CHECK(join(events) ==
          "notify_all|a woke locked|a releases|b woke locked|b releases|c woke locked|c releases");
}

AIO_TEST_CASE("wait_for returns the predicate's value once it holds, testing it under the lock") {
    aio::condition cond;
    std::vector<int> seen;
    bool always_locked = true;
    std::optional<int> result;
    int value = 0;
    auto consumer = aio::create_task([&]() -> aio::awaitable<void> {
        auto held = co_await cond.scoped();
        auto reached_three = [&]() -> std::optional<int> {
            seen.push_back(value);
            always_locked = always_locked && cond.locked();
            return value >= 3 ? std::optional<int>(value * 10) : std::nullopt;
        };
        result = co_await cond.wait_for(reached_three);
    });
    for (int i = 0; i < 4; ++i) {
        co_await aio::sleep(0s);
        auto held = co_await cond.scoped();
        ++value;
        cond.notify_all();
    }
    co_await consumer();
    CHECK(seen == std::vector<int>{0, 1, 2, 3});
    CHECK(always_locked);
    CHECK(result == std::optional<int>(30));

    // A predicate that holds at once returns without waiting or yielding.
    int ran = 0;
    auto other = aio_test::count_run(ran);
    auto held = co_await cond.scoped();
    auto always = [] { return true; };
    co_await cond.wait_for(always);
    CHECK(ran == 0);
    held.release();
    co_await other();
}

AIO_TEST_CASE("wait, wait_for, notify and notify_all without the lock throw std::logic_error") {
    aio::condition cond;
    bool wait_threw = co_await aio_test::co_throws_as<std::logic_error>(cond.wait());
    CHECK(wait_threw);
    auto never = [] { return false; };
    bool wait_for_threw = co_await aio_test::co_throws_as<std::logic_error>(cond.wait_for(never));
    CHECK(wait_for_threw);
    CHECK(throws_as<std::logic_error>([&] { cond.notify(); }));
    CHECK(throws_as<std::logic_error>([&] { cond.notify_all(); }));
}

AIO_TEST_CASE("a wait cancelled while waiting re-acquires the lock before cancelled_error") {
    aio::condition cond;
    std::vector<std::string> events;
    int waiting = 0;
    auto a = wait_once(cond, events, waiting, "a");
    co_await yield_until(waiting, 1);
    co_await cond.acquire();
    a.cancel();
    for (int i = 0; i < 5; ++i) {
        co_await aio::sleep(0s); // a cannot finish its wait: main holds the lock
    }
    events.push_back("main releases");
    cond.release();
    co_await a();
    events.push_back("end " + lock_state(cond));
    CHECK(join(events) == "main releases|a cancelled locked|a releases|end unlocked");
}

AIO_TEST_CASE("a wait cancelled while it re-acquires the lock still gets the lock first") {
    aio::condition cond;
    std::vector<std::string> events;
    int waiting = 0;
    auto a = wait_once(cond, events, waiting, "a");
    auto b = wait_once(cond, events, waiting, "b");
    co_await yield_until(waiting, 2);
    co_await cond.acquire();
    cond.notify();
    // a runs again and queues for the lock main holds; then it is cancelled there.
    co_await aio::sleep(0s);
    co_await aio::sleep(0s);
    a.cancel();
    co_await aio::sleep(0s);
    co_await aio::sleep(0s);
    events.push_back("main releases");
    cond.release();
    co_await a();
    // b was not notified: the notification a used is not passed on.
    events.push_back("b still waits");
    {
        auto held = co_await cond.scoped();
        cond.notify();
    }
    co_await b();
    CHECK(join(events) ==
          "main releases|a cancelled locked|a releases|b still waits|b woke locked|b releases");
}

AIO_TEST_CASE("a waiter cancelled after it was notified passes the notification on") {
    aio::condition cond;
    std::vector<std::string> events;
    int waiting = 0;
    auto a = wait_once(cond, events, waiting, "a");
    auto b = wait_once(cond, events, waiting, "b");
    co_await yield_until(waiting, 2);
    {
        auto held = co_await cond.scoped();
        cond.notify(); // notifies a...
        a.cancel();    // ...which is cancelled before it runs again
    }
    co_await a();
    co_await b();
    CHECK(join(events) == "a cancelled locked|a releases|b woke locked|b releases");
}

AIO_TEST_CASE("a condition on a shared lock waits and notifies through that lock") {
    aio::lock lk;
    aio::condition cond(lk);
    std::vector<std::string> events;
    int waiting = 0;
    co_await lk.acquire();
    CHECK(cond.locked());
    lk.release();
    auto a = wait_once(cond, events, waiting, "a");
    co_await yield_until(waiting, 1);
    CHECK_FALSE(lk.locked()); // a waits with the lock free
    co_await lk.acquire();
    cond.notify();
    lk.release();
    co_await a();
    CHECK(join(events) == "a woke locked|a releases");
}

AIO_TEST_CASE("many tasks, some cancelled, never hold the condition's lock together and leave it "
              "free") {
    aio::condition cond;
    auto enter = [&cond] { return cond.scoped(); };
    aio_test::crowd_report r = co_await aio_test::crowd(enter, 9);
    CHECK(r.most_inside == 1);
    CHECK(r.inside_at_end == 0);
    CHECK(r.completed + r.cancelled == aio_test::crowd_size);
    CHECK(r.cancelled > 0);
    CHECK_FALSE(cond.locked());
}

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

TEST_CASE("wait releases the lock and returns holding it again after notify") {
    std::vector<std::string> events;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::condition cond;
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
    });
    CHECK(join(events) == "main sees unlocked|main releases|a woke locked|a releases|end unlocked");
}

TEST_CASE("notify(n) wakes exactly n waiters, the longest-waiting first") {
    std::vector<std::string> events;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::condition cond;
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
    });
    CHECK(join(events) == "notify 2|a woke locked|a releases|b woke locked|b releases|"
                          "notify 1|c woke locked|c releases|notify 0|"
                          "notify 5|d woke locked|d releases|e woke locked|e releases");
}

TEST_CASE("notify_all wakes every waiter, and they take the lock one at a time") {
    std::vector<std::string> events;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::condition cond;
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
    });
    CHECK(join(events) ==
          "notify_all|a woke locked|a releases|b woke locked|b releases|c woke locked|c releases");
}

TEST_CASE("wait_for returns the predicate's value once it holds, testing it under the lock") {
    std::vector<int> seen;
    bool always_locked = true;
    std::optional<int> result;
    int ran = 0;
    int ran_after_true_predicate = -1;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::condition cond;
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

        // A predicate that holds at once returns without waiting or yielding.
        auto other = aio::create_task([&]() -> aio::awaitable<void> {
            ++ran;
            co_return;
        });
        auto held = co_await cond.scoped();
        auto always = [] { return true; };
        co_await cond.wait_for(always);
        ran_after_true_predicate = ran;
        held.release();
        co_await other();
    });
    CHECK(seen == std::vector<int>{0, 1, 2, 3});
    CHECK(always_locked);
    CHECK(result == std::optional<int>(30));
    CHECK(ran_after_true_predicate == 0);
}

TEST_CASE("wait, wait_for, notify and notify_all without the lock throw std::logic_error") {
    bool wait_threw = false;
    bool wait_for_threw = false;
    bool notify_threw = false;
    bool notify_all_threw = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::condition cond;
        try {
            co_await cond.wait();
        } catch (const std::logic_error&) {
            wait_threw = true;
        }
        try {
            auto never = [] { return false; };
            co_await cond.wait_for(never);
        } catch (const std::logic_error&) {
            wait_for_threw = true;
        }
        notify_threw = throws_as<std::logic_error>([&] { cond.notify(); });
        notify_all_threw = throws_as<std::logic_error>([&] { cond.notify_all(); });
    });
    CHECK(wait_threw);
    CHECK(wait_for_threw);
    CHECK(notify_threw);
    CHECK(notify_all_threw);
}

TEST_CASE("a wait cancelled while waiting re-acquires the lock before cancelled_error") {
    std::vector<std::string> events;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::condition cond;
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
    });
    CHECK(join(events) == "main releases|a cancelled locked|a releases|end unlocked");
}

TEST_CASE("a wait cancelled while it re-acquires the lock still gets the lock first") {
    std::vector<std::string> events;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::condition cond;
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
    });
    CHECK(join(events) ==
          "main releases|a cancelled locked|a releases|b still waits|b woke locked|b releases");
}

TEST_CASE("a waiter cancelled after it was notified passes the notification on") {
    std::vector<std::string> events;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::condition cond;
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
    });
    CHECK(join(events) == "a cancelled locked|a releases|b woke locked|b releases");
}

TEST_CASE("a condition on a shared lock waits and notifies through that lock") {
    std::vector<std::string> events;
    bool shares_state = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::lock lk;
        aio::condition cond(lk);
        int waiting = 0;
        co_await lk.acquire();
        shares_state = cond.locked();
        lk.release();
        auto a = wait_once(cond, events, waiting, "a");
        co_await yield_until(waiting, 1);
        events.push_back(lk.locked() ? "lock held while a waits" : "lock free while a waits");
        co_await lk.acquire();
        cond.notify();
        lk.release();
        co_await a();
    });
    CHECK(shares_state);
    CHECK(join(events) == "lock free while a waits|a woke locked|a releases");
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

// Tests of aio/lock.hpp: lock, its FIFO hand-over, cancellation at its await, lock::guard.
#include "fixtures.hpp"

#include <aio/lock.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace {

using aio_test::join;
using aio_test::throws_as;
using aio_test::yield_until;

/// A task that queues for the lock, records `name` once it holds it, yields once while
/// holding it, then releases it.
aio::task<void> take_turn(aio::lock& lk, std::vector<std::string>& order, int& queued,
                          std::string name) {
    return aio::create_task([&lk, &order, &queued, name]() -> aio::awaitable<void> {
        ++queued;
        co_await lk.acquire();
        order.push_back(name);
        co_await aio::sleep(0s);
        lk.release();
    });
}

/// A task that queues for the lock and records whether it got it or was cancelled.
aio::task<void> take_or_record_cancel(aio::lock& lk, std::vector<std::string>& order, int& queued,
                                      std::string name) {
    return aio::create_task([&lk, &order, &queued, name]() -> aio::awaitable<void> {
        ++queued;
        try {
            co_await lk.acquire();
        } catch (const aio::cancelled_error&) {
            order.push_back(name + " cancelled");
            co_return;
        }
        order.push_back(name);
        lk.release();
    });
}

} // namespace

TEST_CASE("a free lock is acquired and released; releasing an unlocked lock throws") {
    bool initially_locked = true;
    bool locked_after_acquire = false;
    bool locked_after_release = true;
    bool second_release_threw = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::lock lk;
        initially_locked = lk.locked();
        co_await lk.acquire();
        locked_after_acquire = lk.locked();
        lk.release();
        locked_after_release = lk.locked();
        second_release_threw = throws_as<std::logic_error>([&] { lk.release(); });
    });
    CHECK_FALSE(initially_locked);
    CHECK(locked_after_acquire);
    CHECK_FALSE(locked_after_release);
    CHECK(second_release_threw);
}

TEST_CASE("acquiring a free lock completes without yielding to other tasks") {
    int ran = 0;
    int ran_after_acquire = -1;
    int ran_after_scoped = -1;
    int ran_after_yield = -1;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::lock lk;
        auto other = aio::create_task([&]() -> aio::awaitable<void> {
            ++ran;
            co_return;
        });
        co_await lk.acquire();
        ran_after_acquire = ran;
        lk.release();
        {
            auto held = co_await lk.scoped();
            ran_after_scoped = ran;
        }
        co_await aio::sleep(0s);
        ran_after_yield = ran;
        co_await other();
    });
    CHECK(ran_after_acquire == 0);
    CHECK(ran_after_scoped == 0);
    CHECK(ran_after_yield == 1);
}

TEST_CASE("waiters get the lock in arrival order and a newcomer queues behind them") {
    std::vector<std::string> order;
    bool locked_while_handed_over = false;
    bool locked_at_end = true;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::lock lk;
        int queued = 0;
        co_await lk.acquire();
        auto a = take_turn(lk, order, queued, "a");
        auto b = take_turn(lk, order, queued, "b");
        auto c = take_turn(lk, order, queued, "c");
        co_await yield_until(queued, 3);
        order.push_back("release");
        lk.release();
        // a now owns the lock but has not run yet: main, arriving now, must queue behind c.
        locked_while_handed_over = lk.locked();
        co_await lk.acquire();
        order.push_back("main");
        lk.release();
        co_await a();
        co_await b();
        co_await c();
        locked_at_end = lk.locked();
    });
    CHECK(join(order) == "release|a|b|c|main");
    CHECK(locked_while_handed_over);
    CHECK_FALSE(locked_at_end);
}

TEST_CASE("a waiter cancelled while queued leaves the queue and the next waiter gets the lock") {
    std::vector<std::string> order;
    bool cancelled_task_ended_normally = false;
    bool locked_at_end = true;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::lock lk;
        int queued = 0;
        co_await lk.acquire();
        // a catches the cancellation and queues again: it was delivered once, and the lock
        // accepts a new waiter normally.
        auto a = aio::create_task([&]() -> aio::awaitable<void> {
            ++queued;
            try {
                co_await lk.acquire();
                order.push_back("a");
                lk.release();
                co_return;
            } catch (const aio::cancelled_error&) {
                order.push_back("a cancelled");
            }
            co_await lk.acquire();
            order.push_back("a again");
            lk.release();
        });
        auto b = take_turn(lk, order, queued, "b");
        co_await yield_until(queued, 2);
        a.cancel();
        lk.release();
        co_await a();
        co_await b();
        cancelled_task_ended_normally = a.done() && !a.cancelled();
        locked_at_end = lk.locked();
    });
    CHECK(join(order) == "a cancelled|b|a again");
    CHECK(cancelled_task_ended_normally);
    CHECK_FALSE(locked_at_end);
}

TEST_CASE("a waiter cancelled after it was handed the lock passes the lock to the next waiter") {
    std::vector<std::string> order;
    bool locked_at_end = true;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::lock lk;
        int queued = 0;
        co_await lk.acquire();
        auto a = take_or_record_cancel(lk, order, queued, "a");
        auto b = take_or_record_cancel(lk, order, queued, "b");
        co_await yield_until(queued, 2);
        lk.release(); // hands the lock to a...
        a.cancel();   // ...which is cancelled before it runs again
        co_await a();
        co_await b();
        locked_at_end = lk.locked();
    });
    CHECK(join(order) == "a cancelled|b");
    CHECK_FALSE(locked_at_end);
}

TEST_CASE("a waiter cancelled after it was handed the lock frees it when nobody else waits") {
    std::vector<std::string> order;
    bool locked_after_cancel = false;
    bool locked_at_end = true;
    int ran = 0;
    int ran_after_acquire = -1;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::lock lk;
        int queued = 0;
        co_await lk.acquire();
        auto a = take_or_record_cancel(lk, order, queued, "a");
        co_await yield_until(queued, 1);
        lk.release();
        a.cancel();
        locked_after_cancel = lk.locked();
        co_await a();
        locked_at_end = lk.locked();
        // The lock is really free: taken again at once.
        auto other = aio::create_task([&]() -> aio::awaitable<void> {
            ++ran;
            co_return;
        });
        co_await lk.acquire();
        ran_after_acquire = ran;
        lk.release();
        co_await other();
    });
    CHECK(join(order) == "a cancelled");
    CHECK(locked_after_cancel);
    CHECK_FALSE(locked_at_end);
    CHECK(ran_after_acquire == 0);
}

TEST_CASE("scoped returns a movable guard that releases the lock once") {
    bool default_owns = true;
    bool owns = false;
    bool locked_with_guard = false;
    bool moved_from_owns = true;
    bool moved_to_owns = false;
    bool locked_after_guard_release = true;
    bool owns_after_release = true;
    bool locked_after_scope = true;
    bool locked_after_assignment = true;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::lock lk;
        default_owns = aio::lock::guard().owns();
        {
            auto held = co_await lk.scoped();
            owns = held.owns();
            locked_with_guard = lk.locked();
            aio::lock::guard moved = std::move(held);
            moved_from_owns = held.owns();
            moved_to_owns = static_cast<bool>(moved);
            moved.release();
            locked_after_guard_release = lk.locked();
            owns_after_release = moved.owns();
            moved.release(); // a released guard owns nothing: no second release
        }
        { auto held = co_await lk.scoped(); }
        locked_after_scope = lk.locked();
        {
            aio::lock other;
            auto held = co_await lk.scoped();
            held = co_await other.scoped(); // releases lk, now owns other
            locked_after_assignment = lk.locked() || !other.locked();
        }
    });
    CHECK_FALSE(default_owns);
    CHECK(owns);
    CHECK(locked_with_guard);
    CHECK_FALSE(moved_from_owns);
    CHECK(moved_to_owns);
    CHECK_FALSE(locked_after_guard_release);
    CHECK_FALSE(owns_after_release);
    CHECK_FALSE(locked_after_scope);
    CHECK_FALSE(locked_after_assignment);
}

TEST_CASE("a guard releases the lock when the body throws, and the next waiter gets it") {
    std::vector<std::string> order;
    std::string caught;
    bool locked_at_end = true;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::lock lk;
        int queued = 0;
        auto body = [&]() -> aio::awaitable<void> {
            auto held = co_await lk.scoped();
            co_await yield_until(queued, 1);
            throw std::runtime_error("body failed");
        };
        auto failing = aio::create_task([&]() -> aio::awaitable<void> {
            try {
                co_await body();
            } catch (const std::runtime_error& e) {
                caught = e.what();
            }
        });
        co_await aio::sleep(0s);
        auto next = take_turn(lk, order, queued, "next");
        co_await failing();
        co_await next();
        locked_at_end = lk.locked();
    });
    CHECK(caught == "body failed");
    CHECK(join(order) == "next");
    CHECK_FALSE(locked_at_end);
}

TEST_CASE("a task cancelled while it holds a guard releases the lock") {
    bool locked_while_held = false;
    bool holder_cancelled = false;
    bool locked_at_end = true;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::lock lk;
        int holding = 0;
        auto holder = aio::create_task([&]() -> aio::awaitable<void> {
            auto held = co_await lk.scoped();
            ++holding;
            co_await aio::sleep(10s);
        });
        co_await yield_until(holding, 1);
        locked_while_held = lk.locked();
        holder.cancel();
        try {
            co_await holder();
        } catch (const aio::cancelled_error&) {
        }
        holder_cancelled = holder.cancelled();
        locked_at_end = lk.locked();
    });
    CHECK(locked_while_held);
    CHECK(holder_cancelled);
    CHECK_FALSE(locked_at_end);
}

TEST_CASE("scoped cancelled while queued or just after the hand-over returns no guard") {
    std::vector<std::string> events;
    bool locked_at_end = true;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::lock lk;
        int queued = 0;
        auto wants_guard = [&](std::string name) {
            return aio::create_task([&lk, &events, &queued, name]() -> aio::awaitable<void> {
                ++queued;
                try {
                    auto held = co_await lk.scoped();
                    events.push_back(name + " got a guard");
                } catch (const aio::cancelled_error&) {
                    events.push_back(name + " cancelled, locked=" +
                                     std::to_string(static_cast<int>(lk.locked())));
                }
            });
        };
        co_await lk.acquire();
        auto queued_then_cancelled = wants_guard("a");
        co_await yield_until(queued, 1);
        queued_then_cancelled.cancel();
        co_await queued_then_cancelled();

        auto handed_then_cancelled = wants_guard("b");
        co_await yield_until(queued, 2);
        lk.release();
        handed_then_cancelled.cancel();
        co_await handed_then_cancelled();
        locked_at_end = lk.locked();
    });
    CHECK(join(events) == "a cancelled, locked=1|b cancelled, locked=0");
    CHECK_FALSE(locked_at_end);
}
AIO_TEST_CASE("many tasks, some cancelled, never hold the lock together and leave it free") {
    aio::lock lk;
    auto enter = [&lk] { return lk.scoped(); };
    aio_test::crowd_report r = co_await aio_test::crowd(enter, 9);
    CHECK(r.most_inside == 1);
    CHECK(r.inside_at_end == 0);
    CHECK(r.completed + r.cancelled == aio_test::crowd_size);
    CHECK(r.cancelled > 0);
    CHECK_FALSE(lk.locked());
}

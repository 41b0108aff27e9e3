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

using aio_test::cancel_and_await;
using aio_test::count_run;
using aio_test::join;
using aio_test::take_turn;
using aio_test::throws_as;
using aio_test::yield_until;

} // namespace

AIO_TEST_CASE("a free lock is acquired and released, releasing an unlocked lock throws") {
    aio::lock lk;
    CHECK_FALSE(lk.locked());
    co_await lk.acquire();
    CHECK(lk.locked());
    lk.release();
    CHECK_FALSE(lk.locked());
    CHECK(throws_as<std::logic_error>([&] { lk.release(); }));
}

AIO_TEST_CASE("acquiring a free lock completes without yielding to other tasks") {
    aio::lock lk;
    int ran = 0;
    auto other = count_run(ran);
    co_await lk.acquire();
    CHECK(ran == 0);
    lk.release();
    {
        auto held = co_await lk.scoped();
        CHECK(ran == 0);
    }
    co_await aio::sleep(0s);
    CHECK(ran == 1);
    co_await other();
}

AIO_TEST_CASE("waiters get the lock in arrival order and a newcomer queues behind them") {
    aio::lock lk;
    // a is handed the lock but has not run yet when main, arriving then, queues behind c.
    aio_test::handover_report r = co_await aio_test::handover_order(lk);
    CHECK(r.order == "release|a|b|c|main");
    CHECK(r.locked_while_handed_over);
    CHECK_FALSE(lk.locked());
}

AIO_TEST_CASE(
    "a waiter cancelled while queued leaves the queue and the next waiter gets the lock") {
    aio::lock lk;
    std::vector<std::string> order;
    int queued = 0;
    co_await lk.acquire();
    // a catches the cancellation and queues again: it was delivered once, and the lock accepts a
    // new waiter normally.
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
    CHECK(join(order) == "a cancelled|b|a again");
    CHECK(a.done());
    CHECK_FALSE(a.cancelled());
    CHECK_FALSE(lk.locked());
}

AIO_TEST_CASE(
    "a waiter cancelled after it was handed the lock passes the lock to the next waiter") {
    aio::lock lk;
    std::vector<std::string> order;
    int queued = 0;
    co_await lk.acquire();
    auto a = take_turn(lk, order, queued, "a");
    auto b = take_turn(lk, order, queued, "b");
    co_await yield_until(queued, 2);
    lk.release(); // hands the lock to a...
    a.cancel();   // ...which is cancelled before it runs again
    co_await a();
    co_await b();
    CHECK(join(order) == "a cancelled|b");
    CHECK_FALSE(lk.locked());
}

AIO_TEST_CASE("a waiter cancelled after it was handed the lock frees it when nobody else waits") {
    aio::lock lk;
    std::vector<std::string> order;
    int queued = 0;
    co_await lk.acquire();
    auto a = take_turn(lk, order, queued, "a");
    co_await yield_until(queued, 1);
    lk.release();
    a.cancel();
    CHECK(lk.locked());
    co_await a();
    CHECK(join(order) == "a cancelled");
    CHECK_FALSE(lk.locked());
    // The lock is really free: taken again at once.
    int ran = 0;
    auto other = count_run(ran);
    co_await lk.acquire();
    CHECK(ran == 0);
    lk.release();
    co_await other();
}

AIO_TEST_CASE("scoped returns a movable guard that releases the lock once") {
    aio::lock lk;
    CHECK_FALSE(aio::lock::guard().owns());
    {
        auto held = co_await lk.scoped();
        CHECK(held.owns());
        CHECK(lk.locked());
        aio::lock::guard moved = std::move(held);
        CHECK_FALSE(held.owns());
        CHECK(static_cast<bool>(moved));
        moved.release();
        CHECK_FALSE(lk.locked());
        CHECK_FALSE(moved.owns());
        moved.release(); // a released guard owns nothing: no second release
    }
    { auto held = co_await lk.scoped(); }
    CHECK_FALSE(lk.locked());
    {
        aio::lock other;
        auto held = co_await lk.scoped();
        held = co_await other.scoped(); // releases lk, now owns other
        CHECK_FALSE(lk.locked());
        CHECK(other.locked());
    }
}

AIO_TEST_CASE("a guard releases the lock when the body throws, and the next waiter gets it") {
    aio::lock lk;
    std::vector<std::string> order;
    std::string caught;
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
    CHECK(caught == "body failed");
    co_await next();
    CHECK(join(order) == "next");
    CHECK_FALSE(lk.locked());
}

AIO_TEST_CASE("a task cancelled while it holds a guard releases the lock") {
    aio::lock lk;
    int holding = 0;
    auto holder = aio::create_task([&]() -> aio::awaitable<void> {
        auto held = co_await lk.scoped();
        ++holding;
        co_await aio::sleep(10s);
    });
    co_await yield_until(holding, 1);
    CHECK(lk.locked());
    bool ended_cancelled = co_await cancel_and_await(holder);
    CHECK(ended_cancelled);
    CHECK_FALSE(lk.locked());
}

AIO_TEST_CASE("scoped cancelled while queued or just after the hand-over returns no guard") {
    aio::lock lk;
    std::vector<std::string> events;
    int queued = 0;
    auto wants_guard = [&](std::string name) {
        return aio::create_task([&lk, &events, &queued, name]() -> aio::awaitable<void> {
            ++queued;
            try {
                auto held = co_await lk.scoped();
                events.push_back(name + " got a guard");
            } catch (const aio::cancelled_error&) {
                events.push_back(
                    name + " cancelled, locked=" + std::to_string(static_cast<int>(lk.locked())));
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
    CHECK(join(events) == "a cancelled, locked=1|b cancelled, locked=0");
    CHECK_FALSE(lk.locked());
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

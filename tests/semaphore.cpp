// Tests of aio/semaphore.hpp: semaphore, bounded_semaphore, FIFO hand-over, cancellation,
// semaphore::guard.
#include "fixtures.hpp"

#include <aio/semaphore.hpp>

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

/// Takes every free permit without waiting; returns how many there were.
aio::awaitable<int> drain(aio::semaphore& sem) {
    int taken = 0;
    while (!sem.locked()) {
        co_await sem.acquire();
        ++taken;
    }
    co_return taken;
}

/// A task that queues for a permit, records `name` once it has one (or that it was
/// cancelled), and releases the permit when `release_after` says so.
aio::task<void> take_permit(aio::semaphore& sem, std::vector<std::string>& order, int& queued,
                            std::string name, bool release_after = true) {
    return aio::create_task([&sem, &order, &queued, name, release_after]() -> aio::awaitable<void> {
        ++queued;
        try {
            co_await sem.acquire();
        } catch (const aio::cancelled_error&) {
            order.push_back(name + " cancelled");
            co_return;
        }
        order.push_back(name);
        if (release_after) {
            sem.release();
        }
    });
}

} // namespace

TEST_CASE("a semaphore hands out its permits at once, then makes acquire wait") {
    std::vector<std::string> order;
    bool locked_initially = true;
    bool locked_after_two = false;
    bool locked_at_end = true;
    int free_at_end = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::semaphore sem(2);
        int queued = 0;
        locked_initially = sem.locked();
        co_await sem.acquire();
        co_await sem.acquire();
        locked_after_two = sem.locked();
        auto third = take_permit(sem, order, queued, "third", false);
        co_await yield_until(queued, 1);
        order.push_back("release");
        sem.release();
        co_await third();
        sem.release();
        sem.release();
        locked_at_end = sem.locked();
        free_at_end = co_await drain(sem);
    });
    CHECK_FALSE(locked_initially);
    CHECK(locked_after_two);
    CHECK(join(order) == "release|third");
    CHECK_FALSE(locked_at_end);
    CHECK(free_at_end == 2);
}

TEST_CASE("a default semaphore has one permit, and a plain semaphore accepts extra releases") {
    int default_permits = 0;
    int after_extra_release = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::semaphore one;
        default_permits = co_await drain(one);
        aio::semaphore sem(0);
        sem.release();
        sem.release();
        after_extra_release = co_await drain(sem);
    });
    CHECK(default_permits == 1);
    CHECK(after_extra_release == 2);
}

TEST_CASE("a negative initial value throws std::invalid_argument") {
    CHECK_THROWS_AS(aio::semaphore(-1), std::invalid_argument);
    CHECK_THROWS_AS(aio::bounded_semaphore(-1), std::invalid_argument);
    CHECK_NOTHROW(aio::semaphore(0));
}

TEST_CASE("acquiring an available permit completes without yielding to other tasks") {
    int ran = 0;
    int ran_after_acquire = -1;
    int ran_after_scoped = -1;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::semaphore sem(2);
        auto other = aio::create_task([&]() -> aio::awaitable<void> {
            ++ran;
            co_return;
        });
        co_await sem.acquire();
        ran_after_acquire = ran;
        {
            auto permit = co_await sem.scoped();
            ran_after_scoped = ran;
        }
        sem.release();
        co_await other();
    });
    CHECK(ran_after_acquire == 0);
    CHECK(ran_after_scoped == 0);
}

TEST_CASE("waiters get permits in arrival order and a newcomer queues behind them") {
    std::vector<std::string> order;
    bool locked_while_handed_over = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::semaphore sem(1);
        int queued = 0;
        co_await sem.acquire();
        auto a = take_permit(sem, order, queued, "a");
        auto b = take_permit(sem, order, queued, "b");
        auto c = take_permit(sem, order, queued, "c");
        co_await yield_until(queued, 3);
        order.push_back("release");
        sem.release();
        // The permit went to a, which has not run yet: main, arriving now, queues behind c.
        locked_while_handed_over = sem.locked();
        co_await sem.acquire();
        order.push_back("main");
        sem.release();
        co_await a();
        co_await b();
        co_await c();
    });
    CHECK(join(order) == "release|a|b|c|main");
    CHECK(locked_while_handed_over);
}

TEST_CASE("a waiter cancelled while queued leaves and the next waiter gets the permit") {
    std::vector<std::string> order;
    int free_at_end = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::semaphore sem(0);
        int queued = 0;
        auto a = take_permit(sem, order, queued, "a");
        auto b = take_permit(sem, order, queued, "b");
        co_await yield_until(queued, 2);
        a.cancel();
        sem.release();
        co_await a();
        co_await b();
        free_at_end = co_await drain(sem);
    });
    CHECK(join(order) == "a cancelled|b");
    CHECK(free_at_end == 1);
}

TEST_CASE("a waiter cancelled after it was handed a permit passes it on") {
    std::vector<std::string> order;
    int free_at_end = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::semaphore sem(0);
        int queued = 0;
        auto a = take_permit(sem, order, queued, "a");
        auto b = take_permit(sem, order, queued, "b", false);
        co_await yield_until(queued, 2);
        sem.release(); // hands the permit to a...
        a.cancel();    // ...which is cancelled before it runs again
        co_await a();
        co_await b();
        free_at_end = co_await drain(sem); // b kept its permit: none is free
    });
    CHECK(join(order) == "a cancelled|b");
    CHECK(free_at_end == 0);
}

TEST_CASE("a waiter cancelled after it was handed a permit returns it when nobody waits") {
    std::vector<std::string> order;
    int free_at_end = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::bounded_semaphore sem(1);
        int queued = 0;
        co_await sem.acquire();
        auto a = take_permit(sem, order, queued, "a");
        co_await yield_until(queued, 1);
        sem.release();
        a.cancel();
        co_await a();
        free_at_end = co_await drain(sem);
    });
    CHECK(join(order) == "a cancelled");
    CHECK(free_at_end == 1);
}

TEST_CASE("bounded_semaphore throws std::logic_error on a release without an acquire") {
    bool release_when_full = false;
    bool second_release = false;
    bool zero_bound_release = false;
    int free_at_end = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::bounded_semaphore sem(2);
        release_when_full = throws_as<std::logic_error>([&] { sem.release(); });
        co_await sem.acquire();
        sem.release();
        second_release = throws_as<std::logic_error>([&] { sem.release(); });
        aio::bounded_semaphore none(0);
        zero_bound_release = throws_as<std::logic_error>([&] { none.release(); });
        free_at_end = co_await drain(sem); // the failed releases changed nothing
    });
    CHECK(release_when_full);
    CHECK(second_release);
    CHECK(zero_bound_release);
    CHECK(free_at_end == 2);
}

TEST_CASE("scoped returns a guard that releases its permit at scope end and on exception") {
    bool owns = false;
    bool moved_from_owns = true;
    bool locked_with_guard = false;
    bool locked_after_release = true;
    std::string caught;
    int free_at_end = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::bounded_semaphore sem(1);
        {
            auto permit = co_await sem.scoped();
            owns = permit.owns();
            aio::semaphore::guard moved = std::move(permit);
            moved_from_owns = permit.owns();
            locked_with_guard = sem.locked();
            moved.release();
            locked_after_release = sem.locked();
        } // a released guard releases nothing more (a second release would throw here)
        auto body = [&]() -> aio::awaitable<void> {
            auto permit = co_await sem.scoped();
            throw std::runtime_error("body failed");
        };
        try {
            co_await body();
        } catch (const std::runtime_error& e) {
            caught = e.what();
        }
        free_at_end = co_await drain(sem);
    });
    CHECK(owns);
    CHECK_FALSE(moved_from_owns);
    CHECK(locked_with_guard);
    CHECK_FALSE(locked_after_release);
    CHECK(caught == "body failed");
    CHECK(free_at_end == 1);
}
AIO_TEST_CASE("many tasks, some cancelled, never exceed the permits and return them all") {
    aio::bounded_semaphore sem(3);
    auto enter = [&sem] { return sem.scoped(); };
    aio_test::crowd_report r = co_await aio_test::crowd(enter, 7);
    CHECK(r.most_inside == 3);
    CHECK(r.inside_at_end == 0);
    CHECK(r.completed + r.cancelled == aio_test::crowd_size);
    CHECK(r.cancelled > 0);
    int free_at_end = co_await drain(sem);
    CHECK(free_at_end == 3);
}

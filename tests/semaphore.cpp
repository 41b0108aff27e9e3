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

using aio_test::count_run;
using aio_test::join;
using aio_test::take_turn;
using aio_test::throws_as;
using aio_test::yield_until;

/// Takes every free permit without waiting; returns how many there were.
aio::awaitable<int> take_free_permits(aio::semaphore& sem) {
    int taken = 0;
    while (!sem.locked()) {
        co_await sem.acquire();
        ++taken;
    }
    co_return taken;
}

} // namespace

AIO_TEST_CASE("a semaphore hands out its permits at once, then makes acquire wait") {
    aio::semaphore sem(2);
    std::vector<std::string> order;
    int queued = 0;
    CHECK_FALSE(sem.locked());
    co_await sem.acquire();
    co_await sem.acquire();
    CHECK(sem.locked());
    auto third = take_turn(sem, order, queued, "third", false);
    co_await yield_until(queued, 1);
    order.push_back("release");
    sem.release();
    co_await third();
    CHECK(join(order) == "release|third");
    sem.release();
    sem.release();
    CHECK_FALSE(sem.locked());
    int free_at_end = co_await take_free_permits(sem);
    CHECK(free_at_end == 2);
}

AIO_TEST_CASE("a default semaphore has one permit, and a plain semaphore accepts extra releases") {
    aio::semaphore one;
    int default_permits = co_await take_free_permits(one);
    CHECK(default_permits == 1);
    aio::semaphore sem(0);
    sem.release();
    sem.release();
    int after_extra_release = co_await take_free_permits(sem);
    CHECK(after_extra_release == 2);
}

TEST_CASE("a negative initial value throws std::invalid_argument") {
    CHECK_THROWS_AS(aio::semaphore(-1), std::invalid_argument);
    CHECK_THROWS_AS(aio::bounded_semaphore(-1), std::invalid_argument);
    CHECK_NOTHROW(aio::semaphore(0));
}

AIO_TEST_CASE("acquiring an available permit completes without yielding to other tasks") {
    aio::semaphore sem(2);
    int ran = 0;
    auto other = count_run(ran);
    co_await sem.acquire();
    CHECK(ran == 0);
    {
        auto permit = co_await sem.scoped();
        CHECK(ran == 0);
    }
    sem.release();
    co_await other();
}

AIO_TEST_CASE("waiters get permits in arrival order and a newcomer queues behind them") {
    aio::semaphore sem(1);
    // The permit goes to a, which has not run yet when main, arriving then, queues behind c.
    aio_test::handover_report r = co_await aio_test::handover_order(sem);
    CHECK(r.order == "release|a|b|c|main");
    CHECK(r.locked_while_handed_over);
}

AIO_TEST_CASE("a waiter cancelled while queued leaves and the next waiter gets the permit") {
    aio::semaphore sem(0);
    std::vector<std::string> order;
    int queued = 0;
    auto a = take_turn(sem, order, queued, "a");
    auto b = take_turn(sem, order, queued, "b");
    co_await yield_until(queued, 2);
    a.cancel();
    sem.release();
    co_await a();
    co_await b();
    CHECK(join(order) == "a cancelled|b");
    int free_at_end = co_await take_free_permits(sem);
    CHECK(free_at_end == 1);
}

AIO_TEST_CASE("a waiter cancelled after it was handed a permit passes it on") {
    aio::semaphore sem(0);
    std::vector<std::string> order;
    int queued = 0;
    auto a = take_turn(sem, order, queued, "a");
    auto b = take_turn(sem, order, queued, "b", false);
    co_await yield_until(queued, 2);
    sem.release(); // hands the permit to a...
    a.cancel();    // ...which is cancelled before it runs again
    co_await a();
    co_await b();
    CHECK(join(order) == "a cancelled|b");
    int free_at_end = co_await take_free_permits(sem);
    CHECK(free_at_end == 0); // b kept its permit: none is free
}

AIO_TEST_CASE("a waiter cancelled after it was handed a permit returns it when nobody waits") {
    aio::bounded_semaphore sem(1);
    std::vector<std::string> order;
    int queued = 0;
    co_await sem.acquire();
    auto a = take_turn(sem, order, queued, "a");
    co_await yield_until(queued, 1);
    sem.release();
    a.cancel();
    co_await a();
    CHECK(join(order) == "a cancelled");
    int free_at_end = co_await take_free_permits(sem);
    CHECK(free_at_end == 1);
}

AIO_TEST_CASE("bounded_semaphore throws std::logic_error on a release without an acquire") {
    aio::bounded_semaphore sem(2);
    CHECK(throws_as<std::logic_error>([&] { sem.release(); }));
    co_await sem.acquire();
    sem.release();
    CHECK(throws_as<std::logic_error>([&] { sem.release(); }));
    aio::bounded_semaphore none(0);
    CHECK(throws_as<std::logic_error>([&] { none.release(); }));
    int free_at_end = co_await take_free_permits(sem);
    CHECK(free_at_end == 2); // the failed releases changed nothing
}

AIO_TEST_CASE("scoped returns a guard that releases its permit at scope end and on exception") {
    aio::bounded_semaphore sem(1);
    {
        auto permit = co_await sem.scoped();
        CHECK(permit.owns());
        aio::semaphore::guard moved = std::move(permit);
        CHECK_FALSE(permit.owns());
        CHECK(sem.locked());
        moved.release();
        CHECK_FALSE(sem.locked());
    } // a released guard releases nothing more (a second release would throw here)
    auto body = [&]() -> aio::awaitable<void> {
        auto permit = co_await sem.scoped();
        throw std::runtime_error("body failed");
    };
    std::string caught;
    try {
        co_await body();
    } catch (const std::runtime_error& e) {
        caught = e.what();
    }
    CHECK(caught == "body failed");
    int free_at_end = co_await take_free_permits(sem);
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
    int free_at_end = co_await take_free_permits(sem);
    CHECK(free_at_end == 3);
}

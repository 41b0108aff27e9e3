// Tests of aio/as_completed.hpp: as_completed(tasks).
#include "support.hpp"

#include <aio/as_completed.hpp>
#include <aio/comprehension.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

using aio_test::holds;
using aio_test::join;

std::vector<aio::task<int>> tasks_of(std::vector<aio::future<int>>& futures) {
    std::vector<aio::task<int>> tasks;
    for (auto& f : futures) {
        tasks.push_back(f.as_task());
    }
    return tasks;
}

} // namespace

TEST_CASE("as_completed yields the tasks in the order they finish") {
    std::vector<int> order;
    aio_test::run([&]() -> aio::awaitable<void> {
        std::vector<aio::future<int>> futures(4);
        auto tasks = tasks_of(futures);
        auto gen = aio::as_completed(tasks);
        futures[2].set_result(2);
        futures[0].set_result(0);
        auto setter = aio::create_task([&]() -> aio::awaitable<void> {
            futures[3].set_result(3);
            co_await aio::sleep(0s);
            futures[1].set_result(1);
        });
        while (std::optional<aio::task<int>> t = co_await gen.next()) {
            order.push_back(co_await (*t)());
        }
        co_await setter();
    });
    CHECK(order == std::vector<int>{2, 0, 3, 1});
}

TEST_CASE("as_completed yields the original tasks, running ones as they finish") {
    std::vector<std::string> events;
    bool originals = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> go_slow;
        aio::future<void> go_fast;
        auto worker = [](std::string name, aio::future<void> go) -> aio::awaitable<std::string> {
            co_await go();
            co_return name;
        };
        std::vector<aio::task<std::string>> tasks{aio::create_task(worker("slow", go_slow)),
                                                  aio::create_task(worker("fast", go_fast))};
        auto gen = aio::as_completed(tasks);
        go_fast.set_result();
        std::vector<aio::task<std::string>> yielded;
        while (std::optional<aio::task<std::string>> t = co_await gen.next()) {
            yielded.push_back(*t);
            events.push_back(co_await (*t)());
            if (!go_slow.done()) {
                events.push_back("release slow");
                go_slow.set_result();
            }
        }
        originals = yielded.size() == 2 && yielded[0] == tasks[1] && yielded[1] == tasks[0];
    });
    CHECK(join(events) == "fast|release slow|slow");
    CHECK(originals);
}

TEST_CASE("as_completed yields tasks that were done already first, in input order") {
    std::vector<int> order;
    aio_test::run([&]() -> aio::awaitable<void> {
        std::vector<aio::future<int>> futures(3);
        futures[2].set_result(2);
        futures[1].set_result(1);
        auto gen = aio::as_completed(tasks_of(futures));
        futures[0].set_result(0);
        while (std::optional<aio::task<int>> t = co_await gen.next()) {
            order.push_back(t->result());
        }
    });
    CHECK(order == std::vector<int>{1, 2, 0});
}

TEST_CASE("as_completed yields failed and cancelled tasks too") {
    std::vector<std::string> outcomes;
    aio_test::run([&]() -> aio::awaitable<void> {
        std::vector<aio::future<int>> futures(3);
        auto gen = aio::as_completed(tasks_of(futures));
        futures[1].set_exception(std::make_exception_ptr(std::runtime_error("failed")));
        futures[0].cancel();
        futures[2].set_result(7);
        while (std::optional<aio::task<int>> t = co_await gen.next()) {
            try {
                outcomes.push_back(std::to_string(co_await (*t)()));
            } catch (const std::runtime_error& e) {
                outcomes.push_back(e.what());
            } catch (const aio::cancelled_error&) {
                outcomes.push_back("cancelled");
            }
        }
    });
    CHECK(join(outcomes) == "failed|cancelled|7");
}

TEST_CASE("as_completed takes any range of tasks, and an empty one ends at once") {
    std::vector<aio::any_task> collected;
    bool empty_ended = false;
    bool same = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> f;
        f.set_result();
        std::vector<aio::any_task> tasks{f.as_task()};
        collected = co_await aio::collect(aio::as_completed(tasks));
        same = collected.size() == 1 && collected[0] == tasks[0];
        auto none = aio::as_completed(std::vector<aio::task<int>>{});
        empty_ended = !(co_await none.next()).has_value();
    });
    CHECK(same);
    CHECK(empty_ended);
}

TEST_CASE("closing as_completed early cancels nothing and leaves nothing registered") {
    int first = -1;
    bool any_cancelled = true;
    std::vector<int> results;
    aio_test::run([&]() -> aio::awaitable<void> {
        std::vector<aio::future<int>> futures(3);
        auto tasks = tasks_of(futures);
        {
            auto gen = aio::as_completed(tasks);
            futures[1].set_result(1);
            first = (co_await gen.next()).value().result();
            co_await gen.aclose();
        }
        {
            auto gen = aio::as_completed(tasks);
            (void)co_await gen.next();
        }
        // The generators are gone: finishing the tasks now must not reach them.
        futures[0].set_result(0);
        futures[2].set_result(2);
        co_await aio::sleep(0s);
        any_cancelled = false;
        for (auto& t : tasks) {
            any_cancelled = any_cancelled || t.cancelled();
            results.push_back(co_await t());
        }
    });
    CHECK(first == 1);
    CHECK_FALSE(any_cancelled);
    CHECK(results == std::vector<int>{0, 1, 2});
}

TEST_CASE("cancelling the consumer of as_completed stops waiting and cancels no task") {
    bool consumer_threw = false;
    bool task_cancelled = true;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<int> never;
        std::vector<aio::task<int>> tasks{never.as_task()};
        auto consumer = aio::create_task([&]() -> aio::awaitable<void> {
            auto gen = aio::as_completed(tasks);
            try {
                (void)co_await gen.next();
            } catch (const aio::cancelled_error&) {
                consumer_threw = true;
                throw;
            }
        });
        co_await aio::sleep(0s);
        consumer.cancel();
        co_await consumer.wait_done();
        task_cancelled = never.cancelled();
        never.set_result(1);
    });
    CHECK(consumer_threw);
    CHECK_FALSE(task_cancelled);
}

namespace {

aio::awaitable<int> value_when_open(aio::future<void> gate, int value) {
    co_await gate();
    co_return value;
}

} // namespace

AIO_TEST_CASE("as_completed yields tasks that finish in reverse order in that order, parking "
              "between them") {
    std::vector<aio::future<void>> gates(4);
    std::vector<aio::task<int>> tasks;
    for (int i = 0; i < 4; ++i) {
        tasks.push_back(aio::create_task(value_when_open(gates[static_cast<std::size_t>(i)], i)));
    }
    auto gen = aio::as_completed(tasks);
    std::vector<int> order;
    std::vector<std::size_t> done_when_yielded;
    auto opener = aio::create_task([&]() -> aio::awaitable<void> {
        for (std::size_t i = 4; i-- > 0;) {
            gates[i].set_result();
            std::size_t yielded = order.size();
            while (order.size() == yielded) { // the consumer takes this one before the next opens
                co_await aio::sleep(0s);
            }
        }
    });
    while (std::optional<aio::task<int>> t = co_await gen.next()) {
        std::size_t done = 0;
        for (const auto& task : tasks) {
            done += task.done() ? 1 : 0;
        }
        done_when_yielded.push_back(done);
        order.push_back(t->result());
    }
    co_await opener();
    CHECK(order == std::vector<int>{3, 2, 1, 0});
    CHECK(done_when_yielded == std::vector<std::size_t>{1, 2, 3, 4});
}

AIO_TEST_CASE("as_completed dropped before its first next() leaves nothing registered") {
    // A done waiter left on a task would run into the freed generator when the task finishes
    // (the sanitizer build catches it); the tasks finish normally and cancel nothing.
    std::vector<aio::future<int>> futures(3);
    auto tasks = tasks_of(futures);
    {
        auto gen = aio::as_completed(tasks);
        futures[1].set_result(1);
    }
    futures[2].set_result(2);
    futures[0].set_result(0);
    co_await aio::sleep(0s);
    std::vector<int> results;
    for (auto& t : tasks) {
        int v = co_await t();
        results.push_back(v);
    }
    CHECK(results == std::vector<int>{0, 1, 2});
}

// Tests of aio/task.hpp: create_task, task<T>, current_task, all_tasks.
#include "fixtures.hpp"

#include <aio/task.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

using aio_test::cancel_and_await;
using aio_test::co_throws_as;
using aio_test::fail_after_yield;
using aio_test::holds;
using aio_test::join;
using aio_test::start_task;
using aio_test::throws_as;
using aio_test::value_now;

aio::awaitable<aio::any_task> who_am_i() {
    co_return co_await aio::current_task();
}

bool contains(const std::vector<aio::any_task>& tasks, const aio::any_task& t) {
    return std::find(tasks.begin(), tasks.end(), t) != tasks.end();
}

struct no_default {
    explicit no_default(int v) : value(v) {}
    int value;
};

} // namespace

AIO_TEST_CASE("create_task starts the body only after the creator yields") {
    std::vector<std::string> events;
    auto t = aio::create_task([&]() -> aio::awaitable<void> {
        events.push_back("body");
        co_return;
    });
    events.push_back("created");
    CHECK_FALSE(t.done());
    co_await aio::sleep(0s);
    events.push_back("after yield");
    co_await t();
    CHECK(join(events) == "created|body|after yield");
}

AIO_TEST_CASE("a task whose body returns without awaiting is done after one yield, as in asyncio") {
    auto t = aio::create_task(value_now(5));
    co_await aio::sleep(0s);
    CHECK(t.done());
    CHECK(t.result() == 5);
}

AIO_TEST_CASE("awaiting a task returns its value or rethrows its exception") {
    auto good = aio::create_task(value_now(42));
    int value = co_await good();
    CHECK(value == 42);
    auto bad = aio::create_task(fail_after_yield("boom"));
    std::string message;
    try {
        co_await bad();
    } catch (const std::runtime_error& e) {
        message = e.what();
    }
    CHECK(message == "boom");
    CHECK(bad.done());
    CHECK_FALSE(bad.cancelled());
}

AIO_TEST_CASE("a task can be awaited twice") {
    auto t = aio::create_task(value_now(7));
    int first = co_await t();
    int second = co_await t();
    CHECK(first == 7);
    CHECK(second == 7);
    auto bad = aio::create_task(fail_after_yield("twice"));
    for (int i = 0; i < 2; ++i) {
        std::string message;
        try {
            co_await bad();
        } catch (const std::runtime_error& e) {
            message = e.what();
        }
        CHECK(message == "twice");
    }
}

AIO_TEST_CASE("several tasks awaiting one task all get its value") {
    std::vector<int> seen;
    aio::future<void> gate;
    auto source = aio::create_task([&]() -> aio::awaitable<int> {
        co_await gate();
        co_return 11;
    });
    std::vector<aio::task<void>> waiters;
    for (int i = 0; i < 3; ++i) {
        waiters.push_back(aio::create_task(
            [&seen, source]() -> aio::awaitable<void> { seen.push_back(co_await source()); }));
    }
    co_await aio::sleep(0s);
    CHECK(seen.empty());
    gate.set_result();
    for (auto& w : waiters) {
        co_await w();
    }
    CHECK(seen == std::vector<int>{11, 11, 11});
}

AIO_TEST_CASE("the callable overload keeps the captures alive") {
    std::weak_ptr<std::string> watch;
    aio::task<std::string> t;
    {
        auto shared = std::make_shared<std::string>("shared");
        std::string local = "local";
        watch = shared;
        t = aio::create_task([shared, local]() -> aio::awaitable<std::string> {
            co_await aio::sleep(0s);
            co_await aio::sleep(0s);
            co_return *shared + "+" + local;
        });
    }
    CHECK_FALSE(watch.expired());
    std::string result = co_await t();
    CHECK(result == "shared+local");
    CHECK(watch.expired()); // released with the coroutine, before the task's awaiters resume
}

AIO_TEST_CASE("cancel ends a task parked in sleep as cancelled") {
    bool body_went_on = false;
    auto t = co_await start_task([&](aio::future<void> started) -> aio::awaitable<void> {
        started.set_result();
        co_await aio::sleep(1h);
        body_went_on = true;
    });
    CHECK(t.cancel());
    CHECK(t.cancelling() == 1);
    bool await_threw = co_await co_throws_as<aio::cancelled_error>(t());
    CHECK(await_threw);
    CHECK(t.done());
    CHECK(t.cancelled());
    CHECK(holds<aio::cancelled_error>(t.exception()));
    CHECK_FALSE(t.cancel());
    CHECK_FALSE(body_went_on);
}

AIO_TEST_CASE("cancel on a task that returned a value returns false") {
    auto t = aio::create_task(value_now(3));
    int value = co_await t();
    CHECK(value == 3);
    CHECK_FALSE(t.cancel());
    CHECK_FALSE(t.cancelled());
}

AIO_TEST_CASE("a task can catch the cancellation and await cleanup before rethrowing") {
    std::vector<std::string> events;
    auto t = co_await start_task([&](aio::future<void> started) -> aio::awaitable<void> {
        std::exception_ptr caught;
        try {
            started.set_result();
            co_await aio::sleep(1h);
        } catch (const aio::cancelled_error&) {
            caught = std::current_exception();
        }
        events.push_back(caught ? "caught" : "not caught");
        co_await aio::sleep(0s);
        events.push_back("slept");
        auto cleanup = aio::create_task([]() -> aio::awaitable<int> {
            co_await aio::sleep(0s);
            co_return 5;
        });
        int v = co_await cleanup();
        events.push_back("cleanup " + std::to_string(v));
        if (caught) {
            std::rethrow_exception(caught);
        }
    });
    bool ended_cancelled = co_await cancel_and_await(t);
    CHECK(ended_cancelled);
    CHECK(join(events) == "caught|slept|cleanup 5");
}

AIO_TEST_CASE("a task that catches the cancellation and returns a value ends with that value") {
    auto t = co_await start_task([](aio::future<void> started) -> aio::awaitable<int> {
        bool caught = false;
        try {
            started.set_result();
            co_await aio::sleep(1h);
        } catch (const aio::cancelled_error&) {
            caught = true;
        }
        co_return caught ? 5 : -1;
    });
    CHECK(t.cancel());
    int value = co_await t();
    CHECK(value == 5);
    CHECK_FALSE(t.cancelled());
    CHECK(t.done());
    CHECK(t.result() == 5);
}

AIO_TEST_CASE("cancelling a task blocked in a raw Asio timer wait aborts the wait") {
    boost::system::error_code code;
    bool went_on = false;
    auto t = co_await start_task([&](aio::future<void> started) -> aio::awaitable<void> {
        boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, 1h);
        started.set_result();
        try {
            co_await timer.async_wait(boost::asio::use_awaitable);
        } catch (const boost::system::system_error& e) {
            code = e.code();
            throw;
        }
        went_on = true;
    });
    bool ended_cancelled = co_await cancel_and_await(t);
    CHECK(ended_cancelled);
    CHECK(code == boost::asio::error::operation_aborted);
    CHECK_FALSE(went_on);
    CHECK(holds<aio::cancelled_error>(t.exception()));
}

AIO_TEST_CASE("cancelling a task blocked in a raw Asio socket read aborts the read") {
    boost::system::error_code code;
    bool went_on = false;
    auto t = co_await start_task([&](aio::future<void> started) -> aio::awaitable<void> {
        auto ex = co_await boost::asio::this_coro::executor;
        boost::asio::local::stream_protocol::socket reader(ex);
        boost::asio::local::stream_protocol::socket writer(ex);
        boost::asio::local::connect_pair(reader, writer);
        std::array<char, 16> buffer{};
        started.set_result();
        try {
            co_await reader.async_read_some(boost::asio::buffer(buffer),
                                            boost::asio::use_awaitable);
        } catch (const boost::system::system_error& e) {
            code = e.code();
            throw;
        }
        went_on = true;
    });
    bool ended_cancelled = co_await cancel_and_await(t);
    CHECK(ended_cancelled);
    CHECK(code == boost::asio::error::operation_aborted);
    CHECK_FALSE(went_on);
}

AIO_TEST_CASE("a task cancelled before its first step never runs its body") {
    bool ran = false;
    auto t = aio::create_task([&]() -> aio::awaitable<void> {
        ran = true;
        co_return;
    });
    CHECK(t.cancel());
    bool await_threw = co_await co_throws_as<aio::cancelled_error>(t());
    CHECK_FALSE(ran);
    CHECK(await_threw);
    CHECK(t.cancelled());
}

AIO_TEST_CASE(
    "a task that cancels itself in its first step gets cancelled_error at its next await") {
    std::vector<std::string> events;
    auto t = aio::create_task([&]() -> aio::awaitable<void> {
        aio::any_task self = co_await aio::current_task();
        events.push_back(self.cancel() ? "cancel accepted" : "cancel refused");
        try {
            co_await aio::sleep(1h);
        } catch (const aio::cancelled_error&) {
            events.push_back("cancelled_error");
            throw;
        }
    });
    co_await t.wait_done();
    events.push_back(t.cancelled() ? "ended cancelled" : "ended otherwise");
    CHECK(join(events) == "cancel accepted|cancelled_error|ended cancelled");
    aio::any_task me = co_await aio::current_task();
    CHECK(me.cancelling() == 0);
}

AIO_TEST_CASE("a task that cancels itself after its first step gets cancelled_error, not Asio's") {
    std::vector<std::string> events;
    auto t = aio::create_task([&]() -> aio::awaitable<void> {
        co_await aio::sleep(0s); // past the first step
        aio::any_task self = co_await aio::current_task();
        self.cancel();
        try {
            co_await aio::sleep(1h);
        } catch (const aio::cancelled_error&) {
            events.push_back("cancelled_error");
            throw;
        } catch (const std::exception& e) {
            events.push_back(std::string("other: ") + e.what());
            throw;
        }
    });
    co_await t.wait_done();
    events.push_back(t.cancelled() ? "ended cancelled" : "ended otherwise");
    CHECK(join(events) == "cancelled_error|ended cancelled");
}

AIO_TEST_CASE("uncancel right after a task cancelled itself withdraws the request") {
    auto t = aio::create_task([&]() -> aio::awaitable<int> {
        co_await aio::sleep(0s); // past the first step
        aio::any_task self = co_await aio::current_task();
        self.cancel();
        self.uncancel();
        co_await aio::sleep(0s); // not cancelled
        co_return 7;
    });
    int value = co_await t();
    CHECK(value == 7);
}

AIO_TEST_CASE("a task that cancels itself and returns before awaiting again ends with its value") {
    auto t = aio::create_task([&]() -> aio::awaitable<int> {
        aio::any_task self = co_await aio::current_task();
        self.cancel();
        co_return 7;
    });
    int value = co_await t();
    CHECK(value == 7);
}

AIO_TEST_CASE("a first step that cancels every task, itself included, leaves the loop running") {
    auto sleeper = aio::create_task(aio_test::sleep_forever());
    auto canceller = aio::create_task([&]() -> aio::awaitable<void> {
        for (aio::any_task t : aio::all_tasks()) {
            if (t.name() != "main") {
                t.cancel();
            }
        }
        co_await aio::sleep(1h);
    });
    co_await sleeper.wait_done();
    co_await canceller.wait_done();
    CHECK(sleeper.cancelled());
    CHECK(canceller.cancelled());
}

AIO_TEST_CASE("cancelling a task that awaits another task cancels the awaited task") {
    auto inner = co_await start_task([](aio::future<void> started) -> aio::awaitable<void> {
        started.set_result();
        co_await aio::sleep(1h);
    });
    auto awaiting_inner = [inner](aio::future<void> started) -> aio::awaitable<void> {
        started.set_result();
        co_await inner();
    };
    auto outer = co_await start_task(awaiting_inner);
    bool outer_ended_cancelled = co_await cancel_and_await(outer);
    CHECK(outer_ended_cancelled);
    CHECK(inner.cancelled());
    CHECK(holds<aio::cancelled_error>(inner.exception()));
}

AIO_TEST_CASE("tasks have default names and set_name renames them") {
    auto a = aio::create_task(value_now(1));
    auto b = aio::create_task(value_now(2));
    auto c = aio::create_task(value_now(3), "worker");
    auto number = [](const std::string& name) -> long {
        const std::string prefix = "Task-";
        if (name.rfind(prefix, 0) != 0 || name.size() == prefix.size()) {
            return -1;
        }
        std::string digits = name.substr(prefix.size());
        if (!std::all_of(digits.begin(), digits.end(),
                         [](char ch) { return ch >= '0' && ch <= '9'; })) {
            return -1;
        }
        return std::stol(digits);
    };
    CHECK(number(a.name()) >= 0);
    CHECK(number(b.name()) >= 0);
    CHECK(number(b.name()) > number(a.name()));
    CHECK(c.name() == "worker");
    c.set_name("renamed");
    CHECK(c.name() == "renamed");
    co_await a();
    co_await b();
    co_await c();
}

AIO_TEST_CASE("add_done_callback runs after completion and remove_done_callback prevents it") {
    std::vector<std::string> events;
    int calls = 0;
    bool saw_done = false;
    bool removed_ran = false;
    int late_calls = 0;
    aio::future<void> gate;
    auto t = aio::create_task([&]() -> aio::awaitable<int> {
        co_await gate();
        events.push_back("task end");
        co_return 3;
    });
    aio::any_task seen;
    t.add_done_callback([&](aio::any_task x) {
        ++calls;
        events.push_back("callback");
        seen = x;
        saw_done = x.done();
    });
    auto id = t.add_done_callback([&](aio::any_task) { removed_ran = true; });
    CHECK(t.remove_done_callback(id) == 1);
    CHECK(t.remove_done_callback(id) == 0);
    co_await aio::sleep(0s);
    events.push_back("gate");
    gate.set_result();
    int value = co_await t();
    CHECK(value == 3);
    co_await aio::sleep(0s);
    events.push_back("after");
    CHECK(join(events) == "gate|task end|callback|after");
    CHECK(calls == 1);
    CHECK(seen == t);
    CHECK(saw_done);
    CHECK_FALSE(removed_ran);
    t.add_done_callback([&](aio::any_task) { ++late_calls; });
    co_await aio::sleep(0s);
    CHECK(late_calls == 1);
}

AIO_TEST_CASE("result and exception on a pending task throw invalid_state_error") {
    aio::future<void> gate;
    auto t = aio::create_task([&]() -> aio::awaitable<int> {
        co_await gate();
        co_return 8;
    });
    co_await aio::sleep(0s);
    CHECK(throws_as<aio::invalid_state_error>([&] { (void)t.result(); }));
    CHECK(throws_as<aio::invalid_state_error>([&] { (void)t.exception(); }));
    gate.set_result();
    co_await t.wait_done();
    CHECK(t.result() == 8);
    CHECK(t.exception() == nullptr);
}

AIO_TEST_CASE("current_task gives the running task and all_tasks lists the pending ones") {
    aio::future<void> started;
    aio::future<void> gate;
    aio::any_task inside;
    aio::any_task nested;
    auto t = aio::create_task([&]() -> aio::awaitable<void> {
        inside = co_await aio::current_task();
        nested = co_await who_am_i();
        started.set_result();
        co_await gate();
    });
    auto finished = aio::create_task(value_now(1));
    co_await finished();
    co_await started();
    CHECK(inside == t);
    CHECK(nested == t);
    aio::any_task me = co_await aio::current_task();
    CHECK(me);
    CHECK_FALSE(me == t);
    CHECK(me.name() == "main");
    auto during = aio::all_tasks();
    CHECK(contains(during, t));
    CHECK(contains(during, me));
    CHECK_FALSE(contains(during, finished));
    gate.set_result();
    co_await t();
    auto after = aio::all_tasks();
    CHECK_FALSE(contains(after, t));
    CHECK(contains(after, me));
}

AIO_TEST_CASE("current_task in a coroutine that is not a task gives an empty handle") {
    auto lp = co_await aio::this_loop();
    aio::future<bool> result;
    boost::asio::co_spawn(
        lp.get_executor(),
        []() -> aio::awaitable<bool> {
            aio::any_task t = co_await aio::current_task();
            co_return !t;
        },
        [&result](std::exception_ptr e, bool is_empty) {
            if (e) {
                result.set_exception(e);
            } else {
                result.set_result(is_empty);
            }
        });
    bool empty = co_await result();
    CHECK(empty);
}

TEST_CASE("a failed task whose exception nobody retrieved is reported once") {
    aio_test::report_log log;
    std::vector<aio::any_task> kept;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(co_await aio::this_loop());
        {
            auto dropped = aio::create_task(fail_after_yield("dropped"), "dropped-task");
            co_await dropped.wait_done();
        }
        auto held = aio::create_task(fail_after_yield("held"), "held-task");
        kept.push_back(held);
        auto awaited = aio::create_task(fail_after_yield("awaited"), "awaited-task");
        auto inspected = aio::create_task(fail_after_yield("inspected"), "inspected-task");
        co_await held.wait_done();
        co_await inspected.wait_done();
        try {
            co_await awaited();
        } catch (const std::runtime_error&) {
        }
        (void)inspected.exception();
        co_await aio::sleep(0s);
    });
    kept.clear();
    CHECK(log.count("Task exception was never retrieved") == 2);
    REQUIRE(log.entries.size() == 2);
    std::vector<std::string> names;
    std::vector<std::string> descriptions;
    for (const auto& e : log.entries) {
        names.push_back(e.task_name);
        descriptions.push_back(aio::describe(e.exception));
    }
    std::sort(names.begin(), names.end());
    std::sort(descriptions.begin(), descriptions.end());
    CHECK(join(names) == "dropped-task|held-task");
    CHECK(join(descriptions) == "dropped|held");
}

AIO_TEST_CASE("a task may return a move only type") {
    auto t = aio::create_task([]() -> aio::awaitable<std::unique_ptr<int>> {
        co_await aio::sleep(0s);
        co_return std::make_unique<int>(7);
    });
    std::unique_ptr<int> p = co_await t();
    REQUIRE(p);
    CHECK(*p == 7);
}

AIO_TEST_CASE("a task may return a type that is not default constructible") {
    auto t = aio::create_task([]() -> aio::awaitable<no_default> {
        co_await aio::sleep(0s);
        co_return no_default(9);
    });
    no_default v = co_await t();
    CHECK(v.value == 9);
    CHECK(t.result().value == 9);
    auto bad = aio::create_task([]() -> aio::awaitable<no_default> {
        co_await aio::sleep(0s);
        throw std::runtime_error("no value");
    });
    std::string message;
    try {
        no_default w = co_await bad();
        FAIL_CHECK("the failed task gave a value: " << w.value);
    } catch (const std::runtime_error& e) {
        message = e.what();
    }
    CHECK(message == "no value");
}

TEST_CASE("create_task outside a running loop throws std::logic_error") {
    CHECK_THROWS_AS(aio::create_task(value_now(1)), std::logic_error);
    CHECK_THROWS_AS(aio::create_task([]() -> aio::awaitable<int> { co_return 1; }),
                    std::logic_error);
}

AIO_TEST_CASE("a task that catches operation_aborted from a raw Asio operation awaits cleanup "
              "after uncancel") {
    std::vector<std::string> events;
    auto t = co_await start_task([&](aio::future<void> started) -> aio::awaitable<void> {
        boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, 1h);
        started.set_result();
        std::exception_ptr caught;
        try {
            co_await timer.async_wait(boost::asio::use_awaitable);
        } catch (const boost::system::system_error& e) {
            if (e.code() == boost::asio::error::operation_aborted) {
                caught = std::current_exception();
            }
        }
        events.push_back(caught ? "aborted" : "not aborted");
        co_await aio::uncancel(); // Asio keeps a raw operation's cancellation pending
        try {
            co_await aio::sleep(0s);
            events.push_back("slept");
            auto cleanup = aio::create_task(value_now(4));
            int v = co_await cleanup();
            events.push_back("cleanup " + std::to_string(v));
        } catch (...) {
            events.push_back("cleanup failed: " + aio::describe(std::current_exception()));
        }
        if (caught) {
            std::rethrow_exception(caught);
        }
    });
    bool ended_cancelled = co_await cancel_and_await(t);
    CHECK(ended_cancelled);
    CHECK(join(events) == "aborted|slept|cleanup 4");
}

AIO_TEST_CASE("two cancel calls before the task resumes deliver one cancellation") {
    int caught = 0;
    auto t = co_await start_task([&](aio::future<void> started) -> aio::awaitable<int> {
        try {
            started.set_result();
            co_await aio::sleep(1h);
        } catch (const aio::cancelled_error&) {
            ++caught;
        }
        try {
            co_await aio::sleep(0s);
            auto cleanup = aio::create_task(value_now(5));
            co_return co_await cleanup();
        } catch (const aio::cancelled_error&) {
            ++caught;
        }
        co_return -1;
    });
    CHECK(t.cancel());
    CHECK(t.cancel());
    CHECK(t.cancelling() == 2);
    int value = co_await t();
    CHECK(caught == 1);
    CHECK(value == 5);
    CHECK_FALSE(t.cancelled());
}

AIO_TEST_CASE("uncancel decrements the cancellation requests") {
    auto t = co_await start_task([](aio::future<void> started) -> aio::awaitable<int> {
        try {
            started.set_result();
            co_await aio::sleep(1h);
        } catch (const aio::cancelled_error&) {
            co_return 1;
        }
        co_return 0;
    });
    CHECK(t.cancelling() == 0);
    t.cancel();
    CHECK(t.cancelling() == 1);
    CHECK(t.uncancel() == 0);
    int value = co_await t();
    CHECK(value == 1);
}

AIO_TEST_CASE("a task cancelled after it was woken but before it resumed sees cancelled_error") {
    std::string outcome;
    aio::future<int> f;
    auto t = co_await start_task([&](aio::future<void> started) -> aio::awaitable<void> {
        started.set_result();
        try {
            int v = co_await f();
            outcome = "value " + std::to_string(v);
        } catch (const aio::cancelled_error&) {
            outcome = "cancelled";
            throw;
        }
    });
    f.set_result(1);
    bool ended_cancelled = co_await cancel_and_await(t);
    CHECK(ended_cancelled);
    CHECK(outcome == "cancelled");
}

AIO_TEST_CASE("a cancelled task whose awaited task returned a value still sees cancelled_error") {
    auto inner = co_await start_task([](aio::future<void> started) -> aio::awaitable<int> {
        try {
            started.set_result();
            co_await aio::sleep(1h);
        } catch (const aio::cancelled_error&) {
        }
        co_return 7;
    });
    auto awaiting_inner = [inner](aio::future<void> started) -> aio::awaitable<int> {
        started.set_result();
        co_return co_await inner();
    };
    auto outer = co_await start_task(awaiting_inner);
    bool outer_ended_cancelled = co_await cancel_and_await(outer);
    CHECK(outer_ended_cancelled);
    int inner_value = co_await inner();
    CHECK(inner_value == 7);
    CHECK_FALSE(inner.cancelled());
}

AIO_TEST_CASE("wait_done does not cancel the awaited task when the waiter is cancelled") {
    aio::future<void> gate;
    auto target = aio::create_task([&]() -> aio::awaitable<int> {
        co_await gate();
        co_return 2;
    });
    bool waiter_threw = false;
    auto waiting = [&waiter_threw, target](aio::future<void> started) -> aio::awaitable<void> {
        started.set_result();
        try {
            co_await target.wait_done();
        } catch (const aio::cancelled_error&) {
            waiter_threw = true;
        }
    };
    auto waiter = co_await start_task(waiting);
    waiter.cancel();
    co_await waiter();
    CHECK(waiter_threw);
    CHECK_FALSE(target.done());
    CHECK_FALSE(target.cancelled());
    gate.set_result();
    int value = co_await target();
    CHECK(value == 2);
}

AIO_TEST_CASE("the loop keeps a task running after its handle is dropped") {
    aio::future<int> result;
    aio::create_task([&result]() -> aio::awaitable<void> {
        co_await aio::sleep(0s);
        co_await aio::sleep(0s);
        result.set_result(12);
    });
    int value = co_await result();
    CHECK(value == 12);
}

TEST_CASE("an exception thrown by a done callback is reported and the loop goes on") {
    aio_test::report_log log;
    bool next_ran = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(co_await aio::this_loop());
        auto t = aio::create_task(value_now(1));
        t.add_done_callback([](aio::any_task) { throw std::runtime_error("callback broke"); });
        t.add_done_callback([&](aio::any_task) { next_ran = true; });
        co_await t();
        co_await aio::sleep(0s);
        co_await aio::sleep(0s);
    });
    CHECK(next_ran);
    REQUIRE(log.entries.size() == 1);
    CHECK(log.entries[0].message.find("done callback") != std::string::npos);
    CHECK(aio::describe(log.entries[0].exception) == "callback broke");
}

// AIO_TEST_CASE fails the test if the loop reports anything, until run returns.
AIO_TEST_CASE("a cancelled task that nobody awaits is not reported") {
    auto t = co_await start_task([](aio::future<void> started) -> aio::awaitable<void> {
        started.set_result();
        co_await aio::sleep(1h);
    });
    t.cancel();
    co_await t.wait_done();
    CHECK(t.cancelled());
}

AIO_TEST_CASE("a task awaiting itself gets logic_error at once, and can still be cancelled") {
    bool awaited_self = false;
    bool waited_self = false;
    aio::task<void> me;
    aio::future<void> handed;
    me = aio::create_task([&]() -> aio::awaitable<void> {
        co_await handed();
        try {
            co_await me();
        } catch (const std::logic_error& e) {
            awaited_self = std::string(e.what()).find("cannot await itself") != std::string::npos;
        }
        try {
            co_await me.wait_done();
        } catch (const std::logic_error&) {
            waited_self = true;
        }
        co_await aio::sleep(1h);
    });
    handed.set_result();
    co_await aio::sleep(0s);
    co_await aio::sleep(0s);
    CHECK(awaited_self);
    CHECK(waited_self);
    me.cancel();
    co_await me.wait_done();
    CHECK(me.cancelled());
}

TEST_CASE("awaiting or cancelling a task of another loop throws logic_error") {
    aio::runner first(aio::run_options{.handle_signals = false});
    aio::task<int> foreign = first.run([]() -> aio::awaitable<aio::task<int>> {
        co_return aio::create_task([]() -> aio::awaitable<int> {
            co_await aio::sleep(1h);
            co_return 1;
        });
    });
    bool await_threw = false;
    bool cancel_threw = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        try {
            co_await foreign();
        } catch (const std::logic_error& e) {
            await_threw = std::string(e.what()).find("another event loop") != std::string::npos;
        }
        cancel_threw = aio_test::throws_as<std::logic_error>([&] { foreign.cancel(); });
    });
    CHECK(await_threw);
    CHECK(cancel_threw);
    CHECK_FALSE(foreign.done());
}

TEST_CASE("a task that cancels itself and then awaits a child cancels the child too") {
    bool child_cancelled = false;
    bool parent_cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::task<void> parent = aio::create_task([&]() -> aio::awaitable<void> {
            co_await aio::sleep(0s); // past the first step
            aio::task<void> child = aio::create_task([&]() -> aio::awaitable<void> {
                try {
                    co_await aio::sleep(1h);
                } catch (const aio::cancelled_error&) {
                    child_cancelled = true;
                    throw;
                }
            });
            co_await aio::sleep(0s); // the child is parked in its sleep
            (co_await aio::current_task()).cancel();
            co_await child();
        });
        co_await parent.wait_done();
        parent_cancelled = parent.cancelled();
    });
    CHECK(child_cancelled);
    CHECK(parent_cancelled);
}

AIO_TEST_CASE(
    "uncancel before the first step withdraws the cancellation, after a wake it does not") {
    bool body_ran = false;
    aio::task<void> early = aio::create_task([&]() -> aio::awaitable<void> {
        body_ran = true;
        co_return;
    });
    early.cancel();
    early.uncancel();
    co_await early.wait_done();
    CHECK(body_ran);
    CHECK_FALSE(early.cancelled());

    aio::future<void> ready;
    aio::task<void> late = aio::create_task([&]() -> aio::awaitable<void> { co_await ready(); });
    co_await aio::sleep(0s); // late is parked on ready
    ready.set_result();      // its resumption is queued
    late.cancel();
    late.uncancel();
    CHECK(late.cancelling() == 0);
    co_await late.wait_done();
    CHECK(late.cancelled()); // asyncio 3.13 would let it return normally
}

// Tests of aio/task.hpp: create_task, task<T>, current_task, all_tasks.
#include "support.hpp"

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

using aio_test::holds;
using aio_test::join;
using aio_test::throws_as;

aio::awaitable<int> value_of(int v) {
    co_return v;
}

aio::awaitable<int> fail_with(std::string message) {
    co_await aio::sleep(0s);
    throw std::runtime_error(message);
}

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

TEST_CASE("create_task starts the body only after the creator yields") {
    std::vector<std::string> events;
    bool done_before_yield = true;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto t = aio::create_task([&]() -> aio::awaitable<void> {
            events.push_back("body");
            co_return;
        });
        events.push_back("created");
        done_before_yield = t.done();
        co_await aio::sleep(0s);
        events.push_back("after yield");
        co_await t();
    });
    CHECK_FALSE(done_before_yield);
    CHECK(join(events) == "created|body|after yield");
}

TEST_CASE("a task whose body returns without awaiting is done after one yield, as in asyncio") {
    bool done_after_one_yield = false;
    int value = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto t = aio::create_task(value_of(5));
        co_await aio::sleep(0s);
        done_after_one_yield = t.done();
        value = t.result();
    });
    CHECK(done_after_one_yield);
    CHECK(value == 5);
}

TEST_CASE("awaiting a task returns its value or rethrows its exception") {
    int value = 0;
    std::string message;
    bool failed_done = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto good = aio::create_task(value_of(42));
        value = co_await good();
        auto bad = aio::create_task(fail_with("boom"));
        try {
            co_await bad();
        } catch (const std::runtime_error& e) {
            message = e.what();
        }
        failed_done = bad.done() && !bad.cancelled();
    });
    CHECK(value == 42);
    CHECK(message == "boom");
    CHECK(failed_done);
}

TEST_CASE("a task can be awaited twice") {
    int first = 0;
    int second = 0;
    int failures = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto t = aio::create_task(value_of(7));
        first = co_await t();
        second = co_await t();
        auto bad = aio::create_task(fail_with("twice"));
        for (int i = 0; i < 2; ++i) {
            try {
                co_await bad();
            } catch (const std::runtime_error& e) {
                if (std::string(e.what()) == "twice") {
                    ++failures;
                }
            }
        }
    });
    CHECK(first == 7);
    CHECK(second == 7);
    CHECK(failures == 2);
}

TEST_CASE("several tasks awaiting one task all get its value") {
    std::vector<int> seen;
    aio_test::run([&]() -> aio::awaitable<void> {
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
    });
    CHECK(seen == std::vector<int>{11, 11, 11});
}

TEST_CASE("the callable overload keeps the captures alive") {
    std::string result;
    std::weak_ptr<std::string> watch;
    aio_test::run([&]() -> aio::awaitable<void> {
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
        result = co_await t();
    });
    CHECK(result == "shared+local");
    CHECK(watch.expired());
}

TEST_CASE("cancel ends a task parked in sleep as cancelled") {
    bool first_cancel = false;
    bool second_cancel = true;
    std::uint32_t cancelling = 0;
    bool await_threw = false;
    bool done = false;
    bool cancelled = false;
    bool exception_is_cancelled = false;
    bool body_went_on = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> started;
        auto t = aio::create_task([&]() -> aio::awaitable<void> {
            started.set_result();
            co_await aio::sleep(1h);
            body_went_on = true;
        });
        co_await started();
        first_cancel = t.cancel();
        cancelling = t.cancelling();
        try {
            co_await t();
        } catch (const aio::cancelled_error&) {
            await_threw = true;
        }
        done = t.done();
        cancelled = t.cancelled();
        exception_is_cancelled = holds<aio::cancelled_error>(t.exception());
        second_cancel = t.cancel();
    });
    CHECK(first_cancel);
    CHECK(cancelling == 1);
    CHECK(await_threw);
    CHECK(done);
    CHECK(cancelled);
    CHECK(exception_is_cancelled);
    CHECK_FALSE(second_cancel);
    CHECK_FALSE(body_went_on);
}

TEST_CASE("cancel on a task that returned a value returns false") {
    bool cancel_result = true;
    bool cancelled = true;
    int value = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto t = aio::create_task(value_of(3));
        value = co_await t();
        cancel_result = t.cancel();
        cancelled = t.cancelled();
    });
    CHECK(value == 3);
    CHECK_FALSE(cancel_result);
    CHECK_FALSE(cancelled);
}

TEST_CASE("a task can catch the cancellation and await cleanup before rethrowing") {
    std::vector<std::string> events;
    bool cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> started;
        auto t = aio::create_task([&]() -> aio::awaitable<void> {
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
        co_await started();
        t.cancel();
        try {
            co_await t();
        } catch (const aio::cancelled_error&) {
            events.push_back("awaiter saw cancelled");
        }
        cancelled = t.cancelled();
    });
    CHECK(join(events) == "caught|slept|cleanup 5|awaiter saw cancelled");
    CHECK(cancelled);
}

TEST_CASE("a task that catches the cancellation and returns a value ends with that value") {
    bool cancel_result = false;
    int value = 0;
    bool cancelled = true;
    bool done = false;
    int result = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> started;
        auto t = aio::create_task([&]() -> aio::awaitable<int> {
            bool caught = false;
            try {
                started.set_result();
                co_await aio::sleep(1h);
            } catch (const aio::cancelled_error&) {
                caught = true;
            }
            co_return caught ? 5 : -1;
        });
        co_await started();
        cancel_result = t.cancel();
        value = co_await t();
        cancelled = t.cancelled();
        done = t.done();
        result = t.result();
    });
    CHECK(cancel_result);
    CHECK(value == 5);
    CHECK(result == 5);
    CHECK(done);
    CHECK_FALSE(cancelled);
}

TEST_CASE("cancelling a task blocked in a raw Asio timer wait aborts the wait") {
    boost::system::error_code code;
    bool went_on = false;
    bool await_threw = false;
    bool cancelled = false;
    bool exception_is_cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> started;
        auto t = aio::create_task([&]() -> aio::awaitable<void> {
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
        co_await started();
        t.cancel();
        try {
            co_await t();
        } catch (const aio::cancelled_error&) {
            await_threw = true;
        }
        cancelled = t.cancelled();
        exception_is_cancelled = holds<aio::cancelled_error>(t.exception());
    });
    CHECK(code == boost::asio::error::operation_aborted);
    CHECK_FALSE(went_on);
    CHECK(await_threw);
    CHECK(cancelled);
    CHECK(exception_is_cancelled);
}

TEST_CASE("cancelling a task blocked in a raw Asio socket read aborts the read") {
    boost::system::error_code code;
    bool went_on = false;
    bool await_threw = false;
    bool cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> started;
        auto t = aio::create_task([&]() -> aio::awaitable<void> {
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
        co_await started();
        t.cancel();
        try {
            co_await t();
        } catch (const aio::cancelled_error&) {
            await_threw = true;
        }
        cancelled = t.cancelled();
    });
    CHECK(code == boost::asio::error::operation_aborted);
    CHECK_FALSE(went_on);
    CHECK(await_threw);
    CHECK(cancelled);
}

TEST_CASE("a task cancelled before its first step never runs its body") {
    bool ran = false;
    bool cancel_result = false;
    bool await_threw = false;
    bool cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto t = aio::create_task([&]() -> aio::awaitable<void> {
            ran = true;
            co_return;
        });
        cancel_result = t.cancel();
        try {
            co_await t();
        } catch (const aio::cancelled_error&) {
            await_threw = true;
        }
        cancelled = t.cancelled();
    });
    CHECK(cancel_result);
    CHECK_FALSE(ran);
    CHECK(await_threw);
    CHECK(cancelled);
}

TEST_CASE("a task that cancels itself in its first step gets cancelled_error at its next await") {
    std::vector<std::string> events;
    bool main_cancelled = true;
    aio_test::run([&]() -> aio::awaitable<void> {
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
        aio::any_task me = co_await aio::current_task();
        main_cancelled = me.cancelling() > 0;
    });
    CHECK(join(events) == "cancel accepted|cancelled_error|ended cancelled");
    CHECK_FALSE(main_cancelled);
}

TEST_CASE("a task that cancels itself and returns before awaiting again ends with its value") {
    int value = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto t = aio::create_task([&]() -> aio::awaitable<int> {
            aio::any_task self = co_await aio::current_task();
            self.cancel();
            co_return 7;
        });
        value = co_await t();
    });
    CHECK(value == 7);
}

TEST_CASE("a first step that cancels every task, itself included, leaves the loop running") {
    int cancelled_tasks = 0;
    bool main_went_on = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto sleeper = aio::create_task([]() -> aio::awaitable<void> { co_await aio::sleep(1h); });
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
        cancelled_tasks = int(sleeper.cancelled()) + int(canceller.cancelled());
        main_went_on = true;
    });
    CHECK(cancelled_tasks == 2);
    CHECK(main_went_on);
}

TEST_CASE("cancelling a task that awaits another task cancels the awaited task") {
    bool outer_threw = false;
    bool outer_cancelled = false;
    bool inner_cancelled = false;
    bool inner_exception_is_cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> inner_started;
        aio::future<void> outer_started;
        auto inner = aio::create_task([&]() -> aio::awaitable<void> {
            inner_started.set_result();
            co_await aio::sleep(1h);
        });
        co_await inner_started();
        auto outer = aio::create_task([&outer_started, inner]() -> aio::awaitable<void> {
            outer_started.set_result();
            co_await inner();
        });
        co_await outer_started();
        outer.cancel();
        try {
            co_await outer();
        } catch (const aio::cancelled_error&) {
            outer_threw = true;
        }
        outer_cancelled = outer.cancelled();
        inner_cancelled = inner.cancelled();
        inner_exception_is_cancelled = holds<aio::cancelled_error>(inner.exception());
    });
    CHECK(outer_threw);
    CHECK(outer_cancelled);
    CHECK(inner_cancelled);
    CHECK(inner_exception_is_cancelled);
}

TEST_CASE("tasks have default names and set_name renames them") {
    std::string first;
    std::string second;
    std::string named;
    std::string renamed;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto a = aio::create_task(value_of(1));
        auto b = aio::create_task(value_of(2));
        auto c = aio::create_task(value_of(3), "worker");
        first = a.name();
        second = b.name();
        named = c.name();
        c.set_name("renamed");
        renamed = c.name();
        co_await a();
        co_await b();
        co_await c();
    });
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
    CHECK(number(first) >= 0);
    CHECK(number(second) >= 0);
    CHECK(number(second) > number(first));
    CHECK(named == "worker");
    CHECK(renamed == "renamed");
}

TEST_CASE("add_done_callback runs after completion and remove_done_callback prevents it") {
    std::vector<std::string> events;
    int calls = 0;
    bool saw_same_task = false;
    bool saw_done = false;
    bool removed_ran = false;
    std::size_t removed = 0;
    std::size_t removed_again = 9;
    int late_calls = 0;
    int value = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
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
        removed = t.remove_done_callback(id);
        removed_again = t.remove_done_callback(id);
        co_await aio::sleep(0s);
        events.push_back("gate");
        gate.set_result();
        value = co_await t();
        co_await aio::sleep(0s);
        events.push_back("after");
        saw_same_task = (seen == t);
        t.add_done_callback([&](aio::any_task) { ++late_calls; });
        co_await aio::sleep(0s);
    });
    CHECK(join(events) == "gate|task end|callback|after");
    CHECK(calls == 1);
    CHECK(saw_same_task);
    CHECK(saw_done);
    CHECK(removed == 1);
    CHECK(removed_again == 0);
    CHECK_FALSE(removed_ran);
    CHECK(late_calls == 1);
    CHECK(value == 3);
}

TEST_CASE("result and exception on a pending task throw invalid_state_error") {
    bool result_threw = false;
    bool exception_threw = false;
    int result = 0;
    bool no_exception = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> gate;
        auto t = aio::create_task([&]() -> aio::awaitable<int> {
            co_await gate();
            co_return 8;
        });
        co_await aio::sleep(0s);
        result_threw = throws_as<aio::invalid_state_error>([&] { (void)t.result(); });
        exception_threw = throws_as<aio::invalid_state_error>([&] { (void)t.exception(); });
        gate.set_result();
        co_await t.wait_done();
        result = t.result();
        no_exception = t.exception() == nullptr;
    });
    CHECK(result_threw);
    CHECK(exception_threw);
    CHECK(result == 8);
    CHECK(no_exception);
}

TEST_CASE("current_task gives the running task and all_tasks lists the pending ones") {
    bool inside_is_t = false;
    bool nested_is_t = false;
    bool main_is_not_t = false;
    bool main_named_main = false;
    bool during_has_t = false;
    bool during_has_main = false;
    bool during_has_finished = true;
    bool after_has_t = true;
    bool after_has_main = false;
    aio_test::run([&]() -> aio::awaitable<void> {
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
        auto finished = aio::create_task(value_of(1));
        co_await finished();
        co_await started();
        aio::any_task me = co_await aio::current_task();
        auto during = aio::all_tasks();
        inside_is_t = inside == t;
        nested_is_t = nested == t;
        main_is_not_t = me && !(me == t);
        main_named_main = me.name() == "main";
        during_has_t = contains(during, t);
        during_has_main = contains(during, me);
        during_has_finished = contains(during, finished);
        gate.set_result();
        co_await t();
        auto after = aio::all_tasks();
        after_has_t = contains(after, t);
        after_has_main = contains(after, me);
    });
    CHECK(inside_is_t);
    CHECK(nested_is_t);
    CHECK(main_is_not_t);
    CHECK(main_named_main);
    CHECK(during_has_t);
    CHECK(during_has_main);
    CHECK_FALSE(during_has_finished);
    CHECK_FALSE(after_has_t);
    CHECK(after_has_main);
}

TEST_CASE("current_task in a coroutine that is not a task gives an empty handle") {
    bool empty = false;
    aio_test::run([&]() -> aio::awaitable<void> {
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
        empty = co_await result();
    });
    CHECK(empty);
}

TEST_CASE("a failed task whose exception nobody retrieved is reported once") {
    aio_test::report_log log;
    std::vector<aio::any_task> kept;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(co_await aio::this_loop());
        {
            auto dropped = aio::create_task(fail_with("dropped"), "dropped-task");
            co_await dropped.wait_done();
        }
        auto held = aio::create_task(fail_with("held"), "held-task");
        kept.push_back(held);
        auto awaited = aio::create_task(fail_with("awaited"), "awaited-task");
        auto inspected = aio::create_task(fail_with("inspected"), "inspected-task");
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

TEST_CASE("a task may return a move only type") {
    int value = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto t = aio::create_task([]() -> aio::awaitable<std::unique_ptr<int>> {
            co_await aio::sleep(0s);
            co_return std::make_unique<int>(7);
        });
        std::unique_ptr<int> p = co_await t();
        value = p ? *p : -1;
    });
    CHECK(value == 7);
}

TEST_CASE("a task may return a type that is not default constructible") {
    int value = 0;
    int from_result = 0;
    std::string message;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto t = aio::create_task([]() -> aio::awaitable<no_default> {
            co_await aio::sleep(0s);
            co_return no_default(9);
        });
        no_default v = co_await t();
        value = v.value;
        from_result = t.result().value;
        auto bad = aio::create_task([]() -> aio::awaitable<no_default> {
            co_await aio::sleep(0s);
            throw std::runtime_error("no value");
        });
        try {
            no_default w = co_await bad();
            value = w.value;
        } catch (const std::runtime_error& e) {
            message = e.what();
        }
    });
    CHECK(value == 9);
    CHECK(from_result == 9);
    CHECK(message == "no value");
}

TEST_CASE("create_task outside a running loop throws std::logic_error") {
    CHECK_THROWS_AS(aio::create_task(value_of(1)), std::logic_error);
    CHECK_THROWS_AS(aio::create_task([]() -> aio::awaitable<int> { co_return 1; }),
                    std::logic_error);
}

TEST_CASE("a task that catches operation_aborted from a raw Asio operation awaits cleanup after "
          "uncancel") {
    std::vector<std::string> events;
    bool cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> started;
        auto t = aio::create_task([&]() -> aio::awaitable<void> {
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
                auto cleanup = aio::create_task(value_of(4));
                int v = co_await cleanup();
                events.push_back("cleanup " + std::to_string(v));
            } catch (...) {
                events.push_back("cleanup failed: " + aio::describe(std::current_exception()));
            }
            if (caught) {
                std::rethrow_exception(caught);
            }
        });
        co_await started();
        t.cancel();
        try {
            co_await t();
        } catch (const aio::cancelled_error&) {
        }
        cancelled = t.cancelled();
    });
    CHECK(join(events) == "aborted|slept|cleanup 4");
    CHECK(cancelled);
}

TEST_CASE("two cancel calls before the task resumes deliver one cancellation") {
    bool first = false;
    bool second = false;
    std::uint32_t cancelling = 0;
    int caught = 0;
    int value = 0;
    bool cancelled = true;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> started;
        auto t = aio::create_task([&]() -> aio::awaitable<int> {
            try {
                started.set_result();
                co_await aio::sleep(1h);
            } catch (const aio::cancelled_error&) {
                ++caught;
            }
            try {
                co_await aio::sleep(0s);
                auto cleanup = aio::create_task(value_of(5));
                co_return co_await cleanup();
            } catch (const aio::cancelled_error&) {
                ++caught;
            }
            co_return -1;
        });
        co_await started();
        first = t.cancel();
        second = t.cancel();
        cancelling = t.cancelling();
        value = co_await t();
        cancelled = t.cancelled();
    });
    CHECK(first);
    CHECK(second);
    CHECK(cancelling == 2);
    CHECK(caught == 1);
    CHECK(value == 5);
    CHECK_FALSE(cancelled);
}

TEST_CASE("uncancel decrements the cancellation requests") {
    std::uint32_t before = 9;
    std::uint32_t after_cancel = 0;
    std::uint32_t after_uncancel = 9;
    int value = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> started;
        auto t = aio::create_task([&]() -> aio::awaitable<int> {
            try {
                started.set_result();
                co_await aio::sleep(1h);
            } catch (const aio::cancelled_error&) {
                co_return 1;
            }
            co_return 0;
        });
        co_await started();
        before = t.cancelling();
        t.cancel();
        after_cancel = t.cancelling();
        after_uncancel = t.uncancel();
        value = co_await t();
    });
    CHECK(before == 0);
    CHECK(after_cancel == 1);
    CHECK(after_uncancel == 0);
    CHECK(value == 1);
}

TEST_CASE("a task cancelled after it was woken but before it resumed sees cancelled_error") {
    std::string outcome;
    bool cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<int> f;
        aio::future<void> started;
        auto t = aio::create_task([&]() -> aio::awaitable<void> {
            started.set_result();
            try {
                int v = co_await f();
                outcome = "value " + std::to_string(v);
            } catch (const aio::cancelled_error&) {
                outcome = "cancelled";
                throw;
            }
        });
        co_await started();
        f.set_result(1);
        t.cancel();
        try {
            co_await t();
        } catch (const aio::cancelled_error&) {
        }
        cancelled = t.cancelled();
    });
    CHECK(outcome == "cancelled");
    CHECK(cancelled);
}

TEST_CASE("a cancelled task whose awaited task returned a value still sees cancelled_error") {
    bool outer_threw = false;
    bool outer_cancelled = false;
    int inner_value = 0;
    bool inner_cancelled = true;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> inner_started;
        aio::future<void> outer_started;
        auto inner = aio::create_task([&]() -> aio::awaitable<int> {
            try {
                inner_started.set_result();
                co_await aio::sleep(1h);
            } catch (const aio::cancelled_error&) {
            }
            co_return 7;
        });
        co_await inner_started();
        auto outer = aio::create_task([&outer_started, inner]() -> aio::awaitable<int> {
            outer_started.set_result();
            co_return co_await inner();
        });
        co_await outer_started();
        outer.cancel();
        try {
            co_await outer();
        } catch (const aio::cancelled_error&) {
            outer_threw = true;
        }
        outer_cancelled = outer.cancelled();
        inner_value = co_await inner();
        inner_cancelled = inner.cancelled();
    });
    CHECK(outer_threw);
    CHECK(outer_cancelled);
    CHECK(inner_value == 7);
    CHECK_FALSE(inner_cancelled);
}

TEST_CASE("wait_done does not cancel the awaited task when the waiter is cancelled") {
    bool waiter_threw = false;
    bool target_cancelled = true;
    bool target_done_early = true;
    int value = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> gate;
        aio::future<void> waiting;
        auto target = aio::create_task([&]() -> aio::awaitable<int> {
            co_await gate();
            co_return 2;
        });
        auto waiter = aio::create_task([&waiting, &waiter_threw, target]() -> aio::awaitable<void> {
            waiting.set_result();
            try {
                co_await target.wait_done();
            } catch (const aio::cancelled_error&) {
                waiter_threw = true;
            }
        });
        co_await waiting();
        waiter.cancel();
        co_await waiter();
        target_done_early = target.done();
        target_cancelled = target.cancelled();
        gate.set_result();
        value = co_await target();
    });
    CHECK(waiter_threw);
    CHECK_FALSE(target_done_early);
    CHECK_FALSE(target_cancelled);
    CHECK(value == 2);
}

TEST_CASE("the loop keeps a task running after its handle is dropped") {
    int value = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<int> result;
        aio::create_task([&result]() -> aio::awaitable<void> {
            co_await aio::sleep(0s);
            co_await aio::sleep(0s);
            result.set_result(12);
        });
        value = co_await result();
    });
    CHECK(value == 12);
}

TEST_CASE("an exception thrown by a done callback is reported and the loop goes on") {
    aio_test::report_log log;
    bool next_ran = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(co_await aio::this_loop());
        auto t = aio::create_task(value_of(1));
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

TEST_CASE("a cancelled task that nobody awaits is not reported") {
    aio_test::report_log log;
    bool cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(co_await aio::this_loop());
        aio::future<void> started;
        auto t = aio::create_task([&]() -> aio::awaitable<void> {
            started.set_result();
            co_await aio::sleep(1h);
        });
        co_await started();
        t.cancel();
        co_await t.wait_done();
        cancelled = t.cancelled();
    });
    CHECK(cancelled);
    CHECK(log.entries.empty());
}

TEST_CASE("a task awaiting itself gets logic_error at once, and can still be cancelled") {
    bool awaited_self = false;
    bool waited_self = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::task<void> me;
        aio::future<void> handed;
        me = aio::create_task([&]() -> aio::awaitable<void> {
            co_await handed();
            try {
                co_await me();
            } catch (const std::logic_error& e) {
                awaited_self =
                    std::string(e.what()).find("cannot await itself") != std::string::npos;
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
        me.cancel();
        co_await me.wait_done();
        CHECK(me.cancelled());
    });
    CHECK(awaited_self);
    CHECK(waited_self);
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

TEST_CASE("uncancel before the first step withdraws the cancellation; after a wake it does not") {
    bool body_ran = false;
    bool early_cancelled = true;
    bool late_cancelled = false;
    std::uint32_t late_requests = 1;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::task<void> early = aio::create_task([&]() -> aio::awaitable<void> {
            body_ran = true;
            co_return;
        });
        early.cancel();
        early.uncancel();
        co_await early.wait_done();
        early_cancelled = early.cancelled();

        aio::future<void> ready;
        aio::task<void> late =
            aio::create_task([&]() -> aio::awaitable<void> { co_await ready(); });
        co_await aio::sleep(0s); // late is parked on ready
        ready.set_result();      // its resumption is queued
        late.cancel();
        late.uncancel();
        late_requests = late.cancelling();
        co_await late.wait_done();
        late_cancelled = late.cancelled(); // asyncio 3.13 would let it return normally
    });
    CHECK(body_ran);
    CHECK_FALSE(early_cancelled);
    CHECK(late_requests == 0);
    CHECK(late_cancelled);
}

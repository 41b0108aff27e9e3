// Tests of aio/cleanup.hpp: capture, finally, with, uncancel.
#include "fixtures.hpp"

#include <doctest/doctest.h>

#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

using namespace std::chrono_literals;

namespace {

using aio_test::cancel_and_await;
using aio_test::holds;
using aio_test::start_task;

using events_t = std::vector<std::string>;

aio::awaitable<int> body_value(events_t& events, int value) {
    events.push_back("body");
    co_await aio::sleep(0s);
    co_return value;
}

aio::awaitable<int> body_failing(events_t& events, std::string what) {
    events.push_back("body");
    co_await aio::sleep(0s);
    throw std::runtime_error(what);
}

/// Cleanup that needs the loop: two awaits between its first and last record.
aio::awaitable<void> awaiting_cleanup(events_t& events) {
    events.push_back("cleanup start");
    co_await aio::sleep(0s);
    co_await aio::sleep(0s);
    events.push_back("cleanup end");
}

/// Parks on a raw Asio timer (cancellation arrives as operation_aborted and stays pending).
aio::awaitable<void> raw_wait_an_hour(aio::future<void>& started) {
    auto ex = co_await boost::asio::this_coro::executor;
    boost::asio::steady_timer timer(ex, std::chrono::hours(1));
    started.set_result();
    co_await timer.async_wait(boost::asio::use_awaitable);
}

/// Parks on aio::sleep for an hour (cancellation arrives as cancelled_error, delivered once).
aio::awaitable<void> wait_an_hour(aio::future<void>& started) {
    started.set_result();
    co_await aio::sleep(1h);
}

/// A task runs aio::finally with a body that parks in `park(started)` and awaiting_cleanup as
/// the cleanup, and is cancelled there. Returns true if the task ended cancelled (see
/// cancel_and_await); `events` then holds what the body, the cleanup and the code after finally
/// recorded.
template <class Park>
aio::awaitable<bool> cancel_inside_finally(Park park, events_t& events) {
    auto t =
        co_await start_task([park, &events](aio::future<void> started) -> aio::awaitable<void> {
            co_await aio::finally(
                [&]() -> aio::awaitable<void> {
                    co_await park(started);
                    events.push_back("body end");
                },
                awaiting_cleanup(events));
            events.push_back("after finally");
        });
    co_return co_await cancel_and_await(t);
}

/// An asynchronous resource recording what aio::with does with it.
struct recording_resource {
    events_t events;
    bool exit_called = false;
    std::exception_ptr exit_error;
    bool throw_on_exit = false;

    aio::awaitable<void> async_enter() {
        co_await aio::sleep(0s);
        events.push_back("enter");
    }
    aio::awaitable<void> async_exit(std::exception_ptr e) {
        events.push_back("exit start");
        co_await aio::sleep(0s);
        exit_called = true;
        exit_error = e;
        events.push_back("exit end");
        if (throw_on_exit) {
            throw std::logic_error("exit failed");
        }
    }
};

} // namespace

AIO_TEST_CASE("finally runs the cleanup on success and returns the value") {
    events_t events;
    int value = co_await aio::finally(body_value(events, 5), awaiting_cleanup(events));
    CHECK(value == 5);
    CHECK(events == events_t{"body", "cleanup start", "cleanup end"});
}

AIO_TEST_CASE("finally with callables runs the cleanup on success") {
    events_t events;
    int base = 40;
    int value = co_await aio::finally(
        [&]() -> aio::awaitable<int> {
            events.push_back("body");
            co_await aio::sleep(0s);
            co_return base + 2;
        },
        [&]() -> aio::awaitable<void> { co_await awaiting_cleanup(events); });
    CHECK(value == 42);
    CHECK(events == events_t{"body", "cleanup start", "cleanup end"});
}

AIO_TEST_CASE("finally runs the cleanup on error and rethrows the error after it") {
    events_t events;
    std::string error;
    try {
        co_await aio::finally(body_failing(events, "body failed"), awaiting_cleanup(events));
        events.push_back("not reached");
    } catch (const std::runtime_error& e) {
        error = e.what();
        events.push_back("caught");
    }
    CHECK(error == "body failed");
    CHECK(events == events_t{"body", "cleanup start", "cleanup end", "caught"});
}

AIO_TEST_CASE("finally lets an exception from the cleanup replace the body error") {
    events_t events;
    std::string logic;
    bool runtime = false;
    try {
        co_await aio::finally(body_failing(events, "body failed"), [&]() -> aio::awaitable<void> {
            co_await awaiting_cleanup(events);
            throw std::logic_error("cleanup failed");
        });
    } catch (const std::logic_error& e) {
        logic = e.what();
    } catch (const std::runtime_error&) {
        runtime = true;
    }
    CHECK(logic == "cleanup failed");
    CHECK_FALSE(runtime);
    CHECK(events == events_t{"body", "cleanup start", "cleanup end"});
}

AIO_TEST_CASE("finally runs an awaiting cleanup on cancellation then propagates cancelled_error") {
    events_t events;
    bool ended_cancelled = co_await cancel_inside_finally(wait_an_hour, events);
    CHECK(ended_cancelled);
    CHECK(events == events_t{"cleanup start", "cleanup end"});
}

AIO_TEST_CASE("finally runs an awaiting cleanup after a raw Asio operation is cancelled") {
    events_t events;
    bool ended_cancelled = co_await cancel_inside_finally(raw_wait_an_hour, events);
    CHECK(ended_cancelled);
    CHECK(events == events_t{"cleanup start", "cleanup end"});
}

AIO_TEST_CASE("with calls async_enter and async_exit with no exception on success") {
    recording_resource res;
    int value = co_await aio::with(res, [](recording_resource& r) -> aio::awaitable<int> {
        r.events.push_back("body");
        co_await aio::sleep(0s);
        co_return 3;
    });
    CHECK(value == 3);
    CHECK(res.exit_called);
    CHECK(res.exit_error == nullptr);
    CHECK(res.events == events_t{"enter", "body", "exit start", "exit end"});
}

AIO_TEST_CASE("with passes the body error to async_exit and rethrows it") {
    recording_resource res;
    std::string error;
    try {
        co_await aio::with(res, [](recording_resource& r) -> aio::awaitable<void> {
            r.events.push_back("body");
            co_await aio::sleep(0s);
            throw std::runtime_error("body failed");
        });
    } catch (const std::runtime_error& e) {
        error = e.what();
        res.events.push_back("caught");
    }
    CHECK(error == "body failed");
    CHECK(res.exit_called);
    CHECK(holds<std::runtime_error>(res.exit_error));
    CHECK(aio::describe(res.exit_error) == "body failed");
    CHECK(res.events == events_t{"enter", "body", "exit start", "exit end", "caught"});
}

AIO_TEST_CASE("with awaits async_exit on cancellation then propagates cancelled_error") {
    recording_resource res;
    auto t = co_await start_task([&](aio::future<void> started) -> aio::awaitable<void> {
        co_await aio::with(res, [&](recording_resource& r) -> aio::awaitable<void> {
            r.events.push_back("body");
            started.set_result();
            co_await aio::sleep(1h);
            r.events.push_back("body end");
        });
        res.events.push_back("after with");
    });
    bool ended_cancelled = co_await cancel_and_await(t);
    CHECK(ended_cancelled);
    CHECK(res.exit_called);
    CHECK(aio::is_cancellation(res.exit_error));
    CHECK(res.events == events_t{"enter", "body", "exit start", "exit end"});
}

AIO_TEST_CASE("with lets an exception from async_exit replace the body error") {
    recording_resource res;
    res.throw_on_exit = true;
    std::string logic;
    bool runtime = false;
    try {
        co_await aio::with(res, [](recording_resource&) -> aio::awaitable<void> {
            co_await aio::sleep(0s);
            throw std::runtime_error("body failed");
        });
    } catch (const std::logic_error& e) {
        logic = e.what();
    } catch (const std::runtime_error&) {
        runtime = true;
    }
    CHECK(logic == "exit failed");
    CHECK_FALSE(runtime);
    CHECK(holds<std::runtime_error>(res.exit_error));
}

AIO_TEST_CASE("with propagates an exception from async_exit after a successful body") {
    recording_resource res;
    res.throw_on_exit = true;
    std::string logic;
    try {
        co_await aio::with(res, [](recording_resource&) -> aio::awaitable<int> {
            co_await aio::sleep(0s);
            co_return 1;
        });
    } catch (const std::logic_error& e) {
        logic = e.what();
    }
    CHECK(logic == "exit failed");
    CHECK(res.exit_called);
    CHECK(res.exit_error == nullptr);
}

AIO_TEST_CASE("without uncancel an await after a caught raw Asio cancellation throws again") {
    bool first_aborted = false;
    bool second_aborted = false;
    bool second_other = false;
    bool reached_after = false;
    auto t = co_await start_task([&](aio::future<void> started) -> aio::awaitable<void> {
        try {
            co_await raw_wait_an_hour(started);
        } catch (const boost::system::system_error& e) {
            first_aborted = e.code() == boost::asio::error::operation_aborted;
        }
        try {
            co_await aio::sleep(0s);
            reached_after = true;
        } catch (const boost::system::system_error& e) {
            second_aborted = e.code() == boost::asio::error::operation_aborted;
        } catch (...) {
            second_other = true;
        }
    });
    t.cancel();
    co_await t.wait_done();
    CHECK(first_aborted);
    CHECK(second_aborted);
    CHECK_FALSE(second_other);
    CHECK_FALSE(reached_after);
}

AIO_TEST_CASE("uncancel lets a task await cleanup after a caught raw Asio cancellation") {
    bool first_aborted = false;
    events_t events;
    auto t = co_await start_task([&](aio::future<void> started) -> aio::awaitable<void> {
        std::exception_ptr cancel;
        try {
            co_await raw_wait_an_hour(started);
        } catch (const boost::system::system_error& e) {
            first_aborted = e.code() == boost::asio::error::operation_aborted;
            cancel = std::current_exception();
        }
        co_await aio::uncancel();
        co_await awaiting_cleanup(events);
        std::rethrow_exception(cancel);
    });
    bool ended_cancelled = co_await cancel_and_await(t);
    CHECK(ended_cancelled);
    CHECK(first_aborted);
    CHECK(events == events_t{"cleanup start", "cleanup end"});
}

namespace {

/// A resource whose async_enter gives the body something other than itself (a connection
/// object whose `__aenter__` returns a cursor, say).
struct cursor_source {
    events_t events;
    std::exception_ptr exit_error;
    bool suppress = false;

    aio::awaitable<std::unique_ptr<std::string>> async_enter() {
        co_await aio::sleep(0s);
        events.push_back("enter");
        co_return std::make_unique<std::string>("cursor");
    }
    aio::awaitable<bool> async_exit(std::exception_ptr e) {
        co_await aio::sleep(0s);
        exit_error = e;
        events.push_back(suppress ? "exit suppresses" : "exit");
        co_return suppress;
    }
};

/// A resource to pass as an rvalue: records when it is destroyed.
struct owned_resource {
    events_t* events;
    explicit owned_resource(events_t& e) : events(&e) {}
    owned_resource(owned_resource&& o) noexcept : events(std::exchange(o.events, nullptr)) {}
    owned_resource& operator=(owned_resource&&) = delete;
    ~owned_resource() {
        if (events != nullptr) {
            events->push_back("destroyed");
        }
    }
    aio::awaitable<void> async_exit(std::exception_ptr) {
        co_await aio::sleep(0s);
        events->push_back("exit");
    }
};

struct failing_enter {
    bool exit_called = false;
    aio::awaitable<void> async_enter() {
        co_await aio::sleep(0s);
        throw std::runtime_error("enter failed");
    }
    aio::awaitable<void> async_exit(std::exception_ptr) {
        exit_called = true;
        co_return;
    }
};

} // namespace

AIO_TEST_CASE("capture returns the value of the work in an outcome") {
    events_t events;
    aio::outcome<int> r = co_await aio::capture(body_value(events, 4));
    CHECK(r.has_value());
    CHECK(r.value() == 4);
    CHECK(events == events_t{"body"});
}

AIO_TEST_CASE("capture holds the exception of the work instead of throwing it") {
    events_t events;
    aio::outcome<int> r = co_await aio::capture(body_failing(events, "work failed"));
    CHECK_FALSE(r.has_value());
    CHECK(aio::describe(r.exception()) == "work failed");
    co_await awaiting_cleanup(events);
    std::string rethrown;
    try {
        r.value();
    } catch (const std::runtime_error& e) {
        rethrown = e.what();
    }
    CHECK(rethrown == "work failed");
    CHECK(events == events_t{"body", "cleanup start", "cleanup end"});
}

AIO_TEST_CASE("capture of a cancelled work lets the cleanup await, then the rethrow ends the task "
              "cancelled") {
    events_t events;
    bool outcome_cancelled = false;
    auto t = co_await start_task([&](aio::future<void> started) -> aio::awaitable<void> {
        auto work = [&]() -> aio::awaitable<void> {
            started.set_result();
            co_await aio::sleep(1h);
            events.push_back("work end");
        };
        aio::outcome<std::monostate> r = co_await aio::capture(work);
        outcome_cancelled = r.cancelled();
        if (r.cancelled()) {
            co_await awaiting_cleanup(events);
        }
        r.value();
        events.push_back("not reached");
    });
    t.cancel();
    co_await t.wait_done();
    CHECK(outcome_cancelled);
    CHECK(t.cancelled());
    CHECK(events == events_t{"cleanup start", "cleanup end"});
}

AIO_TEST_CASE("capture clears a raw Asio cancellation so that the cleanup can await") {
    events_t events;
    bool aborted = false;
    bool outcome_cancelled = false;
    auto t = co_await start_task([&](aio::future<void> started) -> aio::awaitable<void> {
        auto r = co_await aio::capture(raw_wait_an_hour(started));
        outcome_cancelled = r.cancelled();
        try {
            std::rethrow_exception(r.exception());
        } catch (const boost::system::system_error& e) {
            aborted = e.code() == boost::asio::error::operation_aborted;
        } catch (...) {
        }
        co_await awaiting_cleanup(events); // would throw operation_aborted without the clear
        r.value();
    });
    t.cancel();
    co_await t.wait_done();
    CHECK(aborted);
    CHECK(outcome_cancelled);
    CHECK(t.cancelled());
    CHECK(events == events_t{"cleanup start", "cleanup end"});
}

AIO_TEST_CASE(
    "capture turns a value returned with a cancellation still pending into cancelled_error") {
    events_t events;
    bool has_value = true;
    bool outcome_cancelled = false;
    bool holds_cancelled_error = false;
    auto t = co_await start_task([&](aio::future<void> started) -> aio::awaitable<void> {
        auto swallowing = [&]() -> aio::awaitable<int> {
            try {
                co_await raw_wait_an_hour(started);
            } catch (const boost::system::system_error&) {
                events.push_back("swallowed");
            }
            co_return 1; // without uncancel(): Asio still counts the coroutine cancelled
        };
        aio::outcome<int> r = co_await aio::capture(swallowing);
        has_value = r.has_value();
        outcome_cancelled = r.cancelled();
        holds_cancelled_error = holds<aio::cancelled_error>(r.exception());
        co_await awaiting_cleanup(events);
    });
    t.cancel();
    co_await t.wait_done();
    CHECK_FALSE(has_value);
    CHECK(outcome_cancelled);
    CHECK(holds_cancelled_error);
    CHECK(events == events_t{"swallowed", "cleanup start", "cleanup end"});
}

AIO_TEST_CASE("a cancel after capture returned reaches the next await") {
    bool has_value = false;
    bool next_await_cancelled = false;
    aio::future<void> resume;
    auto t = co_await start_task([&](aio::future<void> captured) -> aio::awaitable<void> {
        auto quick = []() -> aio::awaitable<int> { co_return 1; };
        auto r = co_await aio::capture(quick);
        has_value = r.has_value();
        captured.set_result();
        try {
            co_await resume();
        } catch (const aio::cancelled_error&) {
            next_await_cancelled = true;
        }
    });
    t.cancel();
    co_await t.wait_done();
    CHECK(has_value);
    CHECK(next_await_cancelled);
}

AIO_TEST_CASE("with hands the value of async_enter to the body") {
    cursor_source src;
    std::string seen;
    std::optional<int> r =
        co_await aio::with(src, [&](std::unique_ptr<std::string>& cursor) -> aio::awaitable<int> {
            seen = *cursor;
            src.events.push_back("body");
            co_await aio::sleep(0s);
            co_return 2;
        });
    CHECK(seen == "cursor");
    CHECK(r == 2);
    CHECK(src.exit_error == nullptr);
    CHECK(src.events == events_t{"enter", "body", "exit"});
}

AIO_TEST_CASE("with: an async_exit returning true suppresses the body's exception") {
    cursor_source src;
    src.suppress = true;
    co_await aio::with(src, [](std::unique_ptr<std::string>&) -> aio::awaitable<void> {
        co_await aio::sleep(0s);
        throw std::runtime_error("suppressed");
    });
    CHECK(aio::describe(src.exit_error) == "suppressed"); // suppressed: with returned
    std::optional<int> v =
        co_await aio::with(src, [](std::unique_ptr<std::string>&) -> aio::awaitable<int> {
            co_await aio::sleep(0s);
            throw std::runtime_error("suppressed too");
        });
    CHECK_FALSE(v.has_value());
    CHECK(aio::describe(src.exit_error) == "suppressed too");
}

AIO_TEST_CASE("with: an async_exit returning false lets the body's exception through") {
    cursor_source src;
    std::string error;
    try {
        co_await aio::with(src, [](std::unique_ptr<std::string>&) -> aio::awaitable<void> {
            co_await aio::sleep(0s);
            throw std::runtime_error("kept");
        });
    } catch (const std::runtime_error& e) {
        error = e.what();
    }
    CHECK(error == "kept");
    CHECK(src.events == events_t{"enter", "exit"});
}

AIO_TEST_CASE("with owns a resource passed as an rvalue until its exit is done") {
    events_t events;
    co_await aio::with(owned_resource(events), [&](owned_resource&) -> aio::awaitable<void> {
        events.push_back("body");
        co_await aio::sleep(0s);
    });
    events.push_back("after");
    CHECK(events == events_t{"body", "exit", "destroyed", "after"});
}

AIO_TEST_CASE("with does not call async_exit when async_enter fails") {
    failing_enter res;
    bool body_ran = false;
    std::string error;
    try {
        co_await aio::with(res, [&](failing_enter&) -> aio::awaitable<void> {
            body_ran = true;
            co_return;
        });
    } catch (const std::runtime_error& e) {
        error = e.what();
    }
    CHECK(error == "enter failed");
    CHECK_FALSE(body_ran);
    CHECK_FALSE(res.exit_called);
}

AIO_TEST_CASE("with passes a cancellation the body left pending to async_exit") {
    recording_resource res;
    auto t = co_await start_task([&](aio::future<void> started) -> aio::awaitable<void> {
        co_await aio::with(res, [&](recording_resource& r) -> aio::awaitable<void> {
            try {
                co_await raw_wait_an_hour(started);
            } catch (const boost::system::system_error&) {
                r.events.push_back("swallowed");
            }
        });
        res.events.push_back("after with");
    });
    t.cancel();
    co_await t.wait_done();
    CHECK(t.cancelled());
    CHECK(holds<aio::cancelled_error>(res.exit_error));
    CHECK(res.events == events_t{"enter", "swallowed", "exit start", "exit end"});
}

// Tests of aio/cleanup.hpp: finally, with, uncancel.
#include "support.hpp"

#include <doctest/doctest.h>

#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

using aio_test::holds;

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

TEST_CASE("finally runs the cleanup on success and returns the value") {
    events_t events;
    int value = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        value = co_await aio::finally(body_value(events, 5), awaiting_cleanup(events));
        events.push_back("after");
    });
    CHECK(value == 5);
    CHECK(events == events_t{"body", "cleanup start", "cleanup end", "after"});
}

TEST_CASE("finally with callables runs the cleanup on success") {
    events_t events;
    int value = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        int base = 40;
        value = co_await aio::finally(
            [&]() -> aio::awaitable<int> {
                events.push_back("body");
                co_await aio::sleep(0s);
                co_return base + 2;
            },
            [&]() -> aio::awaitable<void> { co_await awaiting_cleanup(events); });
    });
    CHECK(value == 42);
    CHECK(events == events_t{"body", "cleanup start", "cleanup end"});
}

TEST_CASE("finally runs the cleanup on error and rethrows the error after it") {
    events_t events;
    std::string error;
    aio_test::run([&]() -> aio::awaitable<void> {
        try {
            co_await aio::finally(body_failing(events, "body failed"), awaiting_cleanup(events));
            events.push_back("not reached");
        } catch (const std::runtime_error& e) {
            error = e.what();
            events.push_back("caught");
        }
    });
    CHECK(error == "body failed");
    CHECK(events == events_t{"body", "cleanup start", "cleanup end", "caught"});
}

TEST_CASE("finally lets an exception from the cleanup replace the body error") {
    events_t events;
    std::string logic;
    bool runtime = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        try {
            co_await aio::finally(body_failing(events, "body failed"),
                                  [&]() -> aio::awaitable<void> {
                                      co_await awaiting_cleanup(events);
                                      throw std::logic_error("cleanup failed");
                                  });
        } catch (const std::logic_error& e) {
            logic = e.what();
        } catch (const std::runtime_error&) {
            runtime = true;
        }
    });
    CHECK(logic == "cleanup failed");
    CHECK_FALSE(runtime);
    CHECK(events == events_t{"body", "cleanup start", "cleanup end"});
}

TEST_CASE("finally runs an awaiting cleanup on cancellation then propagates cancelled_error") {
    events_t events;
    bool main_saw_cancelled = false;
    bool task_cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> started;
        auto t = aio::create_task([&]() -> aio::awaitable<void> {
            co_await aio::finally(
                [&]() -> aio::awaitable<void> {
                    started.set_result();
                    co_await aio::sleep(1h);
                    events.push_back("body end");
                },
                awaiting_cleanup(events));
            events.push_back("after finally");
        });
        co_await started();
        t.cancel();
        try {
            co_await t();
        } catch (const aio::cancelled_error&) {
            main_saw_cancelled = true;
            events.push_back("caught");
        }
        task_cancelled = t.cancelled();
    });
    CHECK(main_saw_cancelled);
    CHECK(task_cancelled);
    CHECK(events == events_t{"cleanup start", "cleanup end", "caught"});
}

TEST_CASE("finally runs an awaiting cleanup after a raw Asio operation is cancelled") {
    events_t events;
    bool task_cancelled = false;
    bool saw_cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> started;
        auto t = aio::create_task([&]() -> aio::awaitable<void> {
            co_await aio::finally(
                [&]() -> aio::awaitable<void> {
                    auto ex = co_await boost::asio::this_coro::executor;
                    boost::asio::steady_timer timer(ex, std::chrono::hours(1));
                    started.set_result();
                    co_await timer.async_wait(boost::asio::use_awaitable);
                    events.push_back("body end");
                },
                awaiting_cleanup(events));
            events.push_back("after finally");
        });
        co_await started();
        t.cancel();
        try {
            co_await t();
        } catch (const aio::cancelled_error&) {
            saw_cancelled = true;
        }
        task_cancelled = t.cancelled();
    });
    CHECK(saw_cancelled);
    CHECK(task_cancelled);
    CHECK(events == events_t{"cleanup start", "cleanup end"});
}

TEST_CASE("with calls async_enter and async_exit with no exception on success") {
    recording_resource res;
    int value = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        value = co_await aio::with(res, [](recording_resource& r) -> aio::awaitable<int> {
            r.events.push_back("body");
            co_await aio::sleep(0s);
            co_return 3;
        });
        res.events.push_back("after");
    });
    CHECK(value == 3);
    CHECK(res.exit_called);
    CHECK(res.exit_error == nullptr);
    CHECK(res.events == events_t{"enter", "body", "exit start", "exit end", "after"});
}

TEST_CASE("with passes the body error to async_exit and rethrows it") {
    recording_resource res;
    std::string error;
    aio_test::run([&]() -> aio::awaitable<void> {
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
    });
    CHECK(error == "body failed");
    CHECK(res.exit_called);
    CHECK(holds<std::runtime_error>(res.exit_error));
    CHECK(aio::describe(res.exit_error) == "body failed");
    CHECK(res.events == events_t{"enter", "body", "exit start", "exit end", "caught"});
}

TEST_CASE("with awaits async_exit on cancellation then propagates cancelled_error") {
    recording_resource res;
    bool main_saw_cancelled = false;
    bool task_cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> started;
        auto t = aio::create_task([&]() -> aio::awaitable<void> {
            co_await aio::with(res, [&](recording_resource& r) -> aio::awaitable<void> {
                r.events.push_back("body");
                started.set_result();
                co_await aio::sleep(1h);
                r.events.push_back("body end");
            });
            res.events.push_back("after with");
        });
        co_await started();
        t.cancel();
        try {
            co_await t();
        } catch (const aio::cancelled_error&) {
            main_saw_cancelled = true;
            res.events.push_back("caught");
        }
        task_cancelled = t.cancelled();
    });
    CHECK(main_saw_cancelled);
    CHECK(task_cancelled);
    CHECK(res.exit_called);
    CHECK(aio::is_cancellation(res.exit_error));
    CHECK(res.events == events_t{"enter", "body", "exit start", "exit end", "caught"});
}

TEST_CASE("with lets an exception from async_exit replace the body error") {
    recording_resource res;
    res.throw_on_exit = true;
    std::string logic;
    bool runtime = false;
    aio_test::run([&]() -> aio::awaitable<void> {
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
    });
    CHECK(logic == "exit failed");
    CHECK_FALSE(runtime);
    CHECK(holds<std::runtime_error>(res.exit_error));
}

TEST_CASE("with propagates an exception from async_exit after a successful body") {
    recording_resource res;
    res.throw_on_exit = true;
    std::string logic;
    aio_test::run([&]() -> aio::awaitable<void> {
        try {
            co_await aio::with(res, [](recording_resource&) -> aio::awaitable<int> {
                co_await aio::sleep(0s);
                co_return 1;
            });
        } catch (const std::logic_error& e) {
            logic = e.what();
        }
    });
    CHECK(logic == "exit failed");
    CHECK(res.exit_called);
    CHECK(res.exit_error == nullptr);
}

TEST_CASE("without uncancel an await after a caught raw Asio cancellation throws again") {
    bool first_aborted = false;
    bool second_aborted = false;
    bool second_other = false;
    bool reached_after = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> started;
        auto t = aio::create_task([&]() -> aio::awaitable<void> {
            auto ex = co_await boost::asio::this_coro::executor;
            boost::asio::steady_timer timer(ex, std::chrono::hours(1));
            started.set_result();
            try {
                co_await timer.async_wait(boost::asio::use_awaitable);
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
        co_await started();
        t.cancel();
        co_await t.wait_done();
    });
    CHECK(first_aborted);
    CHECK(second_aborted);
    CHECK_FALSE(second_other);
    CHECK_FALSE(reached_after);
}

TEST_CASE("uncancel lets a task await cleanup after a caught raw Asio cancellation") {
    bool first_aborted = false;
    events_t events;
    bool main_saw_cancelled = false;
    bool task_cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> started;
        auto t = aio::create_task([&]() -> aio::awaitable<void> {
            auto ex = co_await boost::asio::this_coro::executor;
            boost::asio::steady_timer timer(ex, std::chrono::hours(1));
            started.set_result();
            std::exception_ptr cancel;
            try {
                co_await timer.async_wait(boost::asio::use_awaitable);
            } catch (const boost::system::system_error& e) {
                first_aborted = e.code() == boost::asio::error::operation_aborted;
                cancel = std::current_exception();
            }
            co_await aio::uncancel();
            co_await awaiting_cleanup(events);
            std::rethrow_exception(cancel);
        });
        co_await started();
        t.cancel();
        try {
            co_await t();
        } catch (const aio::cancelled_error&) {
            main_saw_cancelled = true;
        }
        task_cancelled = t.cancelled();
    });
    CHECK(first_aborted);
    CHECK(events == events_t{"cleanup start", "cleanup end"});
    CHECK(main_saw_cancelled);
    CHECK(task_cancelled);
}

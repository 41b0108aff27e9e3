// Tests of aio/context_manager.hpp: context_manager<T> used through aio::with.
#include "support.hpp"

#include <aio/context_manager.hpp>

#include <doctest/doctest.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

using aio_test::join;
using events_t = std::vector<std::string>;

/// What the body receives: a session the context manager opens and keeps.
struct session {
    std::string name;
    bool open = false;
};

/// How the generator treats an exception thrown in at its co_yield.
enum class on_error { rethrow, swallow, replace };

/// try: yield session  except runtime_error: (rethrow | swallow | raise another)  finally: close
aio::context_manager<session*> opened(events_t& events, std::string name,
                                      on_error policy = on_error::rethrow) {
    session s{std::move(name)};
    co_await aio::sleep(0s);
    s.open = true;
    events.push_back("enter " + s.name);
    std::exception_ptr error;
    try {
        co_yield &s;
    } catch (const aio::cancelled_error&) {
        events.push_back("exit saw cancelled_error");
        error = std::current_exception();
    } catch (const std::runtime_error& e) {
        events.push_back(std::string("exit saw ") + e.what());
        if (policy == on_error::rethrow) {
            error = std::current_exception();
        } else if (policy == on_error::replace) {
            error = std::make_exception_ptr(std::logic_error("replaced"));
        }
    }
    co_await aio::sleep(0s); // the finally awaits, also after a cancellation
    s.open = false;
    events.push_back("closed " + s.name);
    if (error) {
        std::rethrow_exception(error);
    }
}

aio::generator<int> yields(int times) {
    for (int i = 0; i < times; ++i) {
        co_yield int(i);
    }
}

} // namespace

TEST_CASE("with runs a context_manager's enter, the body with the yielded value, then its exit") {
    events_t events;
    std::optional<int> value;
    aio_test::run([&]() -> aio::awaitable<void> {
        value = co_await aio::with(opened(events, "a"), [&](session* s) -> aio::awaitable<int> {
            events.push_back("body " + s->name + (s->open ? " open" : " closed"));
            co_await aio::sleep(0s);
            co_return 5;
        });
        events.push_back("after");
    });
    CHECK(value == 5);
    CHECK(join(events) == "enter a|body a open|closed a|after");
}

TEST_CASE("the body's exception is thrown into the generator at its co_yield and let out") {
    events_t events;
    std::exception_ptr thrown = std::make_exception_ptr(std::runtime_error("body failed"));
    bool same = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        try {
            co_await aio::with(opened(events, "b"), [&](session*) -> aio::awaitable<void> {
                co_await aio::sleep(0s);
                std::rethrow_exception(thrown);
            });
        } catch (const std::runtime_error&) {
            same = std::current_exception() == thrown;
        }
    });
    CHECK(same);
    CHECK(join(events) == "enter b|exit saw body failed|closed b");
}

TEST_CASE("a generator that catches the body's exception and finishes suppresses it") {
    events_t events;
    bool returned = false;
    std::optional<int> value = 1;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto failing = [](session*) -> aio::awaitable<int> {
            co_await aio::sleep(0s);
            throw std::runtime_error("swallowed");
        };
        value = co_await aio::with(opened(events, "c", on_error::swallow), failing);
        returned = true;
    });
    CHECK(returned);
    CHECK_FALSE(value.has_value());
    CHECK(join(events) == "enter c|exit saw swallowed|closed c");
}

TEST_CASE("an exception the generator raises instead replaces the body's") {
    events_t events;
    std::string error;
    aio_test::run([&]() -> aio::awaitable<void> {
        try {
            co_await aio::with(opened(events, "d", on_error::replace),
                               [](session*) -> aio::awaitable<void> {
                                   co_await aio::sleep(0s);
                                   throw std::runtime_error("original");
                               });
        } catch (const std::logic_error& e) {
            error = e.what();
        }
    });
    CHECK(error == "replaced");
    CHECK(join(events) == "enter d|exit saw original|closed d");
}

TEST_CASE("a cancelled body: the generator sees cancelled_error, its cleanup awaits, the task "
          "ends cancelled") {
    events_t events;
    bool task_cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> started;
        auto t = aio::create_task([&]() -> aio::awaitable<void> {
            co_await aio::with(opened(events, "e"), [&](session*) -> aio::awaitable<void> {
                started.set_result();
                co_await aio::sleep(1h);
            });
            events.push_back("not reached");
        });
        co_await started();
        t.cancel();
        co_await t.wait_done();
        task_cancelled = t.cancelled();
    });
    CHECK(task_cancelled);
    CHECK(join(events) == "enter e|exit saw cancelled_error|closed e");
}

TEST_CASE("a generator that does not yield is an error, and the body does not run") {
    bool body_ran = false;
    std::string error;
    aio_test::run([&]() -> aio::awaitable<void> {
        try {
            co_await aio::with(aio::context_manager(yields(0)), [&](int) -> aio::awaitable<void> {
                body_ran = true;
                co_return;
            });
        } catch (const aio::invalid_state_error& e) {
            error = e.what();
        }
    });
    CHECK_FALSE(body_ran);
    CHECK(error == "aio: context_manager: the generator didn't yield");
}

TEST_CASE("a generator that yields again after the body is closed, and it is an error") {
    int live = 0;
    std::string error;
    std::string error_after_throw;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto twice = [](int& l) -> aio::generator<int> {
            ++l;
            try {
                co_yield 1;
            } catch (...) {
            }
            co_yield 2;
            --l; // not reached: closing throws generator_exit at the second co_yield
        };
        auto count_down_on_close = [](int& l) -> aio::generator<int> {
            struct decrement {
                int& n;
                ~decrement() { --n; }
            } on_exit{l};
            ++l;
            co_yield 1;
            co_yield 2;
        };
        try {
            co_await aio::with(aio::context_manager(count_down_on_close(live)),
                               [](int) -> aio::awaitable<void> { co_return; });
        } catch (const aio::invalid_state_error& e) {
            error = e.what();
        }
        CHECK(live == 0); // closed: its locals are destroyed
        try {
            co_await aio::with(aio::context_manager(twice(live)), [](int) -> aio::awaitable<void> {
                co_await aio::sleep(0s);
                throw std::runtime_error("body");
            });
        } catch (const aio::invalid_state_error& e) {
            error_after_throw = e.what();
        }
    });
    CHECK(error == "aio: context_manager: the generator didn't stop");
    CHECK(error_after_throw == "aio: context_manager: the generator didn't stop after athrow()");
}

TEST_CASE("a context_manager made from a generator is single use, as in Python") {
    bool first = false;
    std::string second;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::context_manager<int> cm(yields(1));
        co_await aio::with(cm, [&](int v) -> aio::awaitable<void> {
            first = v == 0;
            co_return;
        });
        try {
            co_await aio::with(cm, [](int) -> aio::awaitable<void> { co_return; });
        } catch (const aio::invalid_state_error& e) {
            second = e.what();
        }
    });
    CHECK(first);
    CHECK(second == "aio: context_manager: the generator didn't yield");
}

TEST_CASE("an exception before the co_yield propagates and the body does not run") {
    bool body_ran = false;
    bool failed = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto failing_enter = []() -> aio::context_manager<int> {
            co_await aio::sleep(0s);
            throw std::runtime_error("cannot connect");
            co_yield 1;
        };
        try {
            co_await aio::with(failing_enter(), [&](int) -> aio::awaitable<void> {
                body_ran = true;
                co_return;
            });
        } catch (const std::runtime_error&) {
            failed = true;
        }
    });
    CHECK(failed);
    CHECK_FALSE(body_ran);
}

TEST_CASE("a context_manager's exit can await after the body's raw Asio operation was "
          "cancelled") {
    events_t events;
    bool task_cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> started;
        auto cm = [&]() -> aio::context_manager<int> {
            std::exception_ptr error;
            try {
                co_yield 1;
            } catch (...) {
                error = std::current_exception();
                events.push_back(aio::is_cancellation(error) ? "exit saw a cancellation"
                                                             : "exit saw something else");
            }
            co_await aio::sleep(0s); // Asio's cancellation is sticky: with() cleared it
            events.push_back("exit awaited");
            if (error) {
                std::rethrow_exception(error);
            }
        };
        auto t = aio::create_task([&]() -> aio::awaitable<void> {
            co_await aio::with(cm(), [&](int) -> aio::awaitable<void> {
                auto ex = co_await boost::asio::this_coro::executor;
                boost::asio::steady_timer timer(ex, std::chrono::hours(1));
                started.set_result();
                co_await timer.async_wait(boost::asio::use_awaitable);
            });
        });
        co_await started();
        t.cancel();
        co_await t.wait_done();
        task_cancelled = t.cancelled();
    });
    CHECK(task_cancelled);
    CHECK(join(events) == "exit saw a cancellation|exit awaited");
}

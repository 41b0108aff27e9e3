// Helpers shared by aio's tests: test cases whose body is a coroutine (AIO_TEST_CASE), running
// a coroutine as main, collecting what the loop reports, and small checks. The coroutines and
// scenarios that several test files share live in fixtures.hpp.
#pragma once

#include <aio/aio.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <exception>
#include <string>
#include <utility>
#include <vector>

namespace aio_test {

/// aio::run without signal handling (tests that send signals install it themselves).
template <class Main>
auto run(Main&& main) {
    return aio::run(std::forward<Main>(main), aio::run_options{.handle_signals = false});
}

/// Collects what the loop reports, instead of printing it.
struct report_log {
    std::vector<aio::exception_context> entries;

    void install(const aio::loop& lp) {
        lp.set_exception_handler([this](const aio::exception_context& c) { entries.push_back(c); });
    }
    std::size_t count(const std::string& message_part) const {
        std::size_t n = 0;
        for (const auto& e : entries) {
            if (e.message.find(message_part) != std::string::npos) {
                ++n;
            }
        }
        return n;
    }
};

// ---------------------------------------------------------------------------------------------
// Test cases whose body is a coroutine, with the checks next to the awaits they are about:
//
//     AIO_TEST_CASE("awaiting a task gives its value") {
//         aio::task<int> t = aio::create_task(aio_test::value_now(5));
//         int v = co_await t();
//         CHECK(v == 5);
//     }
//
// AIO_TEST_CASE(name) defines a doctest test case whose body is an aio::awaitable<void>
// coroutine, run as main by aio_test::run (no signal handling). The name takes doctest's
// decorators as TEST_CASE's does: AIO_TEST_CASE("slow" * doctest::timeout(5)).
//
// - CHECK and REQUIRE work in the body and in the tasks it starts: they are plain calls. A
//   failed REQUIRE throws doctest's TestFailureException, which ends the coroutine it is in as
//   any exception does: a task ends with it and rethrows it to whoever awaits the task, and
//   aio::run rethrows it from main, which ends the test (tests/support.cpp checks this).
// - Await into a local, then check the local (`int v = co_await t(); CHECK(v == 5);`): a
//   co_await inside CHECK(...) would sit inside doctest's expression templates, where GCC 12's
//   coroutine bugs live.
// - The test fails if the body throws, if run returns before the body reached its end, or if
//   the loop reports anything while it runs (an exception nobody retrieved, a done callback that
//   threw, a task abandoned at shutdown). A body parked for good keeps run waiting: ctest's
//   timeout fails the test. A test about what the loop reports, what run throws or what the
//   shutdown does is a plain TEST_CASE that checks after aio_test::run returns.
// - The body's locals end with the body, before run's shutdown cancels the tasks it left: a body
//   awaits the tasks that use its locals. (A failed REQUIRE leaves them behind; the test has
//   failed by then.)
// - doctest keeps one stack of INFO and CAPTURE messages per thread, not per coroutine: tasks
//   that interleave must not each push their own.
#define AIO_TEST_CASE(name) AIO_TEST_CASE_WITH_BODY_(name, DOCTEST_ANONYMOUS(aio_test_body_))
#define AIO_TEST_CASE_WITH_BODY_(name, body)                                                       \
    static aio::awaitable<void> body();                                                            \
    TEST_CASE(name) {                                                                              \
        aio_test::run_test_body(&body);                                                            \
    }                                                                                              \
    static aio::awaitable<void> body()

/// Runs the body of an AIO_TEST_CASE as main; fails the test if the body did not reach its end
/// or the loop reported something. An exception of the body (a failed REQUIRE's too) leaves
/// through aio_test::run.
inline void run_test_body(aio::awaitable<void> (*body)()) {
    report_log log;
    bool finished = false;
    run([&]() -> aio::awaitable<void> {
        log.install(co_await aio::this_loop());
        co_await body();
        finished = true;
    });
    CHECK_MESSAGE(finished, "the test's coroutine did not reach its end");
    for (const auto& e : log.entries) {
        FAIL_CHECK("the loop reported: " << e.message << ": " << aio::describe(e.exception));
    }
}

// ---------------------------------------------------------------------------------------------
// Checks.

/// True if `e` holds an exception of type E.
template <class E>
bool holds(const std::exception_ptr& e) {
    if (!e) {
        return false;
    }
    try {
        std::rethrow_exception(e);
    } catch (const E&) {
        return true;
    } catch (...) {
        return false;
    }
}

/// True if f() throws an E (false if it throws something else or nothing).
template <class E, class F>
bool throws_as(F&& f) {
    try {
        f();
    } catch (const E&) {
        return true;
    } catch (...) {
        return false;
    }
    return false;
}

/// True if awaiting `aw` throws an E; false if it throws something else or returns (its value
/// is dropped). A failed REQUIRE inside the awaited work goes on through.
template <class E, class T>
aio::awaitable<bool> co_throws_as(aio::awaitable<T> aw) {
    bool threw = false;
    try {
        co_await std::move(aw);
    } catch (const doctest::detail::TestFailureException&) {
        throw;
    } catch (const E&) {
        threw = true;
    } catch (...) {
    }
    co_return threw;
}

/// Yields to the loop until `count` reaches `n` (tasks bump a counter just before they park),
/// at most 100 times, so that a broken primitive fails the checks instead of hanging.
inline aio::awaitable<void> yield_until(const int& count, int n) {
    for (int i = 0; i < 100 && count < n; ++i) {
        co_await aio::sleep(std::chrono::seconds(0));
    }
}

/// The events joined with '|', for comparing a sequence in one CHECK.
inline std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) {
        out += (out.empty() ? "" : "|") + item;
    }
    return out;
}

/// Adds one to a counter for as long as it lives: as a local of a coroutine, it counts the
/// frames that have not been destroyed, or the tasks inside a critical section (those that
/// leave it by an exception too).
class live_count {
public:
    explicit live_count(int& counter) noexcept : counter_(counter) { ++counter_; }
    ~live_count() { --counter_; }
    live_count(const live_count&) = delete;
    live_count& operator=(const live_count&) = delete;

private:
    int& counter_;
};

} // namespace aio_test

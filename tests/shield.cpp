// Tests of aio/shield.hpp: shield.
#include "support.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;

namespace {

aio::awaitable<int> value_now(int value) {
    co_return value;
}

/// Signals `started`, waits for `gate`, returns `value`.
aio::awaitable<int> value_after(aio::future<void> started, aio::future<void> gate, int value) {
    started.set_result();
    co_await gate();
    co_return value;
}

/// The same, also publishing the value through `done`.
aio::awaitable<int> publish_after(aio::future<void> started, aio::future<void> gate,
                                  aio::future<int> done, int value) {
    started.set_result();
    co_await gate();
    done.set_result(value);
    co_return value;
}

aio::awaitable<int> fail_after_yield(std::string what) {
    co_await aio::sleep(0s);
    throw std::runtime_error(what);
}

} // namespace

TEST_CASE("shield keeps the inner task running when the outer task is cancelled") {
    bool outer_saw_cancelled = false;
    bool inner_pending_at_cancel = false;
    bool main_saw_cancelled = false;
    bool outer_cancelled = false;
    bool inner_untouched = false;
    int inner_value = 0;
    bool inner_cancelled = true;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> started;
        aio::future<void> gate;
        auto inner = aio::create_task(value_after(started, gate, 11));
        auto outer = aio::create_task([&]() -> aio::awaitable<int> {
            try {
                co_return co_await aio::shield(inner);
            } catch (const aio::cancelled_error&) {
                outer_saw_cancelled = true;
                inner_pending_at_cancel = !inner.done();
                throw;
            }
        });
        co_await started();
        co_await aio::sleep(0s);
        outer.cancel();
        try {
            co_await outer();
        } catch (const aio::cancelled_error&) {
            main_saw_cancelled = true;
        }
        outer_cancelled = outer.cancelled();
        inner_untouched = !inner.done() && inner.cancelling() == 0;
        gate.set_result();
        inner_value = co_await inner();
        inner_cancelled = inner.cancelled();
    });
    CHECK(outer_saw_cancelled);
    CHECK(inner_pending_at_cancel);
    CHECK(main_saw_cancelled);
    CHECK(outer_cancelled);
    CHECK(inner_untouched);
    CHECK(inner_value == 11);
    CHECK_FALSE(inner_cancelled);
}

TEST_CASE("shield of an awaitable keeps it running when the outer task is cancelled") {
    bool outer_saw_cancelled = false;
    bool inner_pending_after_cancel = false;
    int inner_value = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> started;
        aio::future<void> gate;
        aio::future<int> done;
        auto outer = aio::create_task([&]() -> aio::awaitable<int> {
            try {
                co_return co_await aio::shield(publish_after(started, gate, done, 12));
            } catch (const aio::cancelled_error&) {
                outer_saw_cancelled = true;
                throw;
            }
        });
        co_await started();
        co_await aio::sleep(0s);
        outer.cancel();
        co_await outer.wait_done();
        inner_pending_after_cancel = !done.done();
        gate.set_result();
        inner_value = co_await done();
    });
    CHECK(outer_saw_cancelled);
    CHECK(inner_pending_after_cancel);
    CHECK(inner_value == 12);
}

TEST_CASE("shield returns the value when not cancelled") {
    int from_awaitable = 0;
    int from_task = 0;
    int from_future = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        from_awaitable = co_await aio::shield(value_now(1));
        auto t = aio::create_task(value_now(2));
        from_task = co_await aio::shield(t);
        aio::future<int> f;
        auto setter = aio::create_task([&]() -> aio::awaitable<void> {
            co_await aio::sleep(0s);
            f.set_result(3);
        });
        from_future = co_await aio::shield(f);
        co_await setter();
    });
    CHECK(from_awaitable == 1);
    CHECK(from_task == 2);
    CHECK(from_future == 3);
}

TEST_CASE("shield rethrows the error of the inner work") {
    aio_test::report_log log;
    std::string error;
    bool other = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(aio::get_running_loop());
        try {
            co_await aio::shield(fail_after_yield("shielded failure"));
        } catch (const std::runtime_error& e) {
            error = e.what();
        } catch (...) {
            other = true;
        }
    });
    CHECK(error == "shielded failure");
    CHECK_FALSE(other);
    CHECK(log.entries.empty());
}

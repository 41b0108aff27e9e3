// Tests of aio/shield.hpp: shield.
#include "fixtures.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;

namespace {

using aio_test::fail_after_yield;
using aio_test::value_now;

/// Signals `started`, waits for `gate`, returns `value`.
aio::awaitable<int> start_then_value_after(aio::future<void> started, aio::future<void> gate,
                                           int value) {
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

} // namespace

AIO_TEST_CASE("shield keeps the inner task running when the outer task is cancelled") {
    bool outer_saw_cancelled = false;
    bool inner_pending_at_cancel = false;
    aio::future<void> started;
    aio::future<void> gate;
    auto inner = aio::create_task(start_then_value_after(started, gate, 11));
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
    bool main_saw_cancelled = co_await aio_test::co_throws_as<aio::cancelled_error>(outer());
    CHECK(outer_saw_cancelled);
    CHECK(inner_pending_at_cancel);
    CHECK(main_saw_cancelled);
    CHECK(outer.cancelled());
    CHECK_FALSE(inner.done());
    CHECK(inner.cancelling() == 0);
    gate.set_result();
    int inner_value = co_await inner();
    CHECK(inner_value == 11);
    CHECK_FALSE(inner.cancelled());
}

AIO_TEST_CASE("shield of an awaitable keeps it running when the outer task is cancelled") {
    bool outer_saw_cancelled = false;
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
    CHECK(outer_saw_cancelled);
    CHECK_FALSE(done.done());
    gate.set_result();
    int inner_value = co_await done();
    CHECK(inner_value == 12);
}

AIO_TEST_CASE("shield returns the value when not cancelled") {
    int from_awaitable = co_await aio::shield(value_now(1));
    CHECK(from_awaitable == 1);
    auto t = aio::create_task(value_now(2));
    int from_task = co_await aio::shield(t);
    CHECK(from_task == 2);
    aio::future<int> f;
    auto setter = aio::create_task([&]() -> aio::awaitable<void> {
        co_await aio::sleep(0s);
        f.set_result(3);
    });
    int from_future = co_await aio::shield(f);
    CHECK(from_future == 3);
    co_await setter();
}

// AIO_TEST_CASE fails the test if the loop reports anything (the inner work's error included).
AIO_TEST_CASE("shield rethrows the error of the inner work") {
    std::string error;
    bool other = false;
    try {
        co_await aio::shield(fail_after_yield("shielded failure"));
    } catch (const std::runtime_error& e) {
        error = e.what();
    } catch (...) {
        other = true;
    }
    CHECK(error == "shielded failure");
    CHECK_FALSE(other);
}

// Tests of aio/wait.hpp: wait, wait_for, timeout, timeout_at.
#include "fixtures.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

using aio_test::fail_after_yield;
using aio_test::holds;
using aio_test::sleep_forever;
using aio_test::value_after;
using aio_test::value_now;

/// Yields once, opens `gate`, returns `value`.
aio::awaitable<int> open_after_yield(aio::future<void> gate, int value) {
    co_await aio::sleep(0s);
    gate.set_result();
    co_return value;
}

/// Sleeps for an hour; on cancellation awaits two cleanup steps, sets `cleaned`, rethrows.
aio::awaitable<int> slow_with_cleanup(bool& cleaned, aio::future<void> started) {
    started.set_result();
    std::exception_ptr cancel = co_await aio_test::sleep_until_cancelled();
    co_await aio::sleep(0s);
    co_await aio::sleep(0s);
    cleaned = true;
    if (cancel) {
        std::rethrow_exception(cancel);
    }
    co_return 1;
}

/// Sleeps for an hour; on cancellation returns 7 instead.
aio::awaitable<int> swallow_cancel(bool& caught) {
    std::exception_ptr cancelled = co_await aio_test::sleep_until_cancelled();
    if (cancelled) {
        caught = true;
    }
    co_await aio::sleep(0s);
    co_return 7;
}

std::vector<int> values_of(const std::vector<aio::task<int>>& tasks) {
    std::vector<int> out;
    for (const auto& t : tasks) {
        out.push_back(t.result());
    }
    return out;
}

} // namespace

TEST_CASE("wait with all_completed returns every task done") {
    std::vector<int> done_values;
    std::size_t pending = 99;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> gate;
        std::vector<aio::task<int>> tasks;
        tasks.push_back(aio::create_task(value_after(gate, 1)));
        tasks.push_back(aio::create_task(open_after_yield(gate, 2)));
        tasks.push_back(aio::create_task(value_now(3)));
        auto r = co_await aio::wait(tasks);
        done_values = values_of(r.done);
        pending = r.pending.size();
    });
    CHECK(done_values == std::vector<int>{1, 2, 3});
    CHECK(pending == 0);
}

TEST_CASE("wait with first_completed returns once one task is done and cancels nothing") {
    std::vector<int> done_values;
    bool done_is_third = false;
    bool pending_in_order = false;
    bool pending_not_done = false;
    std::vector<int> later_values;
    bool none_cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> gate_1;
        aio::future<void> gate_2;
        std::vector<aio::task<int>> tasks;
        tasks.push_back(aio::create_task(value_after(gate_1, 1)));
        tasks.push_back(aio::create_task(value_after(gate_2, 2)));
        tasks.push_back(aio::create_task(value_now(3)));
        auto r = co_await aio::wait(tasks, aio::first_completed);
        done_values = values_of(r.done);
        done_is_third = r.done.size() == 1 && r.done[0] == tasks[2];
        pending_in_order =
            r.pending.size() == 2 && r.pending[0] == tasks[0] && r.pending[1] == tasks[1];
        pending_not_done = !tasks[0].done() && !tasks[1].done();
        gate_1.set_result();
        gate_2.set_result();
        later_values.push_back(co_await tasks[0]());
        later_values.push_back(co_await tasks[1]());
        none_cancelled = !tasks[0].cancelled() && !tasks[1].cancelled();
    });
    CHECK(done_values == std::vector<int>{3});
    CHECK(done_is_third);
    CHECK(pending_in_order);
    CHECK(pending_not_done);
    CHECK(later_values == std::vector<int>{1, 2});
    CHECK(none_cancelled);
}

TEST_CASE("wait with first_exception returns on the first error") {
    aio_test::report_log log;
    bool done_as_expected = false;
    bool pending_as_expected = false;
    std::exception_ptr error;
    int later_value = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(aio::get_running_loop());
        aio::future<void> gate;
        std::vector<aio::task<int>> tasks;
        tasks.push_back(aio::create_task(value_after(gate, 1)));
        tasks.push_back(aio::create_task(fail_after_yield("first error")));
        tasks.push_back(aio::create_task(value_now(3)));
        auto r = co_await aio::wait(tasks, aio::first_exception);
        done_as_expected = r.done.size() == 2 && r.done[0] == tasks[1] && r.done[1] == tasks[2];
        pending_as_expected = r.pending.size() == 1 && r.pending[0] == tasks[0];
        error = tasks[1].exception();
        gate.set_result();
        later_value = co_await tasks[0]();
    });
    CHECK(done_as_expected);
    CHECK(pending_as_expected);
    CHECK(holds<std::runtime_error>(error));
    CHECK(aio::describe(error) == "first error");
    CHECK(later_value == 1);
    CHECK(log.entries.empty());
}

TEST_CASE("wait with first_exception does not stop on a cancellation") {
    bool waiter_done_after_cancel = true;
    std::size_t done_count = 0;
    std::size_t pending_count = 99;
    bool first_cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> started;
        aio::future<void> gate;
        std::vector<aio::task<int>> tasks;
        tasks.push_back(aio::create_task(sleep_forever(started)));
        tasks.push_back(aio::create_task(value_after(gate, 2)));
        auto waiter = aio::create_task([&]() -> aio::awaitable<aio::wait_result<int>> {
            co_return co_await aio::wait(tasks, aio::first_exception);
        });
        co_await started();
        tasks[0].cancel();
        co_await tasks[0].wait_done();
        waiter_done_after_cancel = waiter.done();
        gate.set_result();
        auto r = co_await waiter();
        done_count = r.done.size();
        pending_count = r.pending.size();
        first_cancelled = tasks[0].cancelled();
    });
    CHECK_FALSE(waiter_done_after_cancel);
    CHECK(first_cancelled);
    CHECK(done_count == 2);
    CHECK(pending_count == 0);
}

TEST_CASE("wait with a timeout returns the pending tasks without cancelling them") {
    std::vector<int> done_values;
    bool pending_is_first = false;
    bool pending_untouched = false;
    int later_value = 0;
    std::chrono::steady_clock::duration elapsed{};
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> gate;
        std::vector<aio::task<int>> tasks;
        tasks.push_back(aio::create_task(value_after(gate, 1)));
        tasks.push_back(aio::create_task(value_now(2)));
        auto start = std::chrono::steady_clock::now();
        auto r = co_await aio::wait(tasks, aio::all_completed, 20ms);
        elapsed = std::chrono::steady_clock::now() - start;
        done_values = values_of(r.done);
        pending_is_first = r.pending.size() == 1 && r.pending[0] == tasks[0];
        pending_untouched = !tasks[0].done() && !tasks[0].cancelled() && tasks[0].cancelling() == 0;
        gate.set_result();
        later_value = co_await tasks[0]();
    });
    CHECK(done_values == std::vector<int>{2});
    CHECK(pending_is_first);
    CHECK(pending_untouched);
    CHECK(later_value == 1);
    CHECK(elapsed >= 20ms);
}

TEST_CASE("cancelling the task running wait leaves the tasks running") {
    bool waiter_cancelled = false;
    bool waiter_threw_cancelled = false;
    bool tasks_untouched = false;
    std::vector<int> later_values;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> gate_1;
        aio::future<void> gate_2;
        aio::future<void> about_to_wait;
        std::vector<aio::task<int>> tasks;
        tasks.push_back(aio::create_task(value_after(gate_1, 1)));
        tasks.push_back(aio::create_task(value_after(gate_2, 2)));
        auto waiter = aio::create_task([&]() -> aio::awaitable<void> {
            about_to_wait.set_result();
            co_await aio::wait(tasks);
        });
        co_await about_to_wait();
        waiter.cancel();
        try {
            co_await waiter();
        } catch (const aio::cancelled_error&) {
            waiter_threw_cancelled = true;
        }
        waiter_cancelled = waiter.cancelled();
        tasks_untouched = !tasks[0].done() && !tasks[1].done() && tasks[0].cancelling() == 0 &&
                          tasks[1].cancelling() == 0;
        gate_1.set_result();
        gate_2.set_result();
        later_values.push_back(co_await tasks[0]());
        later_values.push_back(co_await tasks[1]());
    });
    CHECK(waiter_threw_cancelled);
    CHECK(waiter_cancelled);
    CHECK(tasks_untouched);
    CHECK(later_values == std::vector<int>{1, 2});
}

TEST_CASE("wait_for cancels the work and waits for its cleanup before throwing timeout_error") {
    bool cleaned = false;
    bool timed_out = false;
    bool cleaned_at_timeout = false;
    std::chrono::steady_clock::duration elapsed{};
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> started;
        auto start = std::chrono::steady_clock::now();
        try {
            co_await aio::wait_for(slow_with_cleanup(cleaned, started), 20ms);
        } catch (const aio::timeout_error&) {
            timed_out = true;
            cleaned_at_timeout = cleaned;
        }
        elapsed = std::chrono::steady_clock::now() - start;
    });
    CHECK(timed_out);
    CHECK(cleaned_at_timeout);
    CHECK(elapsed >= 20ms);
}

TEST_CASE("wait_for returns the value when the work finishes in time") {
    int value = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> gate;
        auto opener = aio::create_task(open_after_yield(gate, 0));
        value = co_await aio::wait_for(value_after(gate, 42), 1h);
        co_await opener();
    });
    CHECK(value == 42);
}

TEST_CASE("wait_for returns the value of work that catches the cancellation") {
    int value = 0;
    bool caught = false;
    bool timed_out = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        try {
            value = co_await aio::wait_for(swallow_cancel(caught), 20ms);
        } catch (const aio::timeout_error&) {
            timed_out = true;
        }
    });
    CHECK(caught);
    CHECK_FALSE(timed_out);
    CHECK(value == 7);
}

TEST_CASE("wait_for on a future cancels it on expiry") {
    bool timed_out = false;
    bool future_cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<int> f;
        try {
            co_await aio::wait_for(f, 20ms);
        } catch (const aio::timeout_error&) {
            timed_out = true;
        }
        future_cancelled = f.cancelled();
    });
    CHECK(timed_out);
    CHECK(future_cancelled);
}

TEST_CASE("timeout with a callable throws timeout_error on expiry and returns the value in time") {
    bool timed_out = false;
    bool body_cancelled = false;
    int value = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        try {
            co_await aio::timeout(20ms, [&]() -> aio::awaitable<void> {
                try {
                    co_await aio::sleep(1h);
                } catch (const aio::cancelled_error&) {
                    body_cancelled = true;
                    throw;
                }
            });
        } catch (const aio::timeout_error&) {
            timed_out = true;
        }
        int base = 40;
        value = co_await aio::timeout(1h, [&]() -> aio::awaitable<int> {
            co_await aio::sleep(0s);
            co_return base + 2;
        });
    });
    CHECK(timed_out);
    CHECK(body_cancelled);
    CHECK(value == 42);
}

TEST_CASE("timeout_at throws timeout_error after the deadline and returns the value before it") {
    bool timed_out = false;
    bool cleaned = false;
    int value = 0;
    std::chrono::steady_clock::duration elapsed{};
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> started;
        auto start = std::chrono::steady_clock::now();
        try {
            co_await aio::timeout_at(start + 20ms, slow_with_cleanup(cleaned, started));
        } catch (const aio::timeout_error&) {
            timed_out = true;
        }
        elapsed = std::chrono::steady_clock::now() - start;
        value = co_await aio::timeout_at(std::chrono::steady_clock::now() + 1h,
                                         [&]() -> aio::awaitable<int> { co_return 9; });
    });
    CHECK(timed_out);
    CHECK(cleaned);
    CHECK(elapsed >= 20ms);
    CHECK(value == 9);
}

TEST_CASE("wait_for rethrows the error of the work") {
    aio_test::report_log log;
    bool timed_out = false;
    std::string error;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(aio::get_running_loop());
        try {
            co_await aio::wait_for(fail_after_yield("inner"), 1h);
        } catch (const aio::timeout_error&) {
            timed_out = true;
        } catch (const std::runtime_error& e) {
            error = e.what();
        }
    });
    CHECK_FALSE(timed_out);
    CHECK(error == "inner");
    CHECK(log.entries.empty());
}

TEST_CASE("cancelling the caller of wait_for cancels the work waits for it and throws "
          "cancelled_error") {
    bool cleaned = false;
    bool caller_saw_cancelled = false;
    bool caller_saw_timeout = false;
    bool cleaned_at_cancel = false;
    bool main_saw_cancelled = false;
    bool caller_cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> started;
        auto caller = aio::create_task([&]() -> aio::awaitable<void> {
            try {
                co_await aio::wait_for(slow_with_cleanup(cleaned, started), 1h);
            } catch (const aio::cancelled_error&) {
                caller_saw_cancelled = true;
                cleaned_at_cancel = cleaned;
                throw;
            } catch (const aio::timeout_error&) {
                caller_saw_timeout = true;
            }
        });
        co_await started();
        caller.cancel();
        try {
            co_await caller();
        } catch (const aio::cancelled_error&) {
            main_saw_cancelled = true;
        }
        caller_cancelled = caller.cancelled();
    });
    CHECK(caller_saw_cancelled);
    CHECK_FALSE(caller_saw_timeout);
    CHECK(cleaned_at_cancel);
    CHECK(main_saw_cancelled);
    CHECK(caller_cancelled);
}

namespace {

/// Records that its body ran, then returns `value`.
aio::awaitable<int> note_run(bool& ran, int value) {
    ran = true;
    co_return value;
}

} // namespace

TEST_CASE("wait_for timeout and timeout_at with a deadline already passed never start the work") {
    aio_test::report_log log;
    bool awaitable_ran = false;
    bool callable_ran = false;
    bool past_ran = false;
    bool called = false;
    int timeouts = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(aio::get_running_loop());
        try {
            co_await aio::wait_for(note_run(awaitable_ran, 1), 0s);
        } catch (const aio::timeout_error&) {
            ++timeouts;
        }
        CHECK_FALSE(awaitable_ran);
        try {
            co_await aio::timeout(-1s, [&]() -> aio::awaitable<void> {
                called = true;
                co_await aio::sleep(0s);
            });
        } catch (const aio::timeout_error&) {
            ++timeouts;
        }
        CHECK_FALSE(called);
        try {
            co_await aio::timeout_at(std::chrono::steady_clock::now() - 1s, note_run(past_ran, 3));
        } catch (const aio::timeout_error&) {
            ++timeouts;
        }
        co_await aio::sleep(0s);
        co_await aio::sleep(0s);
    });
    CHECK(timeouts == 3);
    CHECK_FALSE(awaitable_ran);
    CHECK_FALSE(callable_ran);
    CHECK_FALSE(called);
    CHECK_FALSE(past_ran);
    CHECK(log.entries.empty());
}

TEST_CASE("wait_for with a zero timeout gives the result of work already done") {
    aio_test::report_log log;
    int task_value = 0;
    int future_value = 0;
    std::string error;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(aio::get_running_loop());
        auto done = aio::create_task(value_now(4));
        auto failed = aio::create_task(fail_after_yield("already failed"));
        co_await failed.wait_done();
        CHECK(done.done());
        task_value = co_await aio::wait_for(done, 0s);
        aio::future<int> f;
        f.set_result(6);
        future_value = co_await aio::wait_for(f, -5ms);
        try {
            co_await aio::wait_for(failed, 0s);
        } catch (const std::runtime_error& e) {
            error = e.what();
        }
    });
    CHECK(task_value == 4);
    CHECK(future_value == 6);
    CHECK(error == "already failed");
    CHECK(log.entries.empty());
}

TEST_CASE("wait_for with a zero timeout cancels a running task and waits for its cleanup") {
    bool cleaned = false;
    bool timed_out = false;
    bool cleaned_at_timeout = false;
    bool caught = false;
    int swallowed_value = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> started;
        auto running = aio::create_task(slow_with_cleanup(cleaned, started));
        co_await started();
        try {
            co_await aio::wait_for(running, 0s);
        } catch (const aio::timeout_error&) {
            timed_out = true;
            cleaned_at_timeout = cleaned;
        }
        CHECK(running.cancelled());
        auto swallower = aio::create_task(swallow_cancel(caught));
        co_await aio::sleep(0s); // it is parked in its sleep
        swallowed_value = co_await aio::wait_for(swallower, 0s);
    });
    CHECK(timed_out);
    CHECK(cleaned_at_timeout);
    CHECK(caught);
    CHECK(swallowed_value == 7);
}

TEST_CASE("wait on an empty vector throws invalid_argument") {
    bool threw = false;
    std::string message;
    aio_test::run([&]() -> aio::awaitable<void> {
        std::vector<aio::task<int>> none;
        try {
            co_await aio::wait(none, aio::first_completed);
        } catch (const std::invalid_argument& e) {
            threw = true;
            message = e.what();
        }
    });
    CHECK(threw);
    CHECK(message == "aio::wait: the set of tasks is empty");
}

TEST_CASE("wait reports a task given twice once, where it first appears") {
    bool done_as_expected = false;
    bool pending_as_expected = false;
    bool all_as_expected = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> gate;
        auto slow = aio::create_task(value_after(gate, 1));
        auto quick = aio::create_task(value_now(2));
        std::vector<aio::task<int>> tasks{slow, quick, slow, quick, quick};
        auto r = co_await aio::wait(tasks, aio::first_completed);
        done_as_expected = r.done.size() == 1 && r.done[0] == quick;
        pending_as_expected = r.pending.size() == 1 && r.pending[0] == slow;
        gate.set_result();
        auto all = co_await aio::wait(tasks);
        all_as_expected = all.done.size() == 2 && all.done[0] == slow && all.done[1] == quick &&
                          all.pending.empty();
    });
    CHECK(done_as_expected);
    CHECK(pending_as_expected);
    CHECK(all_as_expected);
}

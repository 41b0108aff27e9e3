// Coroutines and scenarios that several of aio's test files use, each defined once here.
#pragma once

#include "support.hpp"

#include <aio/aio.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace aio_test {

/// Returns `value` without awaiting anything.
inline aio::awaitable<int> value_now(int value) {
    co_return value;
}

/// Awaits `gate`, then returns `value`.
inline aio::awaitable<int> value_after(aio::future<void> gate, int value) {
    co_await gate();
    co_return value;
}

/// Yields once, then throws std::runtime_error(what).
inline aio::awaitable<int> fail_after_yield(std::string what) {
    co_await aio::sleep(std::chrono::seconds(0));
    throw std::runtime_error(what);
}

/// Sets `started` (if given), then sleeps for an hour, which the test cuts short by cancelling;
/// returns 0 if the hour passes.
inline aio::awaitable<int> sleep_forever(std::optional<aio::future<void>> started = std::nullopt) {
    if (started) {
        started->set_result();
    }
    co_await aio::sleep(std::chrono::hours(1));
    co_return 0;
}

/// Sleeps for an hour, which the test cuts short by cancelling: returns the cancelled_error it
/// caught, to rethrow once the cleanup has awaited (asyncio's `except CancelledError: await
/// cleanup(); raise`), or nullptr if the hour passed. Name the result before testing it
/// (`std::exception_ptr cancel = co_await ...; if (cancel)`): GCC 12 crashes on a co_await inside
/// an if condition whose value has a destructor.
inline aio::awaitable<std::exception_ptr> sleep_until_cancelled() {
    std::exception_ptr cancel;
    try {
        co_await aio::sleep(std::chrono::hours(1));
    } catch (const aio::cancelled_error&) {
        cancel = std::current_exception();
    }
    co_return cancel;
}

/// The value type of the task start_task makes from `body`.
template <class Body>
using started_value_t = aio::awaitable_value_t<std::invoke_result_t<Body&, aio::future<void>>>;

/// The start of the start-cancel-await harness: creates a task running `body(started)` and
/// returns its handle once the body has set `started`, just before the await where the test
/// then cancels it. The task keeps `body` (a callable taking an aio::future<void>) and its
/// captures alive while it runs. A lambda whose captures have destructors (a task handle, say)
/// is named before the co_await: GCC 12 destroys such a temporary twice (see the README).
template <class Body>
aio::awaitable<aio::task<started_value_t<Body>>> start_task(Body body) {
    aio::future<void> started;
    auto t = aio::create_task([body = std::move(body), started] { return body(started); });
    co_await started();
    co_return t;
}

/// Starts a task that adds one to `ran` when it runs: `ran` still 0 after an await shows that
/// the await did not yield to the loop.
inline aio::task<void> count_run(int& ran) {
    return aio::create_task([&ran]() -> aio::awaitable<void> {
        ++ran;
        co_return;
    });
}

/// The end of the start-cancel-await harness: cancels `t` and awaits it. Returns true if the
/// await threw cancelled_error and the task then reads cancelled(); false if it returned, threw
/// something else, or ended without reading cancelled. A failed REQUIRE inside goes on through.
template <class T>
aio::awaitable<bool> cancel_and_await(aio::task<T>& t) {
    t.cancel();
    bool threw = co_await co_throws_as<aio::cancelled_error>(t());
    bool ended_cancelled = threw && t.cancelled();
    co_return ended_cancelled;
}

/// A task that queues for one unit of `p` (an aio::lock, or a semaphore's permit) and records
/// `name` once it has it, or "`name` cancelled" if it was cancelled while queued or just after
/// the hand-over; it holds the unit across one yield, then releases it unless `release_after`
/// is false. It bumps `queued` just before it parks.
template <class Primitive>
aio::task<void> take_turn(Primitive& p, std::vector<std::string>& order, int& queued,
                          std::string name, bool release_after = true) {
    return aio::create_task([&p, &order, &queued, name, release_after]() -> aio::awaitable<void> {
        ++queued;
        try {
            co_await p.acquire();
        } catch (const aio::cancelled_error&) {
            order.push_back(name + " cancelled");
            co_return;
        }
        order.push_back(name);
        co_await aio::sleep(std::chrono::seconds(0));
        if (release_after) {
            p.release();
        }
    });
}

/// What handover_order() saw.
struct handover_report {
    std::string order;                     // the events, joined with '|'
    bool locked_while_handed_over = false; // whether `p` read locked right after main's release
};

/// The FIFO hand-over scenario of lock and semaphore: main takes the last free unit of `p`,
/// a, b and c queue for it (take_turn), main records "release" and releases it, then at once
/// queues for it itself and records "main" once it has it. A FIFO primitive that hands the
/// unit straight to the first waiter gives "release|a|b|c|main" and reads locked right after
/// the release (a owns the unit but has not run yet). Returns once all have released it.
template <class Primitive>
aio::awaitable<handover_report> handover_order(Primitive& p) {
    std::vector<std::string> order;
    handover_report r;
    int queued = 0;
    co_await p.acquire();
    auto a = take_turn(p, order, queued, "a");
    auto b = take_turn(p, order, queued, "b");
    auto c = take_turn(p, order, queued, "c");
    co_await yield_until(queued, 3);
    order.push_back("release");
    p.release();
    r.locked_while_handed_over = p.locked();
    co_await p.acquire();
    order.push_back("main");
    p.release();
    co_await a();
    co_await b();
    co_await c();
    r.order = join(order);
    co_return r;
}

/// How many tasks crowd() sends through.
inline constexpr int crowd_size = 30;

/// What the tasks of crowd() saw.
struct crowd_report {
    int most_inside = 0;   // the most tasks inside at once
    int inside_at_end = 0; // tasks still counted inside once all have ended
    int completed = 0;     // tasks that went through
    int cancelled = 0;     // tasks that ended cancelled
};

/// The stress scenario of lock, semaphore and condition: crowd_size tasks queue through
/// `enter()` (an awaitable giving a guard), stay inside across one yield, and leave. Once all
/// are queued, every `stride`-th task is cancelled in three rounds, a yield apart: queued ones,
/// the ones inside, and (after a few hand-overs) ones just handed the way in. Returns what the
/// tasks saw once all have ended.
template <class Enter>
aio::awaitable<crowd_report> crowd(Enter enter, std::size_t stride) {
    crowd_report r;
    int inside = 0;
    int queued = 0;
    std::vector<aio::task<void>> tasks;
    for (int i = 0; i < crowd_size; ++i) {
        tasks.push_back(aio::create_task([&]() -> aio::awaitable<void> {
            ++queued;
            auto held = co_await enter();
            live_count in(inside);
            r.most_inside = std::max(r.most_inside, inside);
            co_await aio::sleep(std::chrono::seconds(0));
            ++r.completed;
        }));
    }
    co_await yield_until(queued, crowd_size);
    for (std::size_t round = 0; round < 3; ++round) {
        for (std::size_t i = round; i < tasks.size(); i += stride) {
            tasks[i].cancel();
        }
        co_await aio::sleep(std::chrono::seconds(0));
    }
    for (auto& t : tasks) {
        try {
            co_await t();
        } catch (const aio::cancelled_error&) {
            ++r.cancelled;
        }
    }
    r.inside_at_end = inside;
    co_return r;
}

} // namespace aio_test

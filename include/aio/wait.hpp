// aio/wait.hpp - wait (done/pending sets), wait_for, timeout, timeout_at.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/child_group.hpp>
#include <aio/error.hpp>
#include <aio/gather.hpp>
#include <aio/task.hpp>

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <functional>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace aio {

/// When wait() returns (asyncio's FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED).
enum class return_when { first_completed, first_exception, all_completed };
inline constexpr return_when first_completed = return_when::first_completed;
inline constexpr return_when first_exception = return_when::first_exception;
inline constexpr return_when all_completed = return_when::all_completed;

/// What wait() returns: the tasks that are done and those still pending, each in input order.
template <class T>
struct wait_result {
    std::vector<task<T>> done;
    std::vector<task<T>> pending;
};

namespace detail {
/// Drops the handles to a task already listed (asyncio's wait works on a set), keeping the
/// first occurrence of each in place. The handles sorted by task, then by position, put each
/// repeat right after the task's first occurrence (no hash set: <unordered_set> would cost every
/// file that includes this header).
template <class T>
void drop_repeats(std::vector<task<T>>& tasks) {
    using entry = std::pair<const state_base*, std::size_t>;
    std::vector<entry> order;
    order.reserve(tasks.size());
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        order.emplace_back(&tasks[i].state(), i);
    }
    std::sort(order.begin(), order.end(), [](const entry& a, const entry& b) {
        return a.first != b.first ? std::less<const state_base*>()(a.first, b.first)
                                  : a.second < b.second;
    });
    std::vector<bool> repeat(tasks.size());
    for (std::size_t k = 1; k < order.size(); ++k) {
        repeat[order[k].second] = order[k].first == order[k - 1].first;
    }
    std::size_t kept = 0;
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        if (!repeat[i]) {
            if (kept != i) {
                tasks[kept] = std::move(tasks[i]);
            }
            ++kept;
        }
    }
    tasks.erase(tasks.begin() + static_cast<std::ptrdiff_t>(kept), tasks.end());
}
} // namespace detail

/// asyncio.wait: waits until `when` holds for `tasks` (first_exception: a task ended with an
/// error, not a cancellation; falls back to all done) or until `timeout` passes, and returns
/// the done and pending tasks, each task once (a task given twice is listed once, where it
/// first appears). Cancels nothing and raises nothing on timeout: the results and exceptions
/// stay in the tasks. Cancellation of the caller: stops waiting at once (the tasks are left
/// alone) and throws cancelled_error. Error: an empty `tasks` throws std::invalid_argument
/// when awaited (asyncio raises ValueError). `where`: the caller's site, for the call stack
/// (see aio::sleep; the same for the functions below).
template <class T, class Rep = long, class Period = std::ratio<1>>
awaitable<wait_result<T>> wait(std::vector<task<T>> tasks, return_when when = all_completed,
                               std::optional<std::chrono::duration<Rep, Period>> timeout = {},
                               aio::source_location where = aio::source_location::current()) {
    if (tasks.empty()) {
        throw std::invalid_argument("aio::wait: the set of tasks is empty");
    }
    detail::drop_repeats(tasks);
    detail::child_group::options opt;
    opt.stop_on_failure = when == first_exception;
    opt.first_done = when == first_completed;
    opt.on_cancel = detail::child_group::cancel_policy::stop_waiting;
    opt.what = "aio::wait";
    detail::child_group g(detail::states_of(tasks), opt);
    g.set_site(where);
    {
        std::optional<detail::deadline> dl;
        if (timeout) {
            dl.emplace(detail::require_running_loop(), std::chrono::steady_clock::now() + *timeout,
                       g, false);
        }
        co_await detail::wait_for_group(g);
    }
    wait_result<T> out;
    for (auto& t : tasks) {
        (t.done() ? out.done : out.pending).push_back(std::move(t));
    }
    co_return out;
}

/// wait(tasks, when, timeout) with a duration given directly.
template <class T, class Rep, class Period>
awaitable<wait_result<T>> wait(std::vector<task<T>> tasks, return_when when,
                               std::chrono::duration<Rep, Period> timeout,
                               aio::source_location where = aio::source_location::current()) {
    return wait<T, Rep, Period>(std::move(tasks), when,
                                std::optional<std::chrono::duration<Rep, Period>>(timeout), where);
}

namespace detail {
template <class W>
struct work_value {
    using type = gathered_t<W>;
};
template <awaitable_factory F>
requires(!gatherable<F>) struct work_value<F> {
    using type = awaitable_value_t<std::invoke_result_t<F&>>;
};

/// The work as a task (created at `where`). A task or future is used as it is (both are also
/// callables returning an awaitable, which would wrap them in a task of their own).
template <class W>
auto work_task(W&& work, aio::source_location where) {
    if constexpr (gatherable<W>) {
        return ensure_task(std::forward<W>(work), where);
    } else {
        return create_task(std::forward<W>(work), {}, where);
    }
}
} // namespace detail

/// Work that wait_for / timeout accept: a gatherable (awaitable, task, future), or a callable
/// returning an awaitable (a block of work; its captures live as long as it runs).
template <class W>
concept timed_work = gatherable<W> || awaitable_factory<std::remove_cvref_t<W>>;

template <timed_work W>
using work_value_t = typename detail::work_value<std::remove_cvref_t<W>>::type;

/// asyncio.timeout_at: runs `work` as a task until `when`. If it is still running then, it is
/// cancelled and waited for; if it then ends cancelled, timeout_error is thrown (if it caught
/// the cancellation and finished anyway, its result or error stands). Otherwise returns its
/// value or rethrows its exception. A deadline already passed (a zero or negative timeout)
/// cancels the work at once, as asyncio 3.11's wait_for does: an awaitable or callable never
/// starts (its body does not run) and timeout_error is thrown; a task or future already done
/// gives its result; one still running is cancelled and waited for as on expiry.
/// Cancellation of the caller: cancels the work, waits for it, and throws cancelled_error.
/// `where`: the caller's site, for the call stack (see aio::sleep), and the creation site of a
/// task made here from the work.
template <timed_work W>
awaitable<work_value_t<W>>
timeout_at(std::chrono::steady_clock::time_point when, W work,
           aio::source_location where = aio::source_location::current()) {
    using T = work_value_t<W>;
    task<T> t = detail::work_task(std::move(work), where);
    bool deadline_cancelled = false;
    {
        detail::child_group::options opt;
        opt.on_cancel = detail::child_group::cancel_policy::cancel_children;
        opt.what = "aio::timeout / wait_for";
        detail::child_group g(std::vector<detail::state_base*>{&t.state()}, opt);
        g.set_site(where);
        std::optional<detail::deadline> dl;
        if (when <= std::chrono::steady_clock::now()) {
            g.expire(true); // before the loop runs the work: if not started, it never starts
        } else {
            dl.emplace(detail::require_running_loop(), when, g, true);
        }
        co_await detail::wait_for_group(g);
        deadline_cancelled = g.cancelled_by_deadline();
    }
    if (deadline_cancelled && t.cancelled()) {
        t.exception(); // the cancellation is this function's doing: retrieved, not lost
        throw timeout_error();
    }
    if constexpr (std::is_void_v<T>) {
        t.result();
    } else {
        co_return t.typed()->take();
    }
}

/// asyncio.timeout: timeout_at(now + d, work). A zero or negative `d` does not start the work
/// (`async with asyncio.timeout(0)` runs the block up to its first suspension).
template <timed_work W, class Rep, class Period>
awaitable<work_value_t<W>> timeout(std::chrono::duration<Rep, Period> d, W work,
                                   aio::source_location where = aio::source_location::current()) {
    return timeout_at(std::chrono::steady_clock::now() +
                          std::chrono::ceil<std::chrono::steady_clock::duration>(d),
                      std::move(work), where);
}

/// asyncio.wait_for: the same as timeout(d, work), with asyncio's argument order.
template <timed_work W, class Rep, class Period>
awaitable<work_value_t<W>> wait_for(W work, std::chrono::duration<Rep, Period> d,
                                    aio::source_location where = aio::source_location::current()) {
    return timeout(d, std::move(work), where);
}

} // namespace aio

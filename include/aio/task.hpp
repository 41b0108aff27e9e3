// aio/task.hpp - tasks: create_task, task<T>, ensure_task, current_task, all_tasks.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/await_state.hpp>
#include <aio/detail/source_location.hpp>
#include <aio/detail/state.hpp>
#include <aio/detail/task_executor.hpp>
#include <aio/detail/task_start.hpp>
#include <aio/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/execution/allocator.hpp>
#include <boost/asio/recycling_allocator.hpp>
#include <boost/asio/require.hpp>
#include <boost/asio/this_coro.hpp>

#include <concepts>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace aio {

/// Identifies a done callback for remove_done_callback (std::function has no equality, so
/// the asyncio way of removing by the function itself is not available in C++).
using callback_id = std::uint64_t;

/// Where a task is (any_task::status): queued or parked (pending), executing a step now
/// (running: on the loop's thread, the task whose code calls status()), or ended (done with a
/// value or an error, or cancelled).
enum class task_status { pending, running, done, cancelled };

/// A handle to a task of any result type (what current_task() and all_tasks() return).
/// Copyable; copies refer to the same task. Loop-affine: use it on the loop's thread only.
class any_task {
public:
    any_task() noexcept = default;

    /// Requests cancellation (asyncio Task.cancel). Returns false if the task is already done.
    /// A task parked in an aio await (sleep, a task, a future, gather, ...) gets cancelled_error
    /// there, once: it may catch it, await cleanup and rethrow. A task parked in a raw Asio
    /// operation gets that operation's system_error(operation_aborted), and a task not parked
    /// at all gets it at its next await; then Asio keeps the cancellation pending (every
    /// await throws again) until the task calls `co_await aio::uncancel()` or leaves through
    /// aio::finally / aio::with. A task that lets either propagate ends cancelled. A task that
    /// cancels itself in its first step is treated as parked at its next await (cancelled_error
    /// there); later, as a task not parked. If it returns without awaiting again it ends with
    /// its value (asyncio would end it cancelled).
    /// Throws std::logic_error when called on another loop's thread.
    bool cancel() const {
        detail::check_thread(s_->loop(), "aio::any_task::cancel");
        if (!s_->done()) {
            detail::require_loop(s_->loop(), "a task cancelled");
        }
        return s_->cancel();
    }
    /// True once the task has ended cancelled.
    bool cancelled() const noexcept { return s_->is_cancelled(); }
    /// True once the task has ended (value, error or cancelled).
    bool done() const noexcept { return s_->done(); }
    /// The exception the task ended with, nullptr if it returned a value; a cancelled task
    /// gives a cancelled_error. Throws invalid_state_error while pending. Marks the exception
    /// retrieved (it is then not reported as lost).
    std::exception_ptr exception() const { return s_->exception(); }
    /// The number of pending cancellation requests (asyncio Task.cancelling).
    std::uint32_t cancelling() const noexcept { return s_->cancel_requests(); }
    /// Decrements the cancellation requests (asyncio Task.uncancel); returns what remains.
    std::uint32_t uncancel() noexcept { return s_->uncancel(); }

    /// "Task-<n>" unless named at creation or with set_name.
    std::string name() const { return s_->name(); }
    void set_name(std::string name) { s_->set_name(std::move(name)); }

    /// The task's number on its loop: 1 for the first task created on it, then 2, 3, ... (the
    /// <n> of "Task-<n>").
    std::uint64_t id() const noexcept { return s_->id(); }
    /// Where the task is now (see task_status).
    task_status status() const noexcept {
        if (s_->done()) {
            return s_->is_cancelled() ? task_status::cancelled : task_status::done;
        }
        return s_->running() ? task_status::running : task_status::pending;
    }
    /// Where create_task (or loop::create_task, ensure_task, task_group::create_task) was
    /// called: the caller's file, line and function. A task created by an aio combinator
    /// (gather, wait_for, shield given an awaitable) names that combinator's line in aio.
    aio::source_location created_at() const noexcept { return s_->created_at(); }
    /// What a pending task waits for, in a few words: the aio await it is parked in
    /// ("aio::sleep", "aio::gather", "aio: await a task", ...), "Asio operation" when it is
    /// suspended anywhere else (an Asio operation, or an aio await inside a stack of its own
    /// such as Asio's parallel_group), "not started" before its first step. Empty while it
    /// runs, once done, and for a future seen as a task (ensure_task).
    std::string_view waiting_on() const noexcept {
        if (!suspended_task()) {
            return {};
        }
        if (!s_->started()) {
            return "not started";
        }
        if (const detail::waiter* w = s_->parked()) {
            return w->what();
        }
        return "Asio operation";
    }
    /// Where the await a pending task is parked in was called: the caller's file, line and
    /// function, as given by the await's `where` parameter (see aio::sleep). An empty site
    /// (line 0) while the task runs, once done, in an Asio operation, or in an aio await that
    /// takes no site (the variadic gather, an await inside aio that the caller did not make).
    aio::source_location await_site() const noexcept {
        const detail::waiter* w = suspended_task() ? s_->parked() : nullptr;
        return w != nullptr ? w->site() : aio::source_location();
    }

    /// Calls fn(task) on the loop soon after the task is done (scheduled at once if it is done
    /// already; never called inside this call).
    /// An exception fn throws goes to the loop's exception handler.
    callback_id add_done_callback(std::function<void(any_task)> fn) {
        detail::require_loop(s_->loop(), "a task given a done callback");
        return detail::add_callback(*s_, [fn = std::move(fn), t = *this] { fn(t); });
    }
    /// Removes a callback that has not run yet; returns how many were removed (0 or 1).
    std::size_t remove_done_callback(callback_id id) { return s_->remove_callback(id); }

    /// Waits for the task to end, without taking its result or exception; throws
    /// cancelled_error if the awaiting task is cancelled meanwhile (the awaited task is not).
    /// `where`: the caller's site, for the awaiting task's call stack (see aio::sleep).
    awaitable<void> wait_done(aio::source_location where = aio::source_location::current()) const {
        return detail::wait_done(s_, detail::cancel_policy::stop_waiting, where);
    }

    explicit operator bool() const noexcept { return static_cast<bool>(s_); }
    friend bool operator==(const any_task& a, const any_task& b) noexcept {
        return a.s_.get() == b.s_.get();
    }

    /// For aio's own combinators.
    detail::state_base& state() const noexcept { return *s_; }
    explicit any_task(detail::ref<detail::state_base> s) noexcept : s_(std::move(s)) {}

protected:
    detail::ref<detail::state_base> s_;

private:
    /// A task (not a future seen as one) that is neither done nor running: what waiting_on and
    /// await_site describe.
    bool suspended_task() const noexcept { return s_->is_task() && !s_->done() && !s_->running(); }
};

/// A running coroutine (asyncio.Task): started at once on its loop, kept alive by the loop
/// until it is done (fire-and-forget is safe), awaited as `co_await t()`.
///
/// Awaiting: `co_await t()` returns the task's value or rethrows its exception (a cancelled
/// task throws cancelled_error). If the awaiting task is cancelled meanwhile, the awaited task
/// is cancelled too (as asyncio does) and the await throws cancelled_error once it has ended;
/// use aio::shield to protect it. The one spelling is `t()`: Asio 1.81 awaits only rvalue
/// operations and cannot carry (exception_ptr, T) on its direct path.
template <class T = void>
class task : public any_task {
public:
    using value_type = T;

    task() noexcept = default;

    /// An awaitable of the task's result (see the class comment). `where`: the caller's site,
    /// for the awaiting task's call stack (see aio::sleep).
    awaitable<T> operator()(aio::source_location where = aio::source_location::current()) const {
        return detail::await_value<T>(typed(), detail::cancel_policy::cancel_awaited, where);
    }

    /// The result of a done task (asyncio Task.result): the value, or the exception rethrown.
    /// Throws invalid_state_error while pending.
    decltype(auto) result() const {
        if constexpr (std::is_void_v<T>) {
            typed()->rethrow_if_failed();
        } else {
            return typed()->value();
        }
    }

    detail::ref<detail::state<T>> typed() const noexcept {
        return detail::ref<detail::state<T>>(static_cast<detail::state<T>*>(s_.get()));
    }
    explicit task(detail::ref<detail::state<T>> s) noexcept : any_task(std::move(s)) {}
};

/// Makes `aw` a task on the running loop (asyncio.create_task) and returns its handle. The
/// task is scheduled at once: its body starts when the caller next yields to the loop. Tasks
/// start in the order they were created, in batches: one handler posted to the loop starts all
/// tasks created before it runs (asyncio posts one callback per task, so a call_soon made
/// between two create_task calls may run after both tasks here). The loop keeps the task alive
/// until done.
/// Throws std::logic_error outside a running loop.
///
/// A coroutine lambda with captures must be passed as the callable (the overload below), not
/// called inline: `create_task([&]() -> awaitable<void> {...}())` leaves the lambda object,
/// and with it the captures, dangling when the statement ends.
///
/// The task records where it was created (`created_at`, defaulted to the caller's site), for
/// diagnostics (aio/diagnostics.hpp).
template <class T>
task<T> create_task(awaitable<T> aw, std::string name = {},
                    aio::source_location created_at = aio::source_location::current()) {
    return task<T>(detail::spawn_task<T>(detail::require_running_loop(), std::move(aw),
                                         std::move(name), created_at));
}

/// Starts `f()` as a task, keeping the callable `f` (and its captures) alive inside the task
/// for as long as the task runs (the shape of co_spawn's function overload).
template <class F>
requires awaitable_factory<F>
auto create_task(F f, std::string name = {},
                 aio::source_location created_at = aio::source_location::current()) {
    using T = awaitable_value_t<std::invoke_result_t<F&>>;
    return task<T>(detail::spawn_task<T>(detail::require_running_loop(), std::move(f),
                                         std::move(name), created_at));
}

/// asyncio.ensure_future: a task stays itself; an awaitable becomes a new task, created at
/// `created_at` (the caller's site by default).
template <class T>
task<T> ensure_task(task<T> t, aio::source_location = {}) {
    return t;
}
template <class T>
task<T> ensure_task(awaitable<T> aw,
                    aio::source_location created_at = aio::source_location::current()) {
    return create_task(std::move(aw), {}, created_at);
}

/// The task running the calling coroutine (asyncio.current_task), or an empty handle when the
/// coroutine does not run in an aio task. Awaited: `any_task me = co_await current_task();`.
inline awaitable<any_task> current_task() {
    detail::state_base* me = detail::task_of(co_await boost::asio::this_coro::executor);
    co_return me != nullptr ? any_task(detail::ref<detail::state_base>(me)) : any_task();
}

namespace detail {
inline std::vector<any_task> tasks_of(loop_core& loop) {
    std::vector<any_task> out;
    loop.tasks().for_each([&](state_base& s) { out.emplace_back(ref<state_base>(&s)); });
    return out;
}
} // namespace detail

/// The tasks of the running loop that are not done yet (asyncio.all_tasks). Throws
/// std::logic_error outside a running loop (all_tasks(loop), in loop.hpp, takes a loop).
inline std::vector<any_task> all_tasks() {
    return detail::tasks_of(detail::require_running_loop());
}

} // namespace aio

// aio/task_group.hpp - task_group: structured concurrency (asyncio.TaskGroup).
#pragma once

#include <aio/awaitable.hpp>
#include <aio/cleanup.hpp>
#include <aio/detail/child_group.hpp>
#include <aio/detail/source_location.hpp>
#include <aio/detail/state.hpp>
#include <aio/detail/suspend.hpp>
#include <aio/error.hpp>
#include <aio/task.hpp>

#include <boost/asio/this_coro.hpp>

#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace aio {

/// asyncio.TaskGroup, used through aio::with (C++ has no `async with`):
///
///   aio::task_group tg;
///   co_await aio::with(tg, [&](aio::task_group& g) -> aio::awaitable<void> {
///       g.create_task(fetch(1));
///       g.create_task(fetch(2));
///       co_return;
///   });
///
/// Exit waits for every task of the group: no task outlives it. The first task to fail
/// cancels the other tasks and the task running the body (so the body stops at its next
/// await); when all have ended, exit throws exception_group with every error, in the order
/// they happened (the body's own error included). The group withdraws its own cancellation of
/// the body's task (uncancel, as asyncio's TaskGroup does), so after catching the
/// exception_group that task goes on normally. If the body or the awaiting task is cancelled
/// from outside, the group's tasks are cancelled and waited for, and the cancellation
/// propagates: as cancelled_error if no task failed; otherwise exit throws exception_group and
/// the cancellation stays pending (the task's next await that parks throws cancelled_error).
/// Loop-affine; not copyable or movable (its tasks point at it).
class task_group : private detail::child_group::observer {
public:
    task_group() : children_(group_options(), this) {}
    task_group(const task_group&) = delete;
    task_group& operator=(const task_group&) = delete;

    /// Without an awaited exit (misuse: not used through aio::with) the remaining tasks are
    /// cancelled here; they then end on their own, unobserved.
    ~task_group() { children_.cancel_children(); }

    /// Starts `work` (an awaitable, or a callable returning one) as a task of this group.
    /// Throws std::logic_error once the group has finished or is shutting down after a failure.
    /// The task records `created_at` (the caller's site) as create_task does.
    template <class W>
    auto create_task(W work, std::string name = {},
                     aio::source_location created_at = aio::source_location::current()) {
        if (closed_ || aborting()) {
            throw std::logic_error(closed_ ? "aio: task_group has finished"
                                           : "aio: task_group is shutting down");
        }
        auto t = aio::create_task(std::move(work), std::move(name), created_at);
        children_.add(t.state());
        return t;
    }

    /// Called by aio::with before the body: remembers the task running it, and how many
    /// cancellation requests it had then (those made later, and not by the group, are the
    /// outside ones exit must let through).
    awaitable<void> async_enter() {
        parent_ = co_await current_task();
        if (parent_) {
            parent_cancel_requests_ = parent_.cancelling();
        }
    }

    /// Called by aio::with after the body, with its exception (nullptr on success): waits for
    /// every task of the group, then throws exception_group if any failed (leaving an outside
    /// cancellation pending), or lets aio::with propagate the body's exception or
    /// cancellation.
    awaitable<void> async_exit(std::exception_ptr body_error) {
        exiting_ = true;
        if (body_error && is_cancellation(body_error)) {
            abort();
        } else if (body_error) {
            errors_.push_back(body_error);
            abort();
        }
        bool cancelled_while_waiting = false;
        // Cancellation while parked cancels the tasks (once) and keeps waiting: no task outlives
        // the group. A task created meanwhile by another one keeps exit waiting for it too.
        while (children_.pending() > 0) {
            bool cancelled = co_await detail::park(children_);
            if (cancelled) {
                cancelled_while_waiting = true;
            }
        }
        closed_ = true;
        if (!errors_.empty()) {
            if (cancelled_parent_ && parent_) {
                parent_.uncancel(); // that cancellation was the group's doing
            }
            if (parent_ && parent_.cancelling() > parent_cancel_requests_) {
                redeliver_cancellation(); // someone else asked the task to stop
            }
            throw exception_group(std::move(errors_));
        }
        if (cancelled_while_waiting) {
            throw cancelled_error();
        }
    }

    /// The number of tasks of the group still running.
    std::size_t size() const noexcept { return children_.pending(); }

private:
    static detail::child_group::options group_options() {
        detail::child_group::options opt;
        opt.on_cancel = detail::child_group::cancel_policy::cancel_children_once;
        opt.what = "aio::task_group";
        return opt;
    }

    /// The task running the body awaits the group's tasks (what diagnostics show).
    detail::state_base* owner_task() const noexcept override {
        return parent_ ? &parent_.state() : nullptr;
    }

    /// A task of the group ended: its error is kept, and the first one aborts the group and
    /// cancels the body's task (unless exit already runs).
    void child_done(std::size_t, detail::state_base& s) override {
        if (s.result_status() == detail::status::error) {
            errors_.push_back(s.exception());
            if (!aborting()) {
                abort();
                if (!exiting_ && parent_ && !parent_.done()) {
                    cancelled_parent_ = true;
                    parent_.cancel();
                }
            }
        }
    }

    /// exception_group takes the place of the outside cancellation in what exit throws, and the
    /// cancellation itself was consumed on the way (delivered to the body, or cleared while exit
    /// waited). Deliver it again without counting a new request: at the loop's next turn, when
    /// the task is parked in its next await, as a cancel() arriving then would be (Python
    /// 3.13's TaskGroup calls cancel() again, which also counts a new request).
    void redeliver_cancellation() { parent_.state().redeliver_cancel(); }

    /// True once the group's tasks were cancelled (a failure, the body's error or cancellation,
    /// or a cancellation of exit): no task may join it then.
    bool aborting() const noexcept { return children_.children_cancelled(); }

    /// Cancels every task of the group (once).
    void abort() {
        if (!aborting()) {
            children_.cancel_children();
        }
    }

    detail::child_group children_; // also what exit parks on
    std::vector<std::exception_ptr> errors_;
    any_task parent_;
    std::uint32_t parent_cancel_requests_ = 0;
    bool exiting_ = false;
    bool closed_ = false;
    bool cancelled_parent_ = false;
};

} // namespace aio

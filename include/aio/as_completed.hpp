// aio/as_completed.hpp - as_completed: the tasks of a range, in the order they finish.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/child_group.hpp>
#include <aio/detail/range.hpp>
#include <aio/detail/state.hpp>
#include <aio/generator.hpp>
#include <aio/task.hpp>

#include <concepts>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

namespace aio {

namespace detail {

/// The tasks of as_completed and the group recording the order they finish in, from the moment
/// it is created (tasks already done first, in input order). The group's done waiters unlink
/// themselves when it is destroyed, so dropping this leaves nothing registered on the tasks.
template <class Task>
class completion_order {
public:
    explicit completion_order(std::vector<Task> tasks)
        : tasks_(std::move(tasks)), group_(states(tasks_), order_options()) {}

    /// True once every task has been handed out.
    bool exhausted() const noexcept { return handed_out_ == tasks_.size(); }
    bool has_finished() const noexcept { return group_.has_finished(); }

    /// Waits until a task has finished (call when has_finished() is false). Cancellation of
    /// the caller: stops waiting (the tasks are left alone) and throws cancelled_error.
    awaitable<void> wait_for_one() { return wait_for_group(group_); }

    /// The earliest finished task not handed out yet (call when has_finished() is true).
    Task pop() {
        ++handed_out_;
        return tasks_[group_.take_finished()];
    }

private:
    static std::vector<state_base*> states(const std::vector<Task>& tasks) {
        std::vector<state_base*> out;
        out.reserve(tasks.size());
        for (const Task& t : tasks) {
            out.push_back(&t.state());
        }
        return out;
    }
    static child_group::options order_options() {
        child_group::options opt;
        opt.first_done = true;
        opt.record_order = true;
        opt.on_cancel = child_group::cancel_policy::stop_waiting;
        opt.what = "aio::as_completed";
        return opt;
    }

    std::vector<Task> tasks_;
    child_group group_; // after tasks_: unlinked before the tasks are released
    std::size_t handed_out_ = 0;
};

template <class Task>
generator<Task> yield_in_completion_order(std::unique_ptr<completion_order<Task>> order) {
    while (!order->exhausted()) {
        if (!order->has_finished()) {
            co_await order->wait_for_one();
        }
        co_yield order->pop();
    }
}

} // namespace detail

/// asyncio.as_completed (the 3.13 form that yields the original tasks): a generator of the
/// tasks in `tasks` (task<T>, any_task, or a future's as_task()), each yielded once it is done,
/// in the order they finished. The order is recorded from this call on; tasks already done
/// come first, in input order. A task that failed or was cancelled is yielded like the others:
/// awaiting it (`co_await t()`) or t.result() rethrows its exception.
///
///   auto finished = aio::as_completed(tasks);
///   while (std::optional<aio::task<int>> t = co_await finished.next()) {
///       use(co_await (*t)());
///   }
///
/// Cancellation of the consumer while next() waits: next() throws cancelled_error and the
/// tasks are left alone. Closing or destroying the generator early cancels nothing either (as
/// in asyncio); the remaining tasks run on, and nothing stays registered on them. A task that
/// appears twice in `tasks` is yielded twice (asyncio yields it once). asyncio's `timeout`
/// argument, one deadline for the whole iteration, has no counterpart here: await
/// `aio::timeout_at(deadline, gen.next())` with a deadline computed once; on expiry it throws
/// timeout_error, cancels no task, and the generator ends (the tasks not yet yielded can no
/// longer be reached through it - as after a cancelled next()); with a deadline already passed,
/// next() never runs and the generator is untouched.
template <detail::input_range R>
requires std::derived_from<detail::range_value_t<R>, any_task> generator<detail::range_value_t<R>>
as_completed(R&& tasks) {
    using task_type = detail::range_value_t<R>;
    std::vector<task_type> list;
    for (auto&& t : tasks) {
        list.push_back(t);
    }
    return detail::yield_in_completion_order(
        std::make_unique<detail::completion_order<task_type>>(std::move(list)));
}

} // namespace aio

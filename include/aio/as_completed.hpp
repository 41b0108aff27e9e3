// aio/as_completed.hpp - as_completed: the tasks of a range, in the order they finish.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/state.hpp>
#include <aio/detail/suspend.hpp>
#include <aio/generator.hpp>
#include <aio/task.hpp>

#include <boost/asio/this_coro.hpp>

#include <concepts>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <ranges>
#include <utility>
#include <vector>

namespace aio {

namespace detail {

/// Records the order in which some tasks finish, from the moment it is created: a done
/// waiter on each pending task appends its index. The waiters live here and unlink themselves
/// when this is destroyed, so dropping it leaves nothing registered on the tasks.
template <class Task>
class completion_order {
public:
    explicit completion_order(std::vector<Task> tasks)
        : tasks_(std::move(tasks)), watches_(std::make_unique<watch[]>(tasks_.size())) {
        for (std::size_t i = 0; i < tasks_.size(); ++i) {
            if (tasks_[i].done()) {
                finished_.push_back(i);
            } else {
                watches_[i].owner = this;
                watches_[i].index = i;
                tasks_[i].state().add_waiter(watches_[i]);
            }
        }
    }
    completion_order(const completion_order&) = delete;
    completion_order& operator=(const completion_order&) = delete;

    /// True once every task has been handed out.
    bool exhausted() const noexcept { return handed_out_ == tasks_.size(); }
    bool has_finished() const noexcept { return !finished_.empty(); }

    /// Waits until a task has finished (call when has_finished() is false). Cancellation of
    /// the caller: stops waiting (the tasks are left alone) and throws cancelled_error.
    awaitable<void> wait_for_one() {
        bool cancelled = co_await park(arrival_);
        if (cancelled) {
            throw cancelled_error();
        }
    }

    /// The earliest finished task not handed out yet (call when has_finished() is true).
    Task pop() {
        std::size_t i = finished_.front();
        finished_.pop_front();
        ++handed_out_;
        return tasks_[i];
    }

private:
    struct watch final : done_waiter {
        completion_order* owner = nullptr;
        std::size_t index = 0;
        void on_done(state_base&) override {
            owner->finished_.push_back(index);
            owner->arrival_.wake();
        }
    };
    class arrival final : public waiter {};

    std::vector<Task> tasks_;
    std::unique_ptr<watch[]> watches_; // after tasks_: unlinked before the tasks are released
    std::deque<std::size_t> finished_;
    std::size_t handed_out_ = 0;
    arrival arrival_;
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
template <std::ranges::input_range R>
requires std::derived_from<std::ranges::range_value_t<R>, any_task>
    generator<std::ranges::range_value_t<R>> as_completed(R&& tasks) {
    using task_type = std::ranges::range_value_t<R>;
    std::vector<task_type> list;
    for (auto&& t : tasks) {
        list.push_back(t);
    }
    return detail::yield_in_completion_order(
        std::make_unique<detail::completion_order<task_type>>(std::move(list)));
}

} // namespace aio

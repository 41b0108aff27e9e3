// aio/detail/task_executor.hpp - the executor a task's coroutine runs on, which names the task,
// and the spot in the task where its parked await is found.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/execution/allocator.hpp>
#include <boost/asio/execution/blocking.hpp>
#include <boost/asio/execution/relationship.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/recycling_allocator.hpp>
#include <boost/asio/require.hpp>

#include <cstddef>
#include <utility>

namespace aio::detail {

class waiter;

/// The part of a task's state that its aio awaits use (state_base derives from it). An await
/// parked in the task's own coroutine stack registers here instead of installing a handler in
/// Asio's cancellation slot, so task::cancel() reaches it with a direct call: parking costs no
/// handler allocation and no slot bookkeeping. Awaits of other stacks running on the task's
/// executor (Asio's parallel_group, `||`) have slots of their own and use those.
class parking_spot {
public:
    /// The slot of the cancellation state the task's stack was started with: an await whose
    /// handler has this slot runs in the task's own stack.
    boost::asio::cancellation_slot own_slot() const noexcept { return own_slot_; }
    void set_own_slot(boost::asio::cancellation_slot s) noexcept { own_slot_ = s; }

    /// The await parked in the task's own stack, or nullptr.
    waiter* parked() const noexcept { return parked_; }
    void set_parked(waiter* w) noexcept { parked_ = w; }

protected:
    ~parking_spot() = default;

private:
    boost::asio::cancellation_slot own_slot_;
    waiter* parked_ = nullptr;
};

/// The allocator of a task's executor. It allocates as Asio's recycling allocator does; it also
/// names the task, so that code running in a task can find it (current_task) through the
/// executor Asio hands every coroutine (this_coro::executor). The loop's own executor (what
/// loop::get_executor gives for sockets and timers) has the same type, naming no task.
///
/// All of them compare equal: they allocate alike, and Asio compares an I/O object's executor
/// with its completion handler's to decide whether the completion needs outstanding-work
/// tracking and a type-erased dispatch. A socket made with the loop's executor, completing
/// into any task, takes Asio's direct path (a socket of a plain io_context executor, another
/// type, would not).
template <class T>
class task_allocator {
public:
    using value_type = T;

    explicit task_allocator(parking_spot* task) noexcept : task_(task) {}
    template <class U>
    task_allocator(const task_allocator<U>& other) noexcept : task_(other.task()) {}

    T* allocate(std::size_t n) { return boost::asio::recycling_allocator<T>().allocate(n); }
    void deallocate(T* p, std::size_t n) { boost::asio::recycling_allocator<T>().deallocate(p, n); }

    parking_spot* task() const noexcept { return task_; }
    template <class U>
    bool operator==(const task_allocator<U>&) const noexcept {
        return true;
    }

private:
    parking_spot* task_;
};

using task_executor = boost::asio::io_context::basic_executor_type<task_allocator<void>, 0>;

inline task_executor make_task_executor(boost::asio::io_context::executor_type loop,
                                        parking_spot* task) {
    return boost::asio::require(loop,
                                boost::asio::execution::allocator(task_allocator<void>(task)));
}

/// The task whose coroutine runs on `ex` (what this_coro::executor gives), or nullptr.
inline parking_spot* task_spot_of(const boost::asio::any_io_executor& ex) noexcept {
    if (const auto* te = ex.target<task_executor>()) {
        return boost::asio::query(*te, boost::asio::execution::allocator).task();
    }
    return nullptr;
}

/// Queues f to run on `ex`, never inside this call: what boost::asio::post(ex, f) does with a
/// plain function object, without post's machinery for completion tokens (the function's
/// associated executor and allocator looked up, an initiation and a binder per function type),
/// which every file that runs a loop would instantiate again for each function it queues.
template <class Executor, class F>
void post_plain(const Executor& ex, F&& f) {
    boost::asio::prefer(boost::asio::require(ex, boost::asio::execution::blocking.never),
                        boost::asio::execution::relationship.fork)
        .execute(std::forward<F>(f));
}

} // namespace aio::detail

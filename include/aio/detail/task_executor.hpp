// aio/detail/task_executor.hpp - the executor a task's coroutine runs on, which names the task.
#pragma once

#include <aio/detail/core.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution/allocator.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/recycling_allocator.hpp>
#include <boost/asio/require.hpp>

#include <cstddef>

namespace aio::detail {

/// The allocator of a task's executor. It allocates as Asio's recycling allocator does; it also
/// names the task, so that code running in a task can find it (current_task) through the
/// executor Asio hands every coroutine (this_coro::executor).
template <class T>
class task_allocator {
public:
    using value_type = T;

    explicit task_allocator(state_base* task) noexcept : task_(task) {}
    template <class U>
    task_allocator(const task_allocator<U>& other) noexcept : task_(other.task()) {}

    T* allocate(std::size_t n) { return boost::asio::recycling_allocator<T>().allocate(n); }
    void deallocate(T* p, std::size_t n) { boost::asio::recycling_allocator<T>().deallocate(p, n); }

    state_base* task() const noexcept { return task_; }
    template <class U>
    bool operator==(const task_allocator<U>& o) const noexcept {
        return task_ == o.task();
    }

private:
    state_base* task_;
};

using task_executor = boost::asio::io_context::basic_executor_type<task_allocator<void>, 0>;

inline task_executor make_task_executor(loop_core& loop, state_base* task) {
    return boost::asio::require(loop.executor(),
                                boost::asio::execution::allocator(task_allocator<void>(task)));
}

/// The task whose coroutine runs on `ex` (what this_coro::executor gives), or nullptr.
inline state_base* task_of(const boost::asio::any_io_executor& ex) noexcept {
    if (const auto* te = ex.target<task_executor>()) {
        return boost::asio::query(*te, boost::asio::execution::allocator).task();
    }
    return nullptr;
}

} // namespace aio::detail

// aio/future.hpp - future<T>: a result set by callback code, awaited by coroutines.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/await_state.hpp>
#include <aio/detail/state.hpp>
#include <aio/error.hpp>
#include <aio/loop.hpp>
#include <aio/task.hpp>

#include <exception>
#include <functional>
#include <type_traits>
#include <utility>

namespace aio {

/// asyncio.Future: a result that callback-style code sets and coroutines await. Copyable handle
/// to shared state; loop-affine (from another thread, set it through call_soon_threadsafe).
///
/// Awaiting: `co_await f()` returns the value or rethrows the exception (cancelled_error if the
/// future was cancelled). Setting, cancelling or awaiting it while another loop runs on the
/// thread throws std::logic_error. If the awaiting task is cancelled meanwhile, the future is
/// cancelled too (as asyncio does), and the await throws cancelled_error. A future that ends with
/// an exception nobody retrieves is reported by the loop.
template <class T = void>
class future {
public:
    using value_type = T;

    /// A pending future on the running loop. Throws std::logic_error outside a running loop.
    future() : future(get_running_loop()) {}
    explicit future(const loop& lp)
        : s_(detail::ref<detail::state<T>>::adopt(new detail::state<T>(&lp.core(), false))) {
        s_->set_id(lp.core().next_task_id());
    }

    /// Sets the value and wakes every awaiter. Throws invalid_state_error if already done.
    void set_result(result_t<T> value) requires(!std::is_void_v<T>) {
        detail::check_thread(s_->loop(), "aio::future::set_result");
        require_pending();
        s_->finish_value(std::move(value));
    }
    void set_result() requires std::is_void_v<T> {
        detail::check_thread(s_->loop(), "aio::future::set_result");
        require_pending();
        s_->finish_value(std::monostate{});
    }
    /// Sets the exception and wakes every awaiter. Throws invalid_state_error if already done.
    void set_exception(std::exception_ptr e) {
        detail::check_thread(s_->loop(), "aio::future::set_exception");
        require_pending();
        s_->finish_error(std::move(e));
    }

    /// Cancels the future: awaiters get cancelled_error. False if it was already done.
    bool cancel() {
        detail::require_loop(s_->loop(), "a future");
        return s_->cancel();
    }
    bool cancelled() const noexcept { return s_->is_cancelled(); }
    bool done() const noexcept { return s_->done(); }

    /// The value of a done future, or its exception rethrown; invalid_state_error if pending.
    decltype(auto) result() const {
        if constexpr (std::is_void_v<T>) {
            s_->rethrow_if_failed();
        } else {
            return s_->value();
        }
    }
    /// The exception (nullptr after set_result); invalid_state_error if pending.
    std::exception_ptr exception() const { return s_->exception(); }

    /// Calls fn(future) on the loop soon after the future is done (scheduled at once if it is
    /// done already; never called inside this call).
    callback_id add_done_callback(std::function<void(future)> fn) {
        return detail::add_callback(*s_, [fn = std::move(fn), f = *this] { fn(f); });
    }
    std::size_t remove_done_callback(callback_id id) { return s_->remove_callback(id); }

    /// An awaitable of the result (see the class comment). `where`: the caller's site, for the
    /// awaiting task's call stack (see aio::sleep).
    awaitable<T> operator()(aio::source_location where = aio::source_location::current()) const {
        return detail::await_value<T>(s_, detail::cancel_policy::cancel_awaited, where);
    }

    /// As a task handle (for gather, wait, shield), the way asyncio's Task is a Future.
    task<T> as_task() const { return task<T>(s_); }

private:
    void require_pending() const {
        detail::require_loop(s_->loop(), "a future");
        if (s_->done()) {
            throw invalid_state_error("aio: future is already done");
        }
    }

    detail::ref<detail::state<T>> s_;
};

/// asyncio.ensure_future for a future: the same state, seen as a task handle.
template <class T>
task<T> ensure_task(const future<T>& f, aio::source_location = {}) {
    return f.as_task();
}

} // namespace aio

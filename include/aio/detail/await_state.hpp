// aio/detail/await_state.hpp - awaiting a task's or future's state, and done callbacks.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/state.hpp>
#include <aio/detail/suspend.hpp>
#include <aio/detail/task_executor.hpp>

#include <boost/asio/this_coro.hpp>

#include <functional>
#include <stdexcept>
#include <string>

namespace aio::detail {

/// What cancelling the awaiting task does to the state it awaits.
enum class cancel_policy { cancel_awaited, stop_waiting };

/// Parks an await on a state: woken when the state is done.
class state_waiter final : public done_waiter, public waiter {
public:
    state_waiter(state_base& s, cancel_policy policy) noexcept : state_(s), policy_(policy) {}

    void on_done(state_base&) override { wake(); }

    const char* what() const noexcept override {
        return state_.is_task() ? "aio: await a task" : "aio: await a future";
    }
    state_base* awaiting_task() const noexcept override {
        return static_cast<state_base*>(parked_task());
    }

    void on_cancel() override {
        if (policy_ == cancel_policy::cancel_awaited) {
            // As asyncio: cancelling a task that awaits a task or future cancels that one too;
            // the await resumes once it has finished.
            state_.cancel();
        } else {
            unlink();
            wake();
        }
    }

private:
    state_base& state_;
    cancel_policy policy_;
};

/// Waits until `s` is done (without taking its result). If the awaiting task is cancelled
/// while parked, `policy` says what happens to `s`, and the await throws cancelled_error.
/// `where` is the site of the public await, for the task's call stack.
/// Throws std::logic_error when the awaiting task and the awaited one are the same (it would
/// wait for itself forever; asyncio raises RuntimeError) or belong to different loops.
inline awaitable<void> wait_done(ref<state_base> s, cancel_policy policy,
                                 aio::source_location where = {}) {
    if (s->done()) {
        co_return;
    }
    require_loop(s->loop(), s->is_task() ? "a task awaited" : "a future awaited");
    if (task_of(co_await boost::asio::this_coro::executor) == s.get()) {
        throw std::logic_error("aio: a task cannot await itself (" + s->name() + ")");
    }
    auto cs = co_await boost::asio::this_coro::cancellation_state;
    state_waiter w(*s, policy);
    w.set_site(where);
    s->add_waiter(w);
    if (cs.cancelled() != boost::asio::cancellation_type::none) {
        // Cancelled before it could park (say, the task cancelled itself): as if cancelled while
        // parked, so that the awaited task is cancelled and waited for, as asyncio does.
        cs.clear();
        if (policy == cancel_policy::cancel_awaited) {
            s->cancel();
            if (!s->done()) {
                co_await park(w); // the cancellation is delivered below, once
            }
        }
        throw cancelled_error();
    }
    bool cancelled = co_await park(w);
    if (cancelled) {
        throw cancelled_error();
    }
}

/// Awaits a state's result: the value, or its exception rethrown.
template <class T>
awaitable<T> await_value(ref<state<T>> s, cancel_policy policy, aio::source_location where = {}) {
    if (!s->done()) {
        co_await wait_done(s, policy, where);
    }
    if constexpr (std::is_void_v<T>) {
        s->rethrow_if_failed();
    } else {
        co_return s->take();
    }
}

/// A done callback: posts fn to the loop when the state finishes, then frees itself.
class callback_node final : public done_waiter {
public:
    callback_node(std::function<void()> fn, std::uint64_t id) : fn_(std::move(fn)) {
        callback_id_ = id;
    }

    void on_done(state_base& s) override {
        schedule(s.loop(), std::move(fn_));
        delete this;
    }
    void dispose() noexcept override { delete this; }

    /// Runs fn on the loop soon (asyncio's call_soon); an exception it throws is reported.
    static void schedule(loop_core* loop, std::function<void()> fn) {
        if (loop == nullptr) {
            return;
        }
        post_plain(loop->context().get_executor(), [loop, fn = std::move(fn)] {
            loop->call_reporting("exception in a done callback", fn);
        });
    }

private:
    std::function<void()> fn_;
};

inline std::uint64_t add_callback(state_base& s, std::function<void()> fn) {
    static thread_local std::uint64_t next_id = 1;
    std::uint64_t id = next_id++;
    if (s.done()) {
        callback_node::schedule(s.loop(), std::move(fn));
    } else {
        s.add_waiter(*new callback_node(std::move(fn), id));
    }
    return id;
}

} // namespace aio::detail

// aio/detail/task_start.hpp - how a task runs: its state with the body, the bottom frame of
// its coroutine stack, and its start on the loop.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/asio_compat.hpp>
#include <aio/detail/source_location.hpp>
#include <aio/detail/state.hpp>
#include <aio/detail/task_executor.hpp>
#include <aio/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_state.hpp>

#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace aio::detail {

/// A task's state as its coroutine's bottom frame sees it. The body sits behind virtual calls,
/// so that the frame's type does not depend on the body's: one entry function per result type
/// serves every body.
template <class T>
class task_base : public state<T> {
public:
    using state<T>::state;
    /// The body's coroutine: the awaitable itself, or what the callable returns.
    virtual awaitable<T> make_coroutine() = 0;
    /// Destroys the callable and its captures, once the coroutine they serve has ended.
    virtual void drop_body() noexcept = 0;
};

// GCC gives a coroutine's frame the linkage of an ordinary class in this header, and warns
// (-Wsubobject-linkage, on by default) when a task's result type is local to the user's file,
// e.g. in an anonymous namespace. The frame is an implementation type of this one function, used
// in no other translation unit, so the warning is a false positive here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsubobject-linkage"
#endif
/// The bottom frame of a task's coroutine stack: runs the body and ends the task with what it
/// gives. Asio runs a coroutine stack from such a frame (co_spawn's is another); aio starts its
/// own because co_spawn, for what aio already does itself, pays per task with a cancellation
/// handler and a second cancellation state, two work-counting guards (the runner keeps the loop
/// busy instead), a dispatch before the body and a post after it (aio's ends never resume a
/// coroutine inline, so the task may end at once). Every exception is caught here: none may
/// leave the frame, as Asio would rethrow it out of the loop's run().
template <class T>
bottom_frame task_entry(ref<task_base<T>> running) {
    std::exception_ptr error;
    bool cancelled = false;
    try {
        if constexpr (std::is_void_v<T>) {
            co_await running->make_coroutine();
        } else {
            running->stash(co_await running->make_coroutine());
        }
    } catch (const cancelled_error&) {
        // Told apart here, by type, the usual end of a cancelled task costs no second throw
        // (finish_exception classifies by rethrowing).
        error = std::current_exception();
        cancelled = true;
    } catch (...) {
        error = std::current_exception();
    }
    running->drop_body();
    if (cancelled) {
        running->finish_cancelled(std::move(error));
    } else if (error) {
        running->finish_exception(std::move(error));
    } else if constexpr (std::is_void_v<T>) {
        running->finish_value(std::monostate{});
    } else {
        running->finish_stashed();
    }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/// Runs a scheduled task's first step; `running` is the reference its bottom frame owns.
template <class T>
void start_task(ref<task_base<T>> running) {
    task_base<T>* st = running.get();
    if (st->cancel_requests() > 0) {
        st->drop_body();
        st->finish_cancelled(); // cancelled before its first step: the body never runs
        return;
    }
    boost::asio::cancellation_slot slot = st->cancellation_slot();
    boost::asio::any_io_executor ex = make_task_executor(st->loop()->executor(), st);
    boost::asio::cancellation_state cs(slot);
    st->set_own_slot(cs.slot());
    // The first step runs here, inline, up to the body's first suspension (as co_spawn's does).
    launch_stack(task_entry<T>(std::move(running)), ex, slot, cs,
                 [st](const stack_bottom* bottom) { st->set_stack(bottom); });
}

/// A task's state with its body: an awaitable<T>, or a callable returning one (kept, with its
/// captures, until the coroutine it made has ended).
template <class T, class Body>
class task_state final : public task_base<T> {
public:
    task_state(loop_core& loop, Body body) : task_base<T>(&loop, true), body_(std::move(body)) {}

    void start() override { start_task<T>(ref<task_base<T>>::adopt(this)); }

    awaitable<T> make_coroutine() override {
        if constexpr (awaitable_type<Body>) {
            return std::move(*body_);
        } else {
            return (*body_)();
        }
    }
    void drop_body() noexcept override { body_.reset(); }

private:
    std::optional<Body> body_;
};

/// Schedules `body` (an awaitable<T>, or a callable returning one) as a task on `loop`, created
/// at `created_at`. As in
/// asyncio, the first step is queued: the body starts once the caller yields to the loop.
template <class T, class Body>
ref<state<T>> spawn_task(loop_core& loop, Body body, std::string name,
                         aio::source_location created_at) {
    auto* st = new task_state<T, Body>(loop, std::move(body));
    st->set_id(loop.next_task_id());
    st->set_created_at(created_at);
    if (!name.empty()) {
        st->set_name(std::move(name));
    }
    loop.tasks().push_back(*st);
    ref<state<T>> handle(st);
    loop.schedule_start(*st); // the queue owns the reference `st` was created with
    return handle;
}

} // namespace aio::detail

// aio/detail/asio_compat.hpp - the parts of Boost.Asio that aio uses beyond its public API,
// named once, and the one place in aio that looks at Asio's version.
//
// Checked against Asio 1.26 (Boost 1.81), 1.32 (Boost 1.86) and 1.38 (Boost 1.90): CI builds
// the tests and examples with each, and runs them with 1.26 and 1.38. Every item below is
// spelled and behaves alike in all three, so none needs a version branch yet; when a release
// changes one, the branch goes here, next to the item, with what changed in which release.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/version.hpp>

#include <cstddef>
#include <utility>

static_assert(BOOST_ASIO_VERSION >= 102600, "aio needs Boost.Asio 1.26 (Boost 1.81) or newer");

namespace aio::detail {

/// What the bottom frame of a coroutine stack returns: co_spawn's own bottom frame is one, and
/// aio starts tasks from one of its own (see task_entry).
/// asio::detail::awaitable_thread_entry_point is internal; unchanged from 1.26 to 1.38.
using bottom_frame = boost::asio::awaitable<boost::asio::detail::awaitable_thread_entry_point>;

/// The promise of a bottom frame: it lives inside that coroutine frame for as long as the
/// stack runs, and knows the stack's top frame. asio::detail::awaitable_frame is internal;
/// unchanged from 1.26 to 1.38.
using stack_bottom =
    boost::asio::detail::awaitable_frame<boost::asio::detail::awaitable_thread_entry_point,
                                         boost::asio::any_io_executor>;

/// Starts a coroutine stack from `bottom` on `ex`, as co_spawn does, and runs it here, inline,
/// up to its first suspension. `parent` is the slot the stack's cancellation state is attached
/// to and `state` that state (its slot is what the stack's awaits see). `started(b)` is called
/// with the stack's bottom promise before the first step runs. Exceptions leaving the bottom
/// frame propagate out of this call.
/// asio::detail::awaitable_thread is internal. Its constructor and launch() are the same from
/// 1.26 to 1.38. In 1.38 (Boost 1.90; not yet in 1.32) launch() also marks the stack as
/// launching during the first step (a thread-local push), which co_spawn's bottom frame asks to
/// decide whether it must post its completion (1.26 and 1.32 keep a has_context_switched flag
/// in the frame instead). aio's bottom frames ask neither: a task completes into no handler.
/// awaitable_thread::entry_point() is public, and the same from 1.26 to 1.38.
template <class Started>
void launch_stack(bottom_frame bottom, const boost::asio::any_io_executor& ex,
                  boost::asio::cancellation_slot parent, boost::asio::cancellation_state state,
                  Started started) {
    boost::asio::detail::awaitable_thread<boost::asio::any_io_executor> stack(std::move(bottom), ex,
                                                                              parent, state);
    started(stack.entry_point());
    stack.launch();
}

/// Reading a stack's frames: which frame is on top, whether it runs, and the frame below each.
/// Asio keeps these in private and protected members (the same from 1.26 to 1.38:
/// awaitable_frame<awaitable_thread_entry_point>::top_of_stack_, awaitable_frame_base's
/// attached_thread_ and caller_); the standard lets an explicit instantiation name a member
/// regardless of access, which is how member_reader below reaches them without copying Asio's
/// layout. Only diagnostics read them, on the loop's thread, while the stack is alive.
using stack_frame = boost::asio::detail::awaitable_frame_base<boost::asio::any_io_executor>;

template <class Tag>
struct member_of;

template <class Tag, typename member_of<Tag>::type Member>
struct member_reader {
    friend typename member_of<Tag>::type member_pointer(Tag) noexcept { return Member; }
};

struct top_of_stack_tag {
    friend stack_frame* stack_bottom::*member_pointer(top_of_stack_tag) noexcept;
};
template <>
struct member_of<top_of_stack_tag> {
    using type = stack_frame* stack_bottom::*;
};
template struct member_reader<top_of_stack_tag, &stack_bottom::top_of_stack_>;

struct attached_thread_tag {
    friend boost::asio::detail::awaitable_thread<boost::asio::any_io_executor>* stack_frame::*
        member_pointer(attached_thread_tag) noexcept;
};
template <>
struct member_of<attached_thread_tag> {
    using type =
        boost::asio::detail::awaitable_thread<boost::asio::any_io_executor>* stack_frame::*;
};
template struct member_reader<attached_thread_tag, &stack_frame::attached_thread_>;

struct caller_tag {
    friend stack_frame* stack_frame::*member_pointer(caller_tag) noexcept;
};
template <>
struct member_of<caller_tag> {
    using type = stack_frame* stack_frame::*;
};
template struct member_reader<caller_tag, &stack_frame::caller_>;

/// True while the stack runs (a step of it executes now, on this thread): its top frame has a
/// thread attached. A stack suspended in an operation (aio's awaits park through one) has given
/// its thread to that operation's handler.
inline bool stack_running(const stack_bottom& bottom) noexcept {
    const stack_frame* top = bottom.*member_pointer(top_of_stack_tag{});
    return top != nullptr && top->*member_pointer(attached_thread_tag{}) != nullptr;
}

/// The number of coroutine frames on the stack, the bottom one included.
inline std::size_t stack_depth(const stack_bottom& bottom) noexcept {
    std::size_t n = 0;
    for (const stack_frame* f = bottom.*member_pointer(top_of_stack_tag{}); f != nullptr;
         f = f->*member_pointer(caller_tag{})) {
        ++n;
    }
    return n;
}

/// The cancellation state of the coroutine stack that `handler`, the completion handler Asio
/// gives an operation co_awaited in an awaitable, resumes. Such a handler is the stack itself
/// (it derives from asio::detail::awaitable_thread), and get_cancellation_state() is its
/// internal member, the same from 1.26 to 1.38. The public way, `co_await
/// this_coro::cancellation_state` before the operation, costs one more await per park.
template <class Handler>
boost::asio::cancellation_state stack_cancellation_state(const Handler& handler) noexcept {
    return handler.get_cancellation_state();
}

/// The completion handler Asio gives an operation of signature void(bool) co_awaited in an
/// awaitable: what detail::park's waiter holds while a coroutine is parked. Internal to Asio;
/// two pointers from 1.26 to 1.38, which the waiter stores in place (tests/event.cpp checks it,
/// so that a release that grows it fails CI instead of silently costing an allocation per park).
using park_handler =
    boost::asio::detail::awaitable_async_op_handler<void(bool), boost::asio::any_io_executor>;

} // namespace aio::detail

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

#include <utility>

static_assert(BOOST_ASIO_VERSION >= 102600, "aio needs Boost.Asio 1.26 (Boost 1.81) or newer");

namespace aio::detail {

/// What the bottom frame of a coroutine stack returns: co_spawn's own bottom frame is one, and
/// aio starts tasks from one of its own (see task_entry).
/// asio::detail::awaitable_thread_entry_point is internal; unchanged from 1.26 to 1.38.
using bottom_frame = boost::asio::awaitable<boost::asio::detail::awaitable_thread_entry_point>;

/// Starts a coroutine stack from `bottom` on `ex`, as co_spawn does, and runs it here, inline,
/// up to its first suspension. `parent` is the slot the stack's cancellation state is attached
/// to and `state` that state (its slot is what the stack's awaits see). Exceptions leaving the
/// bottom frame propagate out of this call.
/// asio::detail::awaitable_thread is internal. Its constructor and launch() are the same from
/// 1.26 to 1.38. In 1.38 (Boost 1.90; not yet in 1.32) launch() also marks the stack as
/// launching during the first step (a thread-local push), which co_spawn's bottom frame asks to
/// decide whether it must post its completion (1.26 and 1.32 keep a has_context_switched flag
/// in the frame instead). aio's bottom frames ask neither: a task completes into no handler.
inline void launch_stack(bottom_frame bottom, const boost::asio::any_io_executor& ex,
                         boost::asio::cancellation_slot parent,
                         boost::asio::cancellation_state state) {
    boost::asio::detail::awaitable_thread<boost::asio::any_io_executor>(std::move(bottom), ex,
                                                                        parent, state)
        .launch();
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

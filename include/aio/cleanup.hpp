// aio/cleanup.hpp - awaiting cleanup on success, error and cancellation alike: finally, with,
// uncancel. C++ forbids co_await in catch blocks and destructors; these are the way around it.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/error.hpp>

#include <boost/asio/this_coro.hpp>

#include <concepts>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace aio {

/// Clears a cancellation the running coroutine has been told of (Asio keeps one it delivered
/// through a raw operation's operation_aborted pending, so later awaits would throw again):
/// `co_await aio::uncancel();` after catching it, before awaiting cleanup. aio's own awaits
/// clear it themselves when they deliver cancelled_error. Never throws, never suspends.
inline auto uncancel() {
    return boost::asio::this_coro::reset_cancellation_state();
}

namespace detail {

/// Awaits either an awaitable (moved from) or a callable returning one.
template <class W>
auto run_work(W& work) {
    if constexpr (awaitable_type<W>) {
        return std::move(work);
    } else {
        return work();
    }
}
template <class W>
using work_result_t = awaitable_value_t<decltype(run_work(std::declval<W&>()))>;

template <class W>
concept work = awaitable_type<W> || awaitable_factory<W>;

/// Runs a body, catching what it throws; afterwards makes the coroutine able to await again
/// (a cancellation still pending is remembered in `cancel_pending`, and cleared).
template <class T>
struct body_outcome {
    std::optional<std::conditional_t<std::is_void_v<T>, char, T>> value;
    std::exception_ptr error;
    bool cancel_pending = false;

    T get() {
        if (error) {
            std::rethrow_exception(error);
        }
        if (cancel_pending) {
            throw cancelled_error();
        }
        if constexpr (!std::is_void_v<T>) {
            return std::move(*value);
        }
    }
};

} // namespace detail

/// `try { body } finally { cleanup }` where cleanup may await: runs `body` (an awaitable, or a
/// callable returning one), then awaits `cleanup` whether the body returned, threw, or was
/// cancelled, then returns the body's value or rethrows its exception. Cleanup runs with the
/// cancellation cleared, so its awaits work; a cancellation still pending after the body is
/// delivered (cancelled_error) once cleanup is done. An exception from cleanup replaces the
/// body's. Cleanup itself can be cancelled by a further cancel().
template <detail::work Body, detail::work Cleanup>
awaitable<detail::work_result_t<Body>> finally(Body body, Cleanup cleanup) {
    using T = detail::work_result_t<Body>;
    detail::body_outcome<T> r;
    try {
        if constexpr (std::is_void_v<T>) {
            co_await detail::run_work(body);
            r.value.emplace();
        } else {
            r.value.emplace(co_await detail::run_work(body));
        }
    } catch (...) {
        r.error = std::current_exception();
    }
    auto cs = co_await boost::asio::this_coro::cancellation_state;
    r.cancel_pending = cs.cancelled() != boost::asio::cancellation_type::none;
    cs.clear();
    co_await detail::run_work(cleanup);
    co_return r.get();
}

/// An asynchronous context manager for aio::with: `async_exit(std::exception_ptr)` returns
/// awaitable<void>; `async_enter()` (optional) returns awaitable<void>.
template <class R>
concept async_resource = requires(R& r, std::exception_ptr e) {
    { r.async_exit(e) } -> std::same_as<awaitable<void>>;
};

/// `async with resource: body`: awaits resource.async_enter() if it has one, runs
/// `body(resource)` (a callable returning an awaitable), then awaits
/// resource.async_exit(error) with the body's exception (nullptr on success) - on success,
/// error and cancellation alike, with the cancellation cleared so that exit can await. Then
/// returns the body's value or rethrows its exception; an exception from async_exit replaces
/// it (as an exception raised in __aexit__ does). A cancellation still pending after the body
/// is delivered once exit is done.
template <async_resource R, class Body>
requires std::invocable<Body&, R&> && awaitable_type<std::invoke_result_t<Body&, R&>>
    awaitable<awaitable_value_t<std::invoke_result_t<Body&, R&>>> with(R& resource, Body body) {
    using T = awaitable_value_t<std::invoke_result_t<Body&, R&>>;
    if constexpr (requires { resource.async_enter(); }) {
        co_await resource.async_enter();
    }
    detail::body_outcome<T> r;
    try {
        if constexpr (std::is_void_v<T>) {
            co_await body(resource);
            r.value.emplace();
        } else {
            r.value.emplace(co_await body(resource));
        }
    } catch (...) {
        r.error = std::current_exception();
    }
    auto cs = co_await boost::asio::this_coro::cancellation_state;
    r.cancel_pending = cs.cancelled() != boost::asio::cancellation_type::none;
    cs.clear();
    co_await resource.async_exit(r.error);
    co_return r.get();
}

} // namespace aio

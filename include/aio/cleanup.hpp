// aio/cleanup.hpp - awaiting cleanup on success, error and cancellation alike: capture,
// finally, with, uncancel. C++ forbids co_await in catch blocks and destructors; these are the
// way around it.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/error.hpp>
#include <aio/outcome.hpp>

#include <boost/asio/this_coro.hpp>

#include <concepts>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

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

} // namespace detail

/// What capture() gives for work returning T: outcome<T>, outcome<std::monostate> for void.
template <detail::work W>
using captured_t = outcome<result_t<detail::work_result_t<W>>>;

/// The await that never throws what the work throws: runs `work` (an awaitable, or a callable
/// returning one - the callable and its captures live until the work has ended) and returns
/// an outcome holding its value or the exception it ended with, a cancellation included. Then
/// the coroutine can await again: a cancellation the work left pending (Asio's sticky one, after
/// a raw operation's operation_aborted) is cleared, so the cleanup awaits that follow run.
/// C++ forbids co_await in a catch block; this is asyncio's
///
///   try:                                   auto r = co_await aio::capture(work());
///       await work()                       if (r.cancelled()) {
///   except asyncio.CancelledError:             co_await cleanup();
///       await cleanup()                    }
///       raise                              r.value(); // rethrows, or returns the value
///
/// If the coroutine was asked to cancel while the work ran and the work returned a value anyway
/// (the request came after its last await, or it caught a raw Asio operation_aborted without
/// uncancel()), the outcome holds cancelled_error instead: the request is not lost (asyncio
/// would raise CancelledError at the next await), and the value is dropped. A cancel() of the
/// coroutine after capture returns reaches its next await, as usual.
/// Like every co_await in Asio, awaiting capture throws operation_aborted before the work starts
/// if a raw Asio cancellation is still pending from before (caught without uncancel()).
/// asyncio has no such function; the name and the shape are those of python-trio's
/// `outcome.acapture`, and the result is the outcome that gather(return_exceptions, ...) gives.
template <detail::work W>
awaitable<captured_t<W>> capture(W work) {
    using T = detail::work_result_t<W>;
    std::optional<captured_t<W>> r;
    try {
        if constexpr (std::is_void_v<T>) {
            co_await detail::run_work(work);
            r.emplace(std::monostate{});
        } else {
            r.emplace(co_await detail::run_work(work));
        }
    } catch (...) {
        r.emplace(std::current_exception());
    }
    auto cs = co_await boost::asio::this_coro::cancellation_state;
    if (cs.cancelled() != boost::asio::cancellation_type::none) {
        cs.clear();
        if (r->has_value()) {
            r.emplace(std::make_exception_ptr(cancelled_error()));
        }
    }
    co_return std::move(*r);
}

/// `try { body } finally { cleanup }` where cleanup may await: runs `body` (an awaitable, or a
/// callable returning one), then awaits `cleanup` whether the body returned, threw, or was
/// cancelled, then returns the body's value or rethrows its exception. Built on capture(): the
/// cleanup runs with the cancellation cleared, so its awaits work, and a cancellation the body
/// left pending is thrown (cancelled_error) once cleanup is done. An exception from cleanup
/// replaces the body's. Cleanup itself can be cancelled by a further cancel().
template <detail::work Body, detail::work Cleanup>
awaitable<detail::work_result_t<Body>> finally(Body body, Cleanup cleanup) {
    // The capture is made in a statement of its own: GCC 12 destroys a lambda argument twice
    // when it is passed inside a co_await expression.
    auto captured = capture(std::move(body));
    auto r = co_await std::move(captured);
    co_await detail::run_work(cleanup);
    if constexpr (std::is_void_v<detail::work_result_t<Body>>) {
        r.value();
    } else {
        co_return std::move(r).value();
    }
}

namespace detail {

template <class A, class... Ts>
concept one_of = (std::same_as<A, Ts> || ...);

/// What `async_enter()` gives: void when there is none.
template <class R>
struct enter_traits {
    using value_type = void;
};
template <class R>
requires requires(R& r) {
    { r.async_enter() } -> awaitable_type;
}
struct enter_traits<R> {
    using value_type = awaitable_value_t<decltype(std::declval<R&>().async_enter())>;
};
template <class R>
using enter_value_t = typename enter_traits<R>::value_type;

/// What the body of `with` receives (by lvalue reference): async_enter's value, if it has one,
/// or else the resource itself.
template <class R>
using as_t = std::conditional_t<std::is_void_v<enter_value_t<R>>, R, enter_value_t<R>>;

template <class Body, class R>
using body_result_t = awaitable_value_t<std::invoke_result_t<Body&, as_t<R>&>>;

/// async_exit returning awaitable<bool> may suppress the body's exception (as __aexit__
/// returning true does); the body's value is then optional.
template <class R>
constexpr bool exit_may_suppress =
    std::same_as<decltype(std::declval<R&>().async_exit(std::exception_ptr())), awaitable<bool>>;

template <class R, class Body>
using with_result_t =
    std::conditional_t<exit_may_suppress<R> && !std::is_void_v<body_result_t<Body, R>>,
                       std::optional<body_result_t<Body, R>>, body_result_t<Body, R>>;

} // namespace detail

/// An asynchronous context manager for aio::with (Python's __aenter__/__aexit__):
/// `async_exit(std::exception_ptr)` returns awaitable<void>, or awaitable<bool> to be able to
/// suppress the body's exception; `async_enter()` (optional) returns an awaitable, of void or
/// of the value the body receives (the `as` target).
template <class R>
concept async_resource = requires(R& r, std::exception_ptr e) {
    { r.async_exit(e) } -> detail::one_of<awaitable<void>, awaitable<bool>>;
}
&&(
    !requires(R & r) { r.async_enter(); } ||
    requires(R & r) {
        { r.async_enter() } -> awaitable_type;
    });

/// A callable that can be the body of `with(resource, body)`: called with `as_t<R>&` (the value
/// of async_enter, or the resource), it returns an awaitable.
template <class Body, class R>
concept with_body = std::invocable < Body&,
        detail::as_t<R>
& > &&awaitable_type<std::invoke_result_t<Body&, detail::as_t<R>&>>;

namespace detail {

/// with's body and exit, once the resource is entered; `as` is what the body receives.
template <class R, class Body, class As>
awaitable<with_result_t<R, Body>> run_body_then_exit(R& resource, Body& body, As& as) {
    auto call_body = [&body, &as] { return body(as); };
    auto captured = capture(call_body);
    auto r = co_await std::move(captured);
    bool suppressed = false;
    if constexpr (exit_may_suppress<R>) {
        suppressed = co_await resource.async_exit(r.exception()) && !r.has_value();
    } else {
        co_await resource.async_exit(r.exception());
    }
    if constexpr (std::is_void_v<body_result_t<Body, R>>) {
        if (!suppressed) {
            r.value();
        }
    } else if constexpr (exit_may_suppress<R>) {
        if (suppressed) {
            co_return std::nullopt;
        }
        co_return std::move(r).value();
    } else {
        co_return std::move(r).value();
    }
}

} // namespace detail

/// `async with resource as value: body`: awaits resource.async_enter() if it has one, runs
/// `body(value)` - value being what async_enter returned, or the resource itself when it
/// returns nothing - then awaits resource.async_exit(error) with the body's exception (nullptr
/// on success): on success, error and cancellation alike, with the cancellation cleared so that
/// exit can await. Then returns the body's value or rethrows its exception. If async_exit
/// returns awaitable<bool>, true suppresses the exception (as __aexit__ returning true does):
/// `with` then returns normally, its value a std::optional<T> that is empty when suppressed.
/// An exception from async_exit replaces the body's (as one raised in __aexit__ does). A
/// cancellation the body left pending (see capture) reaches async_exit as cancelled_error. An
/// exception from async_enter propagates; exit is then not called (as in Python).
template <async_resource R, with_body<R> Body>
awaitable<detail::with_result_t<R, Body>> with(R& resource, Body body) {
    if constexpr (std::is_void_v<detail::enter_value_t<R>>) {
        if constexpr (requires { resource.async_enter(); }) {
            co_await resource.async_enter();
        }
        auto rest = detail::run_body_then_exit(resource, body, resource);
        co_return co_await std::move(rest);
    } else {
        detail::enter_value_t<R> value = co_await resource.async_enter();
        auto rest = detail::run_body_then_exit(resource, body, value);
        co_return co_await std::move(rest);
    }
}

namespace detail {
template <class R, class Body>
awaitable<with_result_t<R, Body>> with_owned(R resource, Body body) {
    auto inner = with(resource, std::move(body));
    co_return co_await std::move(inner);
}
} // namespace detail

/// `with` for a resource passed as an rvalue (`aio::with(open_db(), body)`, a context_manager
/// made by a function): the resource is moved into the awaitable, which owns it until the
/// exit is done.
template <async_resource R, with_body<R> Body>
requires(!std::is_reference_v<R>) awaitable<detail::with_result_t<R, Body>> with(R&& resource,
                                                                                 Body body) {
    return detail::with_owned<R, Body>(std::move(resource), std::move(body));
}

} // namespace aio

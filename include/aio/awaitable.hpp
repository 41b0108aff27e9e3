// aio/awaitable.hpp - the coroutine type of aio: plain Asio awaitables.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <concepts>
#include <type_traits>

namespace aio {

/// An `async def` function in C++: a lazy coroutine, run when awaited or made a task.
/// It is boost::asio::awaitable<T>, so it mixes with any Asio or Beast code.
template <class T = void>
using awaitable = boost::asio::awaitable<T>;

namespace detail {
template <class A>
struct awaitable_traits {
    static constexpr bool is_awaitable = false;
};
template <class T>
struct awaitable_traits<boost::asio::awaitable<T>> {
    static constexpr bool is_awaitable = true;
    using value_type = T;
};
} // namespace detail

/// True for aio::awaitable<T> (any T).
template <class A>
concept awaitable_type = detail::awaitable_traits<std::remove_cvref_t<A>>::is_awaitable;

/// A callable returning an awaitable: the form that keeps a coroutine lambda (and its captures)
/// alive for as long as its coroutine runs.
template <class F>
concept awaitable_factory = std::invocable<F&> && awaitable_type<std::invoke_result_t<F&>>;

/// The T of awaitable<T>.
template <awaitable_type A>
using awaitable_value_t = typename detail::awaitable_traits<std::remove_cvref_t<A>>::value_type;

} // namespace aio

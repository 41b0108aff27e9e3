// aio/gather.hpp - gather: run awaitables concurrently and collect their results in order.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/child_group.hpp>
#include <aio/future.hpp>
#include <aio/outcome.hpp>
#include <aio/task.hpp>

#include <cstddef>
#include <ranges>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace aio {

/// The tag that asks gather for outcomes instead of failing fast (return_exceptions=True).
struct return_exceptions_t {
    explicit return_exceptions_t() = default;
};
inline constexpr return_exceptions_t return_exceptions{};

namespace detail {
template <class A>
struct gatherable_traits {
    static constexpr bool value = false;
};
template <class T>
struct gatherable_traits<awaitable<T>> {
    static constexpr bool value = true;
    using type = T;
};
template <class T>
struct gatherable_traits<task<T>> {
    static constexpr bool value = true;
    using type = T;
};
template <class T>
struct gatherable_traits<future<T>> {
    static constexpr bool value = true;
    using type = T;
};
} // namespace detail

/// What gather, wait_for and shield accept: an awaitable<T>, a task<T> or a future<T>.
template <class A>
concept gatherable = detail::gatherable_traits<std::remove_cvref_t<A>>::value;

/// The T of a gatherable.
template <gatherable A>
using gathered_t = typename detail::gatherable_traits<std::remove_cvref_t<A>>::type;

namespace detail {

template <class... Ts>
std::vector<state_base*> states_of(const task<Ts>&... tasks) {
    return {&tasks.state()...};
}
template <class T>
std::vector<state_base*> states_of(const std::vector<task<T>>& tasks) {
    std::vector<state_base*> out;
    out.reserve(tasks.size());
    for (const auto& t : tasks) {
        out.push_back(&t.state());
    }
    return out;
}

template <class T>
outcome<result_t<T>> outcome_of(const task<T>& t) {
    state<T>& s = *t.typed();
    if (s.result_status() == status::value) {
        return outcome<result_t<T>>(s.take());
    }
    return outcome<result_t<T>>(s.exception());
}

/// Waits for children as gather does: fail fast unless return_exceptions.
inline awaitable<void> gather_wait(const std::vector<state_base*>& states, bool fail_fast) {
    child_group::options opt;
    opt.stop_on_failure = fail_fast;
    opt.failure_includes_cancel = true;
    opt.cancel_children_on_cancel = true;
    child_group g(states, opt);
    co_await park(g);
    if (fail_fast && g.first_failed() != nullptr) {
        g.first_failed()->rethrow_if_failed();
    }
}

template <std::ranges::input_range R>
auto ensure_tasks(R&& range) {
    using T = gathered_t<std::ranges::range_value_t<R>>;
    std::vector<task<T>> tasks;
    if constexpr (std::ranges::sized_range<R>) {
        tasks.reserve(std::ranges::size(range));
    }
    for (auto&& item : range) {
        tasks.push_back(ensure_task(std::move(item))); // the range is gather's own copy
    }
    return tasks;
}

} // namespace detail

/// asyncio.gather: runs each awaitable as a task (tasks and futures are used as they are),
/// waits for all, and returns their results in argument order; `void` gives std::monostate.
///
/// Error: the first child to fail (in completion order) has its exception rethrown at once; the
/// other children keep running (as asyncio) and an error they end with later is reported by the
/// loop unless someone awaits them. A child that ends cancelled counts as failing with
/// cancelled_error. Cancellation of the caller: every child is cancelled, gather waits for all
/// of them to end, then throws cancelled_error.
///
///   auto [a, b] = co_await aio::gather(fetch(1), fetch(2));
template <gatherable... Aws>
awaitable<std::tuple<result_t<gathered_t<Aws>>...>> gather(Aws... aws) {
    auto tasks = std::make_tuple(ensure_task(std::move(aws))...);
    auto states = std::apply([](const auto&... t) { return detail::states_of(t...); }, tasks);
    co_await detail::gather_wait(states, true);
    co_return std::apply([](const auto&... t) { return std::make_tuple(t.typed()->take()...); },
                         tasks);
}

/// gather(return_exceptions, ...): waits for every child and returns one outcome per child, in
/// argument order, holding its value or the exception it ended with (cancellations included).
/// Cancellation of the caller: every child is cancelled, then cancelled_error is thrown.
template <gatherable... Aws>
awaitable<std::tuple<outcome<result_t<gathered_t<Aws>>>...>> gather(return_exceptions_t,
                                                                    Aws... aws) {
    auto tasks = std::make_tuple(ensure_task(std::move(aws))...);
    auto states = std::apply([](const auto&... t) { return detail::states_of(t...); }, tasks);
    co_await detail::gather_wait(states, false);
    co_return std::apply([](const auto&... t) { return std::make_tuple(detail::outcome_of(t)...); },
                         tasks);
}

/// gather over a range (a vector of tasks, or of awaitables moved in): a vector of results in
/// range order; the same semantics as the variadic form.
template <std::ranges::input_range R>
requires gatherable<std::ranges::range_value_t<R>>
    awaitable<std::vector<result_t<gathered_t<std::ranges::range_value_t<R>>>>> gather(R range) {
    auto tasks = detail::ensure_tasks(std::move(range));
    co_await detail::gather_wait(detail::states_of(tasks), true);
    std::vector<result_t<gathered_t<std::ranges::range_value_t<R>>>> out;
    out.reserve(tasks.size());
    for (const auto& t : tasks) {
        out.push_back(t.typed()->take());
    }
    co_return out;
}

/// gather(return_exceptions, range): one outcome per element, in range order.
template <std::ranges::input_range R>
requires gatherable<std::ranges::range_value_t<R>>
    awaitable<std::vector<outcome<result_t<gathered_t<std::ranges::range_value_t<R>>>>>>
    gather(return_exceptions_t, R range) {
    auto tasks = detail::ensure_tasks(std::move(range));
    co_await detail::gather_wait(detail::states_of(tasks), false);
    std::vector<outcome<result_t<gathered_t<std::ranges::range_value_t<R>>>>> out;
    out.reserve(tasks.size());
    for (const auto& t : tasks) {
        out.push_back(detail::outcome_of(t));
    }
    co_return out;
}

} // namespace aio

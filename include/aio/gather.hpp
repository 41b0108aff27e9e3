// aio/gather.hpp - gather: run awaitables concurrently and collect their results in order.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/child_group.hpp>
#include <aio/detail/range.hpp>
#include <aio/future.hpp>
#include <aio/outcome.hpp>
#include <aio/task.hpp>

#include <concepts>
#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
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

/// What the range forms of gather accept: a range of gatherables, or of any_task handles (what
/// all_tasks() returns; their values are not visible, so they count as void).
template <class R>
concept gatherable_range = detail::input_range<R> &&
    (gatherable<detail::range_value_t<R>> || std::same_as<detail::range_value_t<R>, any_task>);

namespace detail {

/// What gather keeps for one element of a range: a task<T>, or the any_task itself.
template <class E>
struct range_element {
    using handle = task<gathered_t<E>>;
    using value = gathered_t<E>;
};
template <>
struct range_element<any_task> {
    using handle = any_task;
    using value = void;
};

/// True if gather can own the range: its elements are copyable handles (tasks, futures,
/// any_task), or it is a non-const rvalue to move the awaitables out of.
template <class R>
concept ownable_range = std::copy_constructible<detail::range_value_t<R>> ||
    (!std::is_lvalue_reference_v<R> && !std::is_const_v<std::remove_reference_t<R>>);

} // namespace detail

/// The T of a gatherable_range's elements (void for any_task).
template <gatherable_range R>
using gathered_range_t = typename detail::range_element<detail::range_value_t<R>>::value;

namespace detail {

template <class... Ts>
std::vector<state_base*> states_of(const task<Ts>&... tasks) {
    return {&tasks.state()...};
}
/// The states of a vector of handles (task<T> or any_task).
template <std::derived_from<any_task> H>
std::vector<state_base*> states_of(const std::vector<H>& tasks) {
    std::vector<state_base*> out;
    out.reserve(tasks.size());
    for (const auto& t : tasks) {
        out.push_back(&t.state());
    }
    return out;
}

/// The value of a child that ended with one; an any_task's value is not visible.
template <class T>
result_t<T> value_of(const task<T>& t) {
    return t.typed()->take();
}
inline std::monostate value_of(const any_task&) {
    return {};
}

/// What a done child ended with, as an outcome (its exception counts as retrieved).
template <class T>
outcome<result_t<T>> outcome_of(const task<T>& t) {
    state<T>& s = *t.typed();
    if (s.result_status() == status::value) {
        return outcome<result_t<T>>(s.take());
    }
    return outcome<result_t<T>>(s.exception());
}
inline outcome<std::monostate> outcome_of(const any_task& t) {
    state_base& s = t.state();
    if (s.result_status() == status::value) {
        return outcome<std::monostate>(std::monostate{});
    }
    return outcome<std::monostate>(s.exception());
}

/// Waits for children as gather does: fail fast unless return_exceptions.
/// `where`: the site of the public call, for the call stack (empty for the variadic forms).
inline awaitable<void> gather_wait(std::vector<state_base*> states, bool fail_fast,
                                   aio::source_location where = {}) {
    child_group::options opt;
    opt.stop_on_failure = fail_fast;
    opt.failure_includes_cancel = true;
    opt.on_cancel = child_group::cancel_policy::cancel_children;
    opt.what = "aio::gather";
    child_group g(std::move(states), opt);
    g.set_site(where);
    co_await wait_for_group(g);
    if (fail_fast && g.first_failed() != nullptr) {
        g.first_failed()->rethrow_if_failed();
    }
}

/// One handle per element, in range order: awaitables become tasks (moved out of the range,
/// which is gather's own), handles are copied (a view keeps the handles it refers to).
template <class Handles, detail::input_range R>
Handles make_tasks(R& range, aio::source_location where) {
    using E = detail::range_value_t<R>;
    Handles tasks;
    if constexpr (detail::sized_range<R>) {
        tasks.reserve(std::ranges::size(range));
    }
    for (auto&& item : range) {
        if constexpr (std::same_as<E, any_task>) {
            tasks.push_back(item);
        } else if constexpr (std::copy_constructible<E>) {
            tasks.push_back(ensure_task(item, where));
        } else {
            tasks.push_back(ensure_task(std::move(item), where));
        }
    }
    return tasks;
}

/// gather's handles for a range it owns: a vector of the handles themselves is taken as it is.
template <detail::input_range R>
auto ensure_tasks(R& range, aio::source_location where) {
    using E = detail::range_value_t<R>;
    using handles = std::vector<typename range_element<E>::handle>;
    if constexpr (std::same_as<R, handles>) {
        return std::move(range); // already gather's own handles: no copy, no touch of each task
    } else {
        return make_tasks<handles>(range, where);
    }
}

template <class R>
awaitable<std::vector<result_t<gathered_range_t<R>>>> gather_range(R range,
                                                                   aio::source_location where) {
    auto tasks = ensure_tasks(range, where);
    co_await gather_wait(states_of(tasks), true, where);
    std::vector<result_t<gathered_range_t<R>>> out;
    out.reserve(tasks.size());
    for (auto& t : tasks) {
        out.push_back(value_of(t));
        t = {}; // released while its state is at hand, not in a second pass
    }
    co_return out;
}

template <class R>
awaitable<std::vector<outcome<result_t<gathered_range_t<R>>>>>
gather_range_outcomes(R range, aio::source_location where) {
    auto tasks = ensure_tasks(range, where);
    co_await gather_wait(states_of(tasks), false, where);
    std::vector<outcome<result_t<gathered_range_t<R>>>> out;
    out.reserve(tasks.size());
    for (auto& t : tasks) {
        out.push_back(outcome_of(t));
        t = {};
    }
    co_return out;
}

} // namespace detail

/// asyncio.gather: runs each awaitable as a task (tasks and futures are used as they are),
/// waits for all, and returns their results in argument order; `void` gives std::monostate.
/// The children are created, and so start, in argument order.
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
    std::tuple tasks{ensure_task(std::move(aws))...}; // braces: created left to right
    auto states = std::apply([](const auto&... t) { return detail::states_of(t...); }, tasks);
    co_await detail::gather_wait(std::move(states), true);
    co_return std::apply([](const auto&... t) { return std::make_tuple(t.typed()->take()...); },
                         tasks);
}

/// gather(return_exceptions, ...): waits for every child and returns one outcome per child, in
/// argument order, holding its value or the exception it ended with (cancellations included).
/// Cancellation of the caller: every child is cancelled, then cancelled_error is thrown.
template <gatherable... Aws>
awaitable<std::tuple<outcome<result_t<gathered_t<Aws>>>...>> gather(return_exceptions_t,
                                                                    Aws... aws) {
    std::tuple tasks{ensure_task(std::move(aws))...}; // braces: created left to right
    auto states = std::apply([](const auto&... t) { return detail::states_of(t...); }, tasks);
    co_await detail::gather_wait(std::move(states), false);
    co_return std::apply([](const auto&... t) { return std::make_tuple(detail::outcome_of(t)...); },
                         tasks);
}

/// gather over a range: a vector of results in range order, with the semantics of the variadic
/// form. The range is gather's own copy: a range of tasks, futures or any_task handles may be
/// passed as an lvalue (the handles are copied); a range of awaitables must be moved in
/// (`gather(std::move(aws))`), as gather consumes them. A range of any_task (what all_tasks()
/// returns) gives a std::monostate per task: only whether it succeeded is visible, its value
/// stays in the task.
/// `where`: the caller's site, for the call stack (see aio::sleep), and the creation site of the
/// tasks made here from awaitables. The variadic forms above cannot take one (a defaulted
/// parameter cannot follow a pack): their call stack line names aio::gather without a site,
/// and their children's creation site is this header's.
template <class R>
requires gatherable_range<R> awaitable<std::vector<result_t<gathered_range_t<R>>>>
gather(R&& range, aio::source_location where = aio::source_location::current()) {
    static_assert(detail::ownable_range<R>,
                  "aio::gather: a range of awaitables is consumed; pass it as std::move(range)");
    if constexpr (detail::ownable_range<R>) {
        return detail::gather_range(std::remove_cvref_t<R>(std::forward<R>(range)), where);
    } else {
        return {};
    }
}

/// gather(return_exceptions, range): one outcome per element, in range order; for any_task
/// elements an outcome<std::monostate>: a value if the task ended normally, else its exception
/// (cancelled_error if it was cancelled). asyncio's shutdown recipe, `for t in pending:
/// t.cancel()` then `await gather(*pending, return_exceptions=True)`, is this form over
/// all_tasks() without the current task.
template <class R>
requires gatherable_range<R> awaitable<std::vector<outcome<result_t<gathered_range_t<R>>>>>
gather(return_exceptions_t, R&& range,
       aio::source_location where = aio::source_location::current()) {
    static_assert(detail::ownable_range<R>,
                  "aio::gather: a range of awaitables is consumed; pass it as std::move(range)");
    if constexpr (detail::ownable_range<R>) {
        return detail::gather_range_outcomes(std::remove_cvref_t<R>(std::forward<R>(range)), where);
    } else {
        return {};
    }
}

} // namespace aio

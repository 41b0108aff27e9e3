// aio/comprehension.hpp - async comprehensions over generators: collect, transform, filter, take.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/generator.hpp>

#include <concepts>
#include <cstddef>
#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

namespace aio {

namespace detail {
template <class G>
struct generator_traits {
    static constexpr bool is_generator = false;
};
template <class T>
struct generator_traits<generator<T>> {
    static constexpr bool is_generator = true;
    using value_type = T;
};
} // namespace detail

/// What the comprehensions read from: a generator<T> lvalue, which is borrowed (it must
/// outlive the comprehension; it stays open, for its owner to go on with or close), or a
/// generator<T> rvalue, which the comprehension owns and closes when it ends.
template <class G>
concept generator_input = detail::generator_traits<std::remove_cvref_t<G>>::is_generator &&
    !std::is_const_v<std::remove_reference_t<G>>;

/// The T of a generator_input.
template <generator_input G>
using generator_value_t = typename detail::generator_traits<std::remove_cvref_t<G>>::value_type;

namespace detail {

/// A comprehension's input: a borrowed generator, or an owned one.
template <class T>
class generator_source {
public:
    explicit generator_source(generator<T>& borrowed) noexcept : borrowed_(&borrowed) {}
    explicit generator_source(generator<T>&& owned) noexcept : owned_(std::move(owned)) {}

    /// The next value, for a coroutine (collect).
    awaitable<std::optional<T>> next() { return input().next(); }
    /// The next value, for a generator body: `co_await source.pull()` resumes the input inline.
    next_value<T> pull() noexcept { return {input().body_}; }

    bool owned() const noexcept { return borrowed_ == nullptr; }
    /// Closes an owned generator (its cleanup may await); a no-op once it has finished.
    awaitable<void> close() { return owned_.aclose(); }

private:
    generator<T>& input() noexcept { return borrowed_ ? *borrowed_ : owned_; }

    generator<T>* borrowed_ = nullptr;
    generator<T> owned_;
};

template <class G>
auto source_of(G&& gen) {
    return generator_source<generator_value_t<G>>(std::forward<G>(gen));
}

/// f(arg) is a plain call or returns an awaitable; either way, the type of its value.
template <class F, class Arg>
struct call_value {
    using type = std::invoke_result_t<F&, Arg>;
};
template <class F, class Arg>
requires awaitable_type<std::invoke_result_t<F&, Arg>>
struct call_value<F, Arg> {
    using type = awaitable_value_t<std::invoke_result_t<F&, Arg>>;
};
template <class F, class Arg>
using call_value_t = std::remove_cvref_t<typename call_value<F, Arg>::type>;

template <class F, class Arg>
constexpr bool is_async_call = awaitable_type<std::invoke_result_t<F&, Arg>>;

template <class T>
awaitable<std::vector<T>> collect_all(generator_source<T> source) {
    std::vector<T> out;
    while (std::optional<T> v = co_await source.next()) {
        out.push_back(std::move(*v));
    }
    co_return out;
}

// Each comprehension body runs its loop, then closes an owned input whatever happened (on
// error, or when it is closed itself), then rethrows what the loop threw. The close is
// awaited outside the catch block: C++ forbids co_await inside one.

template <class T, class F>
generator<call_value_t<F, T&&>> transform_all(generator_source<T> source, F f) {
    std::exception_ptr failure;
    try {
        while (std::optional<T> v = co_await source.pull()) {
            if constexpr (is_async_call<F, T&&>) {
                call_value_t<F, T&&> mapped = co_await std::invoke(f, std::move(*v));
                co_yield std::move(mapped);
            } else {
                co_yield std::invoke(f, std::move(*v));
            }
        }
    } catch (...) {
        failure = std::current_exception();
    }
    if (source.owned()) {
        co_await source.close();
    }
    if (failure) {
        std::rethrow_exception(failure);
    }
}

template <class T, class Pred>
generator<T> filter_all(generator_source<T> source, Pred pred) {
    std::exception_ptr failure;
    try {
        while (std::optional<T> v = co_await source.pull()) {
            bool keep = false;
            if constexpr (is_async_call<Pred, const T&>) {
                keep = co_await std::invoke(pred, std::as_const(*v));
            } else {
                keep = std::invoke(pred, std::as_const(*v));
            }
            if (keep) {
                co_yield std::move(*v);
            }
        }
    } catch (...) {
        failure = std::current_exception();
    }
    if (source.owned()) {
        co_await source.close();
    }
    if (failure) {
        std::rethrow_exception(failure);
    }
}

template <class T>
generator<T> take_first(generator_source<T> source, std::size_t n) {
    std::exception_ptr failure;
    try {
        for (std::size_t taken = 0; taken < n;) {
            std::optional<T> v = co_await source.pull();
            if (!v) {
                break;
            }
            if (++taken == n && source.owned()) {
                // Nothing more is needed: the input cleans up before the consumer gets the
                // last item, not only when it asks for one more.
                co_await source.close();
            }
            co_yield std::move(*v);
        }
    } catch (...) {
        failure = std::current_exception();
    }
    if (source.owned()) {
        co_await source.close();
    }
    if (failure) {
        std::rethrow_exception(failure);
    }
}

} // namespace detail

/// `[x async for x in gen]`: awaits every remaining value of `gen` and returns them in order.
/// An exception from the generator propagates (the values so far are dropped). Cancellation
/// of the caller reaches the generator's current await (see generator::next); if the body
/// lets it propagate, collect throws it. An owned (rvalue) generator that collect leaves
/// unfinished is closed by its destructor.
template <generator_input G>
awaitable<std::vector<generator_value_t<G>>> collect(G&& gen) {
    return detail::collect_all(detail::source_of(std::forward<G>(gen)));
}

/// `(f(x) async for x in gen)`: a generator of f(value) for each value of `gen`, pulled one at
/// a time as the result is consumed. `f` takes the value (as an rvalue) and returns either a
/// result, or an awaitable<R> that is awaited (an async f, like `await f(x)` in the
/// comprehension). An exception from `gen` or `f` propagates to the consumer. An owned
/// (rvalue) `gen` is closed when the result finishes, fails or is closed: with aclose (its
/// cleanup awaited), except when the result is closed by its destructor, which cannot await
/// (see generator). A borrowed (lvalue) one is left open.
template <generator_input G, class F>
requires std::invocable<F&, generator_value_t<G> &&>
    generator<detail::call_value_t<F, generator_value_t<G>&&>> transform(G&& gen, F f) {
    return detail::transform_all(detail::source_of(std::forward<G>(gen)), std::move(f));
}

/// `(x async for x in gen if pred(x))`: a generator of the values of `gen` for which `pred`
/// (given a const reference) returns true; `pred` may return bool or awaitable<bool>.
/// Errors and closing as for transform.
template <generator_input G, class Pred>
requires std::invocable < Pred&, const generator_value_t<G>
& > generator<generator_value_t<G>> filter(G&& gen, Pred pred) {
    return detail::filter_all(detail::source_of(std::forward<G>(gen)), std::move(pred));
}

/// The first `n` values of `gen` (fewer if it ends first), like itertools.islice(gen, n) for an
/// async generator. Pulls no value beyond the n-th. An owned (rvalue) `gen` is closed as soon
/// as the n-th value has been pulled, before it is handed on, so its cleanup runs even if the
/// consumer never asks for more; a borrowed (lvalue) one stays open, positioned after the
/// values taken. Errors and closing otherwise as for transform.
template <generator_input G>
generator<generator_value_t<G>> take(G&& gen, std::size_t n) {
    return detail::take_first(detail::source_of(std::forward<G>(gen)), n);
}

} // namespace aio

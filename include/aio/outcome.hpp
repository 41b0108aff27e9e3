// aio/outcome.hpp - a value or an exception: what gather(return_exceptions, ...) yields.
#pragma once

#include <aio/error.hpp>

#include <exception>
#include <type_traits>
#include <utility>
#include <variant>

namespace aio {

/// A task's result as a value type: `void` becomes std::monostate (gather's tuple slots).
template <class T>
using result_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

/// The result of one awaitable in gather(return_exceptions, ...): either its value or the
/// exception it ended with (a cancellation included). Mirrors what asyncio puts in the list.
template <class T>
class outcome {
public:
    explicit outcome(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    explicit outcome(std::exception_ptr e) : v_(std::in_place_index<1>, std::move(e)) {}

    bool has_value() const noexcept { return v_.index() == 0; }

    /// The value; rethrows the exception if there is none.
    T& value() & {
        rethrow_if_error();
        return std::get<0>(v_);
    }
    const T& value() const& {
        rethrow_if_error();
        return std::get<0>(v_);
    }
    T&& value() && {
        rethrow_if_error();
        return std::get<0>(std::move(v_));
    }

    /// The exception, or nullptr when there is a value.
    std::exception_ptr exception() const noexcept {
        return has_value() ? nullptr : std::get<1>(v_);
    }

    /// True if the awaitable ended cancelled.
    bool cancelled() const noexcept { return is_cancellation(exception()); }

private:
    void rethrow_if_error() const {
        if (!has_value()) {
            std::rethrow_exception(std::get<1>(v_));
        }
    }

    std::variant<T, std::exception_ptr> v_;
};

} // namespace aio

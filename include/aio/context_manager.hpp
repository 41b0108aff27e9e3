// aio/context_manager.hpp - context_manager<T>: an async context manager written as a generator
// that yields once (Python's @contextlib.asynccontextmanager).
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/generator_promise.hpp>
#include <aio/error.hpp>
#include <aio/generator.hpp>

#include <exception>
#include <optional>
#include <utility>

namespace aio {

/// Python's @asynccontextmanager: the code before the generator's one co_yield is the enter,
/// the yielded value is what aio::with hands to the body (the `as` target), and the code after
/// it is the exit. A function declared to return context_manager<T> is such a generator
/// (its body uses co_yield and co_await as a generator<T>'s does), and any generator<T> can be
/// wrapped: `aio::context_manager(make_generator())`.
///
///   aio::context_manager<connection*> connected(std::string host) {   // @asynccontextmanager
///       connection c = co_await connect(host);                         // c = await connect(host)
///       std::exception_ptr error;                                      // try:
///       try {                                                          //     yield c
///           co_yield &c;                                               // finally:
///       } catch (...) {                                                //     await c.close()
///           error = std::current_exception();
///       }
///       co_await c.close();
///       if (error) {
///           std::rethrow_exception(error);
///       }
///   }
///   co_await aio::with(connected("db"), [](connection* c) -> aio::awaitable<void> {...});
///
/// (C++ has no co_await in a catch block: a `finally` that awaits records the exception, awaits,
/// then rethrows it, as above. Rethrowing the same exception lets it through unchanged.)
///
/// - Enter: async_enter() runs the generator to its co_yield and returns the value (moved out;
///   yield a pointer to an object the generator keeps, as above, to let the body use it in
///   place). A generator that finishes without yielding: invalid_state_error ("didn't yield"),
///   and with() does not call the exit. An exception before the co_yield propagates.
/// - Exit after a body that returned: the generator runs on from its co_yield to its end. If it
///   yields again it is closed (aclose) and invalid_state_error ("didn't stop") is thrown.
/// - Exit after a body that threw, or was cancelled: the exception is thrown into the generator
///   at its co_yield (generator::athrow), so its try/catch around the co_yield sees it - a
///   cancellation as cancelled_error, which `catch (const aio::cancelled_error&)` catches. If
///   the generator lets it out (or rethrows it), with() rethrows it; if it throws another
///   exception, that one replaces it; if it catches it and finishes, the exception is
///   suppressed, as in Python: with() then returns normally (its value a std::optional<T>,
///   empty). If it yields again it is closed and invalid_state_error is thrown.
/// - Cancellation: the exit runs with the task's cancellation cleared (aio::with does that), so
///   the generator's cleanup awaits work; a further cancel() reaches them.
///
/// Single use, as Python's: a second async_enter() finds the generator finished ("didn't
/// yield"). Move-only; loop-affine. Destroying a context_manager whose generator is suspended
/// closes the generator without awaiting (see generator).
///
/// Why a class template and not a function of a generator: the declared return type
/// `aio::context_manager<T>` marks a function as a context manager the way the decorator marks
/// one in Python, so with(f(), body) needs nothing more; the constructor from generator<T> (and
/// its deduction guide) covers a generator that exists already.
template <class T>
class [[nodiscard]] context_manager {
public:
    using value_type = T;
    /// A function returning context_manager<T> is a generator<T> body; its generator<T> converts.
    using promise_type = detail::generator_promise<T>;

    /// Wraps a generator that yields once (implicit: it is how a function declared to return
    /// context_manager<T> gets its result).
    context_manager(generator<T> gen) noexcept : gen_(std::move(gen)) {}

    /// __aenter__: runs the generator to its co_yield and returns the value yielded.
    awaitable<T> async_enter() {
        std::optional<T> value = co_await gen_.next();
        if (!value) {
            throw invalid_state_error("aio: context_manager: the generator didn't yield");
        }
        co_return std::move(*value);
    }

    /// __aexit__: resumes the generator after its co_yield, with the body's exception thrown
    /// there if it has one. Returns true when the generator swallowed that exception (with()
    /// then suppresses it), false otherwise (see the class comment).
    awaitable<bool> async_exit(std::exception_ptr error) {
        if (!error) {
            std::optional<T> again = co_await gen_.next();
            if (again) {
                co_await gen_.aclose();
                throw invalid_state_error("aio: context_manager: the generator didn't stop");
            }
            co_return false;
        }
        std::exception_ptr raised;
        bool yielded_again = false;
        try {
            std::optional<T> again = co_await gen_.athrow(error);
            yielded_again = again.has_value();
        } catch (...) {
            raised = std::current_exception();
        }
        if (yielded_again) {
            co_await gen_.aclose();
            throw invalid_state_error(
                "aio: context_manager: the generator didn't stop after athrow()");
        }
        if (!raised) {
            co_return true; // caught and finished: the body's exception is suppressed
        }
        if (raised == error) {
            co_return false; // let out as it was: with() rethrows it
        }
        std::rethrow_exception(raised);
    }

private:
    generator<T> gen_;
};

template <class T>
context_manager(generator<T>) -> context_manager<T>;

} // namespace aio

// aio/generator.hpp - generator<T>: an async generator (an `async def` that yields).
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/generator_promise.hpp>
#include <aio/detail/state.hpp>
#include <aio/error.hpp>
#include <aio/exception_handler.hpp>

#include <coroutine>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace aio {

/// What closing a generator throws into its body, at the co_yield where it is suspended
/// (Python's GeneratorExit): generator::aclose(), and the destructor of an unfinished
/// generator. It is a cancelled_error, so a body's `catch (const aio::cancelled_error&)`
/// cleanup runs on close as on cancellation; catch generator_exit to tell the two apart.
/// A body may catch it and clean up, but must then finish, not yield again.
class generator_exit : public cancelled_error {
public:
    generator_exit() : cancelled_error("generator closed") {}
};

/// An async generator (Python's `async def` with `yield`): a coroutine whose body uses
/// `co_yield value` and may `co_await` what an aio::awaitable can await - any awaitable<U>
/// (every aio function, Asio operations called with use_awaitable), an Asio async operation
/// (e.g. made with `deferred`), `this_coro::executor`, `this_coro::cancellation_state` and
/// `aio::uncancel()`.
///
///   aio::generator<int> ticks(int n) {
///       for (int i = 0; i < n; ++i) {
///           co_await aio::sleep(10ms);
///           co_yield i;
///       }
///   }
///   auto gen = ticks(3);
///   while (auto v = co_await gen.next()) { use(*v); }
///
/// Lazy: the body runs only inside next() (and aclose()). It runs in the consumer's
/// coroutine: inline, with no suspension at all, from one co_yield to the next when it awaits
/// nothing; its awaits are awaited by next() on the consumer's behalf, so they use the
/// consumer's executor and are cancelled when the consumer is.
///
/// Move-only; T is an object type and may be move-only. Loop-affine. The body keeps its
/// parameters in its frame: pass values, or references that outlive the generator. As with
/// create_task, never call a capturing coroutine lambda inline (`[&]() -> generator<int>
/// {...}()`): the lambda, and with it the captures, is gone when the statement ends.
///
/// Destroying a generator that has started and not finished closes it: its co_yield throws
/// generator_exit, so destructors and catch blocks run - but a destructor cannot await, so
/// an await the body makes while closing throws generator_exit at once (use aclose() to let
/// cleanup await). If the body yields again, or ends with an error other than a
/// cancellation, the running loop's exception handler reports it. A generator must not be
/// destroyed while a next() or aclose() on it is in progress.
template <class T>
class [[nodiscard]] generator {
    static_assert(std::is_object_v<T> && std::is_same_v<T, std::remove_cv_t<T>>,
                  "aio::generator<T>: T must be a non-const object type");

public:
    using value_type = T;
    using promise_type = detail::generator_promise<T>;

    /// An empty generator: next() returns nullopt.
    generator() noexcept = default;
    generator(generator&& other) noexcept : body_(std::exchange(other.body_, {})) {}
    /// Closes the generator held so far (as the destructor does), then takes `other`'s.
    generator& operator=(generator&& other) noexcept {
        if (this != &other) {
            close_now();
            body_ = std::exchange(other.body_, {});
        }
        return *this;
    }
    ~generator() { close_now(); }

    /// asyncio's `await anext(gen)` / `__anext__`: resumes the body until its next co_yield and
    /// returns that value, or nullopt once the body has finished (and on every later call).
    /// An exception the body throws is rethrown here, once; later calls return nullopt.
    /// Returns at once, without suspending, when the body reaches its co_yield without
    /// awaiting; otherwise the caller is resumed as the body's awaits resume it (an aio await:
    /// posted to the loop). Cancellation of the caller: the body's current await is cancelled (it
    /// throws cancelled_error, or operation_aborted for a raw Asio operation); unless the body
    /// catches it, it propagates out of the body and out of next().
    /// Throws invalid_state_error if another next() or aclose() of this generator is still in
    /// progress (asyncio: "asynchronous generator is already running").
    awaitable<std::optional<T>> next() { return detail::advance<T>(body_); }

    /// asyncio's `await gen.aclose()`: if the body is suspended at a co_yield, resumes it with
    /// generator_exit thrown there, and lets it finish - the awaits of its cleanup run here,
    /// in the caller's coroutine. Returns when the body has finished; a generator never
    /// started is closed without running its body; a finished one is left alone. Rethrows an
    /// exception the body ends with, other than generator_exit; throws invalid_state_error if
    /// the body yields again (the generator is then finished; its locals are destroyed with
    /// it) or if a next() is in progress. Cancellation of the caller: the body's cleanup await
    /// throws it, and unless the body catches it, aclose() rethrows it.
    awaitable<void> aclose() { return close(body_); }

    /// asyncio's `await gen.athrow(exc)`: resumes the body with `error` thrown at the co_yield
    /// where it is suspended, so that its try/catch around that co_yield sees it, and returns
    /// what the body does next: the value it yields next, nullopt if it finishes, or the
    /// exception it ends with rethrown (`error` itself when the body does not catch it). A
    /// generator that never started is finished without running its body, and a finished (or
    /// empty) one is left alone: both rethrow `error` (as Python's athrow does). Suspension and
    /// cancellation as for next(); throws invalid_state_error if a next(), aclose() or athrow()
    /// of this generator is in progress.
    awaitable<std::optional<T>> athrow(std::exception_ptr error) {
        return throw_into(body_, std::move(error));
    }

private:
    friend promise_type;
    friend class detail::generator_source<T>;
    using handle = typename promise_type::handle;
    using body_state = detail::body_state;

    explicit generator(handle body) noexcept : body_(body) {}

    /// aclose(). Takes the handle, not `this`: the generator object may move while it runs.
    static awaitable<void> close(handle body) {
        if (!body || body.promise().state() == body_state::finished) {
            co_return;
        }
        promise_type& p = body.promise();
        p.start_running("aclose()");
        if (p.state() == body_state::not_started) {
            p.abandon();
            p.stop_running();
            co_return;
        }
        if (p.state() == body_state::yielded) {
            p.throw_in(std::make_exception_ptr(generator_exit()));
            body.resume();
        }
        if (p.state() == body_state::awaiting) {
            try {
                co_await detail::serve_requests(body);
            } catch (...) {
                p.stop_running();
                throw;
            }
        }
        p.stop_running();
        if (p.state() == body_state::yielded) {
            p.abandon();
            throw invalid_state_error("aio: generator ignored close: it yielded after "
                                      "generator_exit");
        }
        std::exception_ptr e = p.take_error();
        if (e && !is_generator_exit(e)) {
            std::rethrow_exception(e);
        }
    }

    /// athrow(). Takes the handle, not `this`: the generator object may move while it runs.
    static awaitable<std::optional<T>> throw_into(handle body, std::exception_ptr error) {
        if (!body || body.promise().state() == body_state::finished) {
            std::rethrow_exception(error);
        }
        promise_type& p = body.promise();
        p.start_running("athrow()");
        if (p.state() == body_state::not_started) {
            p.abandon();
            p.stop_running();
            std::rethrow_exception(error);
        }
        p.stop_running();
        // next() resumes the body at its co_yield, where the pending exception is thrown; the
        // two steps run with nothing in between, so no other driver can come first.
        p.throw_in(std::move(error));
        co_return co_await detail::advance<T>(body);
    }

    /// Closes without awaiting (destructor, move assignment), then destroys the frame.
    void close_now() noexcept {
        if (!body_) {
            return;
        }
        promise_type& p = body_.promise();
        if (p.state() == body_state::yielded || p.state() == body_state::awaiting) {
            do {
                p.drop_request();
                p.throw_in(std::make_exception_ptr(generator_exit()));
                body_.resume();
            } while (p.state() == body_state::awaiting);
            if (p.state() == body_state::yielded) {
                detail::report_here({"an asynchronous generator ignored close: it yielded after "
                                     "generator_exit",
                                     nullptr,
                                     {}});
            } else if (std::exception_ptr e = p.take_error(); e && !is_cancellation(e)) {
                detail::report_here(
                    {"an error occurred during closing of an asynchronous generator", e, {}});
            }
        }
        body_.destroy();
        body_ = {};
    }

    static bool is_generator_exit(const std::exception_ptr& e) noexcept {
        try {
            std::rethrow_exception(e);
        } catch (const generator_exit&) {
            return true;
        } catch (...) {
            return false;
        }
    }

    handle body_;
};

} // namespace aio

// aio/detail/generator_promise.hpp - the coroutine type behind aio::generator<T>: how its body
// yields, how an await in its body is handed over to the coroutine that drives it, and next().
#pragma once

#include <aio/awaitable.hpp>
#include <aio/error.hpp>
#include <aio/outcome.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <concepts>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace aio {
template <class T>
class generator;
} // namespace aio

namespace aio::detail {

template <class T>
class generator_promise;
template <class T>
using generator_handle = std::coroutine_handle<generator_promise<T>>;
template <class T>
awaitable<std::optional<T>> advance(generator_handle<T> body);
template <class T>
class generator_source;

/// Where a generator body stands while it is suspended.
enum class body_state : std::uint8_t {
    not_started, ///< before its first statement (generators are lazy)
    yielded,     ///< at a co_yield; yielded_ points at the value
    awaiting,    ///< at a co_await; its driver must serve the request, then resume the body
    finished,    ///< returned or threw (the exception is kept until the driver takes it)
};

/// The this_coro tags a generator body may await. The driver answers them with the same
/// await in its own coroutine, where (as in any awaitable) they neither suspend nor throw.
enum class driver_query : std::uint8_t {
    none, ///< the body awaits a request, not a query
    executor,
    cancellation_state,
    reset_cancellation_state,
};

/// In a generator body: `co_await next_value<T>{upstream}` is `co_await upstream.next()`
/// without the trampoline - the upstream body is resumed inline, right there. Comprehensions
/// pull their input this way.
template <class T>
struct next_value {
    generator_handle<T> upstream;
};

/// The promise of a generator<T> body.
///
/// A body cannot co_await an Asio awaitable itself (Asio only lets an awaitable be awaited by
/// another awaitable). So an await in the body is a request: the body parks it
/// here and suspends, back to whoever resumed it - the driver, which is generator::next() or
/// aclose(), an ordinary awaitable running in the consumer's coroutine. The driver co_awaits
/// the request there (so it inherits the consumer's executor and cancellation), then resumes
/// the body, whose await returns the result or throws what the request threw. A this_coro tag
/// is a query the driver answers the same way. A co_yield simply suspends with a pointer to
/// the value: the driver returns it without any suspension.
template <class T>
class generator_promise {
public:
    using handle = generator_handle<T>;

    // --- the coroutine's side ---

    generator<T> get_return_object() noexcept { return generator<T>(handle::from_promise(*this)); }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    std::suspend_always final_suspend() noexcept {
        state_ = body_state::finished;
        return {};
    }
    void return_void() const noexcept {}
    void unhandled_exception() noexcept { error_ = std::current_exception(); }

    /// co_yield of an rvalue: the driver moves the value out of the body's own temporary.
    class yield_awaiter {
    public:
        yield_awaiter(generator_promise& p, T& value) noexcept : promise_(p), value_(value) {}
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<>) noexcept { promise_.suspend_at_yield(value_); }
        void await_resume() { promise_.rethrow_thrown_in(); }

    private:
        generator_promise& promise_;
        T& value_;
    };

    /// co_yield of an lvalue: the body keeps its object, the driver moves out of a copy.
    class yield_copy_awaiter {
    public:
        yield_copy_awaiter(generator_promise& p, const T& value) : promise_(p), copy_(value) {}
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<>) noexcept { promise_.suspend_at_yield(copy_); }
        void await_resume() { promise_.rethrow_thrown_in(); }

    private:
        generator_promise& promise_;
        T copy_;
    };

    yield_awaiter yield_value(T&& value) noexcept { return {*this, value}; }
    yield_copy_awaiter yield_value(const T& value) requires std::copy_constructible<T> {
        return {*this, value};
    }

    /// An await in the body: parks `operand` as the request and suspends; returns its result
    /// (or throws its exception) once the driver has run it.
    template <class U>
    class request_awaiter {
    public:
        request_awaiter(generator_promise& p, awaitable<U> operand) noexcept
            : promise_(p), operand_(std::move(operand)) {}
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<>) {
            if constexpr (std::is_void_v<U>) {
                promise_.suspend_at_await(std::move(operand_));
            } else {
                promise_.suspend_at_await(store_result(std::move(operand_), result_));
            }
        }
        U await_resume() {
            promise_.rethrow_thrown_in();
            if constexpr (!std::is_void_v<U>) {
                return std::move(*result_);
            }
        }

    private:
        generator_promise& promise_;
        awaitable<U> operand_;
        std::optional<result_t<U>> result_;
    };

    template <class U>
    request_awaiter<U> await_transform(awaitable<U> operand) noexcept {
        return {*this, std::move(operand)};
    }
    /// An Asio async operation (e.g. made with `deferred`) is awaited with use_awaitable.
    template <class Op>
    requires boost::asio::is_async_operation<Op>::value auto await_transform(Op&& op) {
        return await_transform(std::forward<Op>(op)(boost::asio::use_awaitable));
    }

    /// A this_coro tag in the body: suspends with the query; returns what the driver answered.
    template <driver_query Query>
    class query_awaiter {
    public:
        explicit query_awaiter(generator_promise& p) noexcept : promise_(p) {}
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<>) noexcept { promise_.suspend_at_query(Query); }
        auto await_resume() {
            promise_.rethrow_thrown_in();
            if constexpr (Query == driver_query::executor) {
                return promise_.driver_executor_;
            } else if constexpr (Query == driver_query::cancellation_state) {
                return promise_.driver_cancellation_;
            }
        }

    private:
        generator_promise& promise_;
    };

    auto await_transform(boost::asio::this_coro::executor_t) noexcept {
        return query_awaiter<driver_query::executor>(*this);
    }
    auto await_transform(boost::asio::this_coro::cancellation_state_t) noexcept {
        return query_awaiter<driver_query::cancellation_state>(*this);
    }
    auto await_transform(boost::asio::this_coro::reset_cancellation_state_0_t) noexcept {
        return query_awaiter<driver_query::reset_cancellation_state>(*this);
    }

    /// `co_await next_value<U>{upstream}`: the fast path of next() run inside this body. When
    /// the upstream body reaches its co_yield (or its end) without awaiting, the value is
    /// there at once and this body does not suspend; when it awaits, the rest of the upstream
    /// next() becomes this body's request.
    template <class U>
    class next_value_awaiter {
    public:
        next_value_awaiter(generator_promise& p, generator_handle<U> upstream) noexcept
            : promise_(p), upstream_(upstream) {}
        bool await_ready() {
            if (!upstream_ || upstream_.promise().state() == body_state::finished) {
                return true; // ended: nullopt
            }
            auto& up = upstream_.promise();
            up.start_running("next()");
            up.resume_unless_awaiting();
            up.stop_running();
            if (up.state() == body_state::yielded) {
                result_.emplace(up.take_yielded());
                return true;
            }
            if (up.state() == body_state::finished) {
                error_ = up.take_error();
                return true;
            }
            return false;
        }
        void await_suspend(std::coroutine_handle<>) {
            promise_.suspend_at_await(finish_next(upstream_, result_));
        }
        std::optional<U> await_resume() {
            promise_.rethrow_thrown_in();
            if (error_) {
                std::rethrow_exception(std::exchange(error_, nullptr));
            }
            return std::move(result_);
        }

    private:
        static awaitable<void> finish_next(generator_handle<U> upstream, std::optional<U>& out) {
            out = co_await advance<U>(upstream);
        }

        generator_promise& promise_;
        generator_handle<U> upstream_;
        std::optional<U> result_;
        std::exception_ptr error_;
    };

    template <class U>
    next_value_awaiter<U> await_transform(next_value<U> pull) noexcept {
        return {*this, pull.upstream};
    }

    // --- the driver's side (next, aclose, the destructor) ---

    body_state state() const noexcept { return state_; }

    /// Resumes the body, unless it is parked at an await: that one must be served first.
    void resume_unless_awaiting() {
        if (state_ != body_state::awaiting) {
            handle::from_promise(*this).resume();
        }
    }

    /// The value of the co_yield the body is suspended at, moved out.
    T take_yielded() noexcept(std::is_nothrow_move_constructible_v<T>) {
        return std::move(*yielded_);
    }

    /// The this_coro query the body is suspended on, or none when it awaits a request.
    driver_query query() const noexcept { return query_; }
    void answer(boost::asio::any_io_executor ex) noexcept { driver_executor_ = std::move(ex); }
    void answer(boost::asio::cancellation_state cs) noexcept { driver_cancellation_ = cs; }

    /// The awaitable the body is suspended on (moved out: the driver co_awaits it once).
    awaitable<void> take_request() noexcept { return std::move(request_); }

    /// Drops a request without running it (a generator closed by its destructor cannot await).
    void drop_request() noexcept {
        // Moved into a local, not assigned over: Asio 1.81's awaitable move assignment does not
        // destroy the frame it replaces.
        awaitable<void> dropped(std::move(request_));
    }

    /// Makes the suspension point the body is at throw `e` when resumed: a request that
    /// failed, or the close signal at a co_yield.
    void throw_in(std::exception_ptr e) noexcept { thrown_in_ = std::move(e); }

    /// The exception the body ended with (once), or nullptr.
    std::exception_ptr take_error() noexcept { return std::exchange(error_, nullptr); }

    /// Ends the generator without resuming its body (never started, or it ignored close); the
    /// frame and the locals it still holds are destroyed with the generator.
    void abandon() noexcept { state_ = body_state::finished; }

    /// Marks the generator as driven by next() or aclose() until stop_running(); a second
    /// driver meanwhile gets invalid_state_error (asyncio: "asynchronous generator is already
    /// running"). A pair of calls rather than an RAII guard: a guard in next()'s coroutine frame
    /// cost ~10% of its fast path (measured with GCC 12).
    void start_running(const char* operation) {
        if (running_) {
            throw_already_running(operation);
        }
        running_ = true;
    }
    void stop_running() noexcept { running_ = false; }

private:
    template <class U>
    static awaitable<void> store_result(awaitable<U> operand, std::optional<result_t<U>>& out) {
        out.emplace(co_await std::move(operand));
    }

    void suspend_at_yield(T& value) noexcept {
        yielded_ = std::addressof(value);
        state_ = body_state::yielded;
    }
    void suspend_at_await(awaitable<void> request) noexcept {
        request_ = std::move(request); // request_ is empty: the last one was taken or dropped
        query_ = driver_query::none;
        state_ = body_state::awaiting;
    }
    void suspend_at_query(driver_query query) noexcept {
        query_ = query;
        state_ = body_state::awaiting;
    }
    [[noreturn]] static void throw_already_running(const char* operation) {
        throw invalid_state_error(std::string("aio: ") + operation +
                                  ": the generator is already running");
    }
    void rethrow_thrown_in() {
        if (thrown_in_) {
            std::rethrow_exception(std::exchange(thrown_in_, nullptr));
        }
    }

    body_state state_ = body_state::not_started;
    bool running_ = false;
    T* yielded_ = nullptr;
    awaitable<void> request_;
    driver_query query_ = driver_query::none;
    boost::asio::any_io_executor driver_executor_;
    boost::asio::cancellation_state driver_cancellation_;
    std::exception_ptr thrown_in_;
    std::exception_ptr error_;
};

/// Serves the body's awaits in the calling coroutine (the driver), resuming the body after
/// each, until it yields or ends.
template <class T>
awaitable<void> serve_requests(generator_handle<T> body) {
    generator_promise<T>& p = body.promise();
    while (p.state() == body_state::awaiting) {
        switch (p.query()) {
        case driver_query::none:
            try {
                co_await p.take_request();
            } catch (...) {
                p.throw_in(std::current_exception());
            }
            break;
        case driver_query::executor:
            p.answer(co_await boost::asio::this_coro::executor);
            break;
        case driver_query::cancellation_state:
            p.answer(co_await boost::asio::this_coro::cancellation_state);
            break;
        case driver_query::reset_cancellation_state:
            co_await boost::asio::this_coro::reset_cancellation_state();
            break;
        }
        body.resume();
    }
}

/// generator<T>::next(). Takes the handle, not the generator: the generator object may move
/// while it runs.
template <class T>
awaitable<std::optional<T>> advance(generator_handle<T> body) {
    if (!body || body.promise().state() == body_state::finished) {
        co_return std::nullopt;
    }
    generator_promise<T>& p = body.promise();
    p.start_running("next()");
    p.resume_unless_awaiting();
    if (p.state() == body_state::awaiting) {
        try {
            co_await serve_requests(body);
        } catch (...) {
            p.stop_running();
            throw;
        }
    }
    p.stop_running();
    if (p.state() == body_state::yielded) {
        co_return std::optional<T>(p.take_yielded());
    }
    if (std::exception_ptr e = p.take_error()) {
        std::rethrow_exception(e);
    }
    co_return std::nullopt;
}

} // namespace aio::detail

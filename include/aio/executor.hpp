// aio/executor.hpp - the bridges to threads: run_in_executor, to_thread, call_soon_threadsafe,
// run_coroutine_threadsafe.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/core.hpp>
#include <aio/detail/suspend.hpp>
#include <aio/loop.hpp>
#include <aio/task.hpp>

#include <boost/asio/execution/executor.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/is_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>

#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

namespace aio {

namespace detail {

/// One call handed to another thread. The worker writes value/error, then posts complete() to
/// the loop; the loop side (waiter) is touched on the loop thread only.
template <class R>
struct executor_job {
    std::optional<result_t<R>> value;
    std::exception_ptr error;
    waiter* parked = nullptr;

    void complete() {
        if (waiter* w = std::exchange(parked, nullptr)) {
            w->wake();
        }
    }
};

/// The awaiting side of a job: cancelling the awaiting task stops waiting (the call itself runs
/// on; its result is dropped, as asyncio drops the result of a cancelled executor future).
template <class R>
class job_waiter final : public waiter {
public:
    explicit job_waiter(executor_job<R>& job) : job_(job) { job_.parked = this; }
    ~job_waiter() { job_.parked = nullptr; }
    void on_cancel() override {
        job_.parked = nullptr;
        wake();
    }

private:
    executor_job<R>& job_;
};

template <class E>
concept any_executor = boost::asio::execution::executor<E> || boost::asio::is_executor<E>::value;

template <class E>
auto executor_of(E& e) {
    if constexpr (std::is_base_of_v<boost::asio::execution_context, E>) {
        return e.get_executor();
    } else {
        return e;
    }
}

} // namespace detail

/// Something run_in_executor can run on: an Asio executor, or an execution context with one
/// (boost::asio::thread_pool, another io_context).
template <class E>
concept executor_like = detail::any_executor<E> ||
    std::is_base_of_v<boost::asio::execution_context, std::remove_cvref_t<E>>;

/// loop.run_in_executor: calls f(args...) on `ex` (an Asio executor or a thread pool) and
/// returns its result on the loop, or rethrows its exception there. Arguments are copied (or
/// moved) into the call, as Python passes them. Cancellation of the caller: throws
/// cancelled_error at once; the call runs on to its end (threads cannot be interrupted) and its
/// result is dropped. aio::run waits for such calls at shutdown (run_options::shutdown_timeout).
template <class Executor, class F, class... Args>
requires executor_like<Executor> && std::invocable<F&, Args&...>
    awaitable<std::invoke_result_t<F&, Args&...>> run_in_executor(Executor& ex, F f, Args... args) {
    using R = std::invoke_result_t<F&, Args&...>;
    auto core = detail::require_running_loop().shared_from_this();
    auto shared = std::make_shared<detail::executor_job<R>>();
    detail::job_waiter<R> w(*shared);
    core->job_started();
    boost::asio::post(
        detail::executor_of(ex),
        [shared, core, f = std::move(f), args = std::make_tuple(std::move(args)...)]() mutable {
            try {
                if constexpr (std::is_void_v<R>) {
                    std::apply(f, args);
                    shared->value.emplace();
                } else {
                    shared->value.emplace(std::apply(f, args));
                }
            } catch (...) {
                shared->error = std::current_exception();
            }
            // The job (and an exception in it) is handed over whole: its last reference is
            // dropped on the loop, never here, so no exception object is freed by this thread
            // while the loop may still be reading it.
            core->post_threadsafe([job = std::move(shared)] { job->complete(); });
            core->job_finished();
        });
    co_await detail::suspend(w);
    auto cs = co_await boost::asio::this_coro::cancellation_state;
    detail::check_cancelled(cs);
    if (shared->error) {
        std::rethrow_exception(shared->error);
    }
    if constexpr (!std::is_void_v<R>) {
        co_return std::move(*shared->value);
    }
}

/// run_in_executor for an executor passed by value (e.g. pool.get_executor()).
template <class Executor, class F, class... Args>
requires detail::any_executor<Executor> && std::invocable<F&, Args&...>
    awaitable<std::invoke_result_t<F&, Args&...>> run_in_executor(const Executor& ex, F f,
                                                                  Args... args) {
    Executor copy = ex;
    co_return co_await run_in_executor(copy, std::move(f), std::move(args)...);
}

/// asyncio.to_thread: run_in_executor on the loop's default pool (loop::default_executor).
template <class F, class... Args>
requires std::invocable<F&, Args&...> awaitable<std::invoke_result_t<F&, Args&...>>
to_thread(F f, Args... args) {
    return run_in_executor(detail::require_running_loop().default_pool(), std::move(f),
                           std::move(args)...);
}

/// From any thread: runs fn on `lp` soon. Throws std::runtime_error if the loop is closed.
template <class F>
void call_soon_threadsafe(const loop& lp, F&& fn) {
    lp.call_soon_threadsafe(std::forward<F>(fn));
}

/// asyncio.run_coroutine_threadsafe: from a thread that is not the loop's, runs `aw` as a task
/// on `lp` and returns a std::future of its result (its exception, or cancelled_error if the
/// task is cancelled - for instance by the loop's shutdown). Throws std::runtime_error if the
/// loop is closed. If the loop stops hard before the task ends, the future gets
/// std::future_error (broken_promise).
template <class T>
std::future<T> run_coroutine_threadsafe(awaitable<T> aw, const loop& lp) {
    auto promise = std::make_shared<std::promise<T>>();
    std::future<T> result = promise->get_future();
    lp.call_soon_threadsafe([aw = std::move(aw), promise]() mutable {
        task<T> t = create_task(std::move(aw));
        t.add_done_callback([promise, t](any_task) {
            try {
                if constexpr (std::is_void_v<T>) {
                    t.result();
                    promise->set_value();
                } else {
                    promise->set_value(t.result());
                }
            } catch (...) {
                promise->set_exception(std::current_exception());
            }
        });
    });
    return result;
}

} // namespace aio

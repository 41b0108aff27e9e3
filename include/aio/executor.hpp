// aio/executor.hpp - the bridges to threads: run_in_executor, to_thread, call_soon_threadsafe,
// run_coroutine_threadsafe.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/state.hpp>
#include <aio/error.hpp>
#include <aio/exception_handler.hpp>
#include <aio/future.hpp>
#include <aio/loop.hpp>
#include <aio/outcome.hpp>
#include <aio/task.hpp>

#include <boost/asio/execution/executor.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/is_executor.hpp>
#include <boost/asio/post.hpp>

#include <cstddef>
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

/// One call handed to another thread and back, owned by one thread at a time: the loop creates
/// it, the executor's thread runs the call and stores its result, then posts the job, whole,
/// back to the loop, which sets the future and destroys the job. The future (loop-affine, not
/// thread-safe) is only touched on the loop; the exception object too is released there, where
/// the loop may have been reading it (libstdc++'s exception_ptr count is invisible to TSan).
template <class R>
class executor_job final : public handed_over {
public:
    explicit executor_job(future<R> result) noexcept : result_(std::move(result)) {}
    executor_job(const executor_job&) = delete;
    executor_job& operator=(const executor_job&) = delete;

    /// A job destroyed before its completion ran (the loop's close destroys what is still
    /// queued, such as the completion of a job that ended while run waited for executor jobs)
    /// can no longer set its future: a failure is reported here instead of being lost.
    ~executor_job() {
        if (!completed_ && error_ && !dropped_) {
            report_here({"Future exception was never retrieved", error_, "run_in_executor"});
        }
    }

    // --- the executor's thread, before the job is handed back ---

    template <class F, class Tuple>
    void run(F& f, Tuple& args) noexcept {
        try {
            if constexpr (std::is_void_v<R>) {
                std::apply(f, args);
                value_.emplace();
            } else {
                value_.emplace(std::apply(f, args));
            }
        } catch (...) {
            error_ = std::current_exception();
        }
    }
    /// The executor destroyed the job without running it (a pool stopped or destroyed first):
    /// the future is cancelled, as shutdown(cancel_futures=True) cancels pending futures.
    void drop() noexcept { dropped_ = true; }

    // --- the loop ---

    /// On the loop: completes the future and frees the job.
    void run_on_loop() noexcept override {
        try {
            complete();
        } catch (...) {
            report_here({"exception completing an executor job", std::current_exception(), {}});
        }
        delete this;
    }
    /// The loop closed before the job's completion ran (see the destructor).
    void discard() noexcept override { delete this; }

    /// Sets the future, unless it was cancelled meanwhile (its awaiter was): then the result,
    /// value or exception, is dropped, as asyncio drops it.
    void complete() {
        completed_ = true;
        if (result_.done()) {
            return;
        }
        if (dropped_) {
            result_.cancel();
        } else if (error_) {
            result_.set_exception(error_);
        } else if constexpr (std::is_void_v<R>) {
            result_.set_result();
        } else {
            result_.set_result(std::move(*value_));
        }
    }

private:
    future<R> result_;
    std::optional<result_t<R>> value_;
    std::exception_ptr error_;
    bool dropped_ = false;
    bool completed_ = false;
};

/// What the executor runs: the call with its own copies of the arguments. Runs the call, or,
/// destroyed unrun, drops the job; either way hands the job back to the loop and counts it
/// finished, so that neither an awaiter nor shutdown waits for a call that will never run.
template <class R, class F, class Args>
class job_submission {
public:
    job_submission(std::unique_ptr<executor_job<R>> job, std::shared_ptr<loop_core> loop, F f,
                   Args args)
        : job_(std::move(job)), loop_(std::move(loop)), f_(std::move(f)), args_(std::move(args)) {}
    job_submission(job_submission&&) = default; // leaves job_ empty
    job_submission& operator=(job_submission&&) = delete;
    ~job_submission() {
        if (job_) {
            job_->drop();
            hand_back();
        }
    }

    void operator()() {
        job_->run(f_, args_);
        hand_back();
    }

private:
    void hand_back() {
        std::shared_ptr<loop_core> loop = std::move(loop_);
        if (loop->hand_over(*job_)) {
            job_.release(); // the loop frees it once it has run
        } else {
            // The loop closed before the call ended (it outlived shutdown_timeout; run reported
            // that). The job refers to a loop-affine future that the loop's thread may still
            // hold: it is kept (unfreed, still reachable) rather than freed here, as the
            // abandoned pool is.
            loop_core::keep_forever(std::shared_ptr<void>(std::move(job_)));
        }
        loop->job_finished();
    }

    std::unique_ptr<executor_job<R>> job_;
    std::shared_ptr<loop_core> loop_;
    F f_;
    Args args_;
};

/// Posts f(args...) to `ex` now and returns the future of its result.
template <class Executor, class F, class... Args>
future<std::invoke_result_t<F&, Args&...>> submit_job(const Executor& ex, F f, Args... args) {
    using R = std::invoke_result_t<F&, Args&...>;
    loop_core& core = require_running_loop();
    future<R> result{loop(core.shared_from_this())};
    core.job_started();
    boost::asio::post(ex, job_submission<R, F, std::tuple<Args...>>(
                              std::make_unique<executor_job<R>>(result), core.shared_from_this(),
                              std::move(f), std::make_tuple(std::move(args)...)));
    return result;
}

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

/// loop.run_in_executor: submits f(args...) to `ex` (an Asio executor or a thread pool; nullptr
/// for the loop's default pool, asyncio's None) at once, and returns the future of its result,
/// awaited as `co_await f()`: the value on the loop, or the exception rethrown there. Arguments
/// are copied (or moved) into the call, as Python passes them.
///
///   int v = co_await aio::run_in_executor(nullptr, blocking)();   // submit and wait
///   aio::future<int> job = aio::run_in_executor(pool, blocking);  // submitted now...
///   int w = co_await job();                                       // ...awaited later, or never
///
/// The call runs whether or not the future is ever awaited; a failure nobody retrieved is
/// reported when the last handle to the future is gone (asyncio's "Future exception was never
/// retrieved"). Cancellation of a task awaiting `job()`: the await throws cancelled_error at
/// once and the future is cancelled (as asyncio does); the call runs on to its end (threads
/// cannot be interrupted) and its result, value or exception, is dropped. Await
/// `aio::shield(job)` to stop waiting without cancelling the future. The future is not a task:
/// run's shutdown does not cancel it, and waits for every call still running, on any executor
/// (run_options::shutdown_timeout). job.cancel() marks the future cancelled but does not stop
/// a call that has not started yet: Asio's pools cannot take a posted call back. An executor
/// that destroys the call without running it (a pool stopped first) cancels the future. Throws
/// std::logic_error outside a running loop (nothing is submitted).
///
/// Why a future and not an awaitable: asyncio returns a Future, and only a future lets a port
/// keep its shape where the result outlives one await - shield it, await it from several tasks,
/// await it again after a cancelled await (the shutdown pattern of
/// examples/book_executor_shutdown), test done(), add a done callback - with the reporting of
/// a lost failure that every aio future has. The price is the `()` of every aio future at
/// `co_await run_in_executor(...)()`; to_thread, the usual way to call a blocking function, is
/// awaited without it.
template <class Executor, class F, class... Args>
requires executor_like<Executor> && std::invocable<F&, Args&...>
    future<std::invoke_result_t<F&, Args&...>> run_in_executor(Executor& ex, F f, Args... args) {
    return detail::submit_job(detail::executor_of(ex), std::move(f), std::move(args)...);
}

/// run_in_executor for an executor passed by value (e.g. pool.get_executor()).
template <class Executor, class F, class... Args>
requires detail::any_executor<Executor> && std::invocable<F&, Args&...>
    future<std::invoke_result_t<F&, Args&...>> run_in_executor(const Executor& ex, F f,
                                                               Args... args) {
    return detail::submit_job(ex, std::move(f), std::move(args)...);
}

/// run_in_executor(nullptr, ...): on the loop's default pool (loop::default_executor), as
/// asyncio's run_in_executor(None, ...).
template <class F, class... Args>
requires std::invocable<F&, Args&...> future<std::invoke_result_t<F&, Args&...>>
run_in_executor(std::nullptr_t, F f, Args... args) {
    return detail::submit_job(detail::require_running_loop().default_pool().get_executor(),
                              std::move(f), std::move(args)...);
}

/// asyncio.to_thread: f(args...) on the loop's default pool (loop::default_executor), awaited
/// as `co_await aio::to_thread(f, args...)`. Unlike run_in_executor, and like asyncio's
/// to_thread (a coroutine), it is lazy: the call is submitted when the awaitable is first
/// resumed - when awaited, or made a task (gather does) - and never if the awaitable is
/// destroyed unawaited. Arguments and errors as for run_in_executor. Cancellation of the
/// awaiting task: throws cancelled_error at once; the call runs on and its result is dropped.
/// run waits for the call at shutdown. Outside a running loop, the await throws
/// std::logic_error.
template <class F, class... Args>
requires std::invocable<F&, Args&...> awaitable<std::invoke_result_t<F&, Args&...>>
to_thread(F f, Args... args) {
    // The call is made in a statement of its own: GCC 12 destroys a lambda argument twice
    // when it is passed inside a co_await expression.
    auto result = run_in_executor(nullptr, std::move(f), std::move(args)...);
    co_return co_await result();
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

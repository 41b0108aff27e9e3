// aio/executor.hpp - the bridges to threads: run_in_executor, to_thread, call_soon_threadsafe,
// run_coroutine_threadsafe.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/core.hpp>
#include <aio/detail/suspend.hpp>
#include <aio/error.hpp>
#include <aio/exception_handler.hpp>
#include <aio/loop.hpp>
#include <aio/outcome.hpp>
#include <aio/task.hpp>

#include <boost/asio/execution/executor.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/is_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>

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

/// One call handed to another thread: its result, and the loop's side of it. Shared by three
/// owners: the submission the executor runs (until it hands the job back), the completion it
/// posts to the loop, and the awaitable that reads the result. The worker writes the result
/// before it posts the completion and then lets go; everything else is touched on the loop's
/// thread only, so the last reference drops there - and with it the exception object, which
/// the loop may have been reading (libstdc++'s exception_ptr count is invisible to TSan).
template <class R>
class executor_job {
public:
    explicit executor_job(std::shared_ptr<loop_core> loop) noexcept : loop_(std::move(loop)) {}
    executor_job(const executor_job&) = delete;
    executor_job& operator=(const executor_job&) = delete;

    /// A job that failed and was never awaited is reported (asyncio: "Future exception was
    /// never retrieved"); one whose await was cancelled is not (asyncio drops the result of a
    /// cancelled executor future). Runs on the loop's thread but in one case: the loop closed
    /// before the job ended (it outlived shutdown_timeout), when it runs on the worker, which
    /// writes to stderr instead of calling the loop's handler.
    ~executor_job() {
        if (error_ && !awaited_ && !is_cancellation(error_)) {
            exception_context ctx{"Future exception was never retrieved", error_,
                                  "run_in_executor"};
            if (running_loop == loop_.get()) {
                loop_->report(ctx);
            } else {
                default_exception_handler(ctx);
            }
        }
    }

    // --- the worker's side, before it hands the job back ---

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
    /// awaiting it throws cancelled_error, as a future cancelled by shutdown(cancel_futures).
    void dropped() noexcept { error_ = std::make_exception_ptr(cancelled_error()); }

    const std::shared_ptr<loop_core>& loop() const noexcept { return loop_; }

    // --- the loop's side ---

    /// The completion the worker posted: the result is there.
    void complete() {
        done_ = true;
        if (waiter* w = std::exchange(parked_, nullptr)) {
            w->wake();
        }
    }
    bool done() const noexcept { return done_; }
    /// Someone awaits the result: from now on an error is theirs, not the loop's to report.
    void mark_awaited() noexcept { awaited_ = true; }
    void park(waiter* w) noexcept { parked_ = w; }

    /// The value, or the exception rethrown.
    R take() {
        if (error_) {
            std::rethrow_exception(error_);
        }
        if constexpr (!std::is_void_v<R>) {
            return std::move(*value_);
        }
    }

private:
    std::shared_ptr<loop_core> loop_;
    std::optional<result_t<R>> value_;
    std::exception_ptr error_;
    waiter* parked_ = nullptr;
    bool done_ = false;
    bool awaited_ = false;
};

/// What the executor runs: the call with its own copies of the arguments. Runs the call, or,
/// destroyed unrun, marks the job dropped; either way hands the job back to the loop and
/// counts it finished, so neither an awaiter nor shutdown waits for a job that will never run.
template <class R, class F, class Args>
class job_submission {
public:
    job_submission(std::shared_ptr<executor_job<R>> job, F f, Args args)
        : job_(std::move(job)), f_(std::move(f)), args_(std::move(args)) {}
    job_submission(job_submission&&) = default; // leaves job_ empty
    job_submission& operator=(job_submission&&) = delete;
    ~job_submission() {
        if (job_) {
            job_->dropped();
            hand_back();
        }
    }

    void operator()() {
        job_->run(f_, args_);
        hand_back();
    }

private:
    /// Posts the job, whole, to the loop: the worker keeps no reference to it.
    void hand_back() {
        std::shared_ptr<loop_core> loop = job_->loop();
        loop->post_threadsafe([job = std::move(job_)] { job->complete(); });
        loop->job_finished();
    }

    std::shared_ptr<executor_job<R>> job_;
    F f_;
    Args args_;
};

/// The awaiting side of a job: cancelling the awaiting task stops waiting (the call itself runs
/// on; its result is dropped, as asyncio drops the result of a cancelled executor future).
template <class R>
class job_waiter final : public waiter {
public:
    explicit job_waiter(executor_job<R>& job) : job_(job) { job_.park(this); }
    ~job_waiter() { job_.park(nullptr); }
    void on_cancel() override {
        job_.park(nullptr);
        wake();
    }

private:
    executor_job<R>& job_;
};

/// The awaitable run_in_executor returns: the job is running already; this waits for it.
template <class R>
awaitable<R> await_job(std::shared_ptr<executor_job<R>> job) {
    job->mark_awaited();
    if (!job->done()) {
        job_waiter<R> w(*job);
        co_await suspend(w);
        auto cs = co_await boost::asio::this_coro::cancellation_state;
        check_cancelled(cs);
    }
    co_return job->take();
}

/// Posts f(args...) to `ex` now and returns the awaitable of its result.
template <class Executor, class F, class... Args>
awaitable<std::invoke_result_t<F&, Args&...>> submit_job(const Executor& ex, F f, Args... args) {
    using R = std::invoke_result_t<F&, Args&...>;
    loop_core& loop = require_running_loop();
    auto job = std::make_shared<executor_job<R>>(loop.shared_from_this());
    awaitable<R> result = await_job<R>(job);
    loop.job_started();
    boost::asio::post(ex, job_submission<R, F, std::tuple<Args...>>(
                              std::move(job), std::move(f), std::make_tuple(std::move(args)...)));
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
/// for the loop's default pool, asyncio's None) at once, and returns an awaitable of its result:
/// awaited, it returns the value on the loop or rethrows the exception there. Arguments are
/// copied (or moved) into the call, as Python passes them.
///
///   co_await aio::run_in_executor(nullptr, blocking);    // submit and wait
///   auto job = aio::run_in_executor(pool, blocking);     // submitted now...
///   co_await std::move(job);                             // ...awaited later (once), or never
///
/// The call runs whether or not the awaitable is ever awaited; if it fails and nobody awaited it,
/// its exception is reported through the loop's exception handler (asyncio's "Future exception
/// was never retrieved") once the job has ended and the awaitable is gone. Cancellation of the
/// awaiting task: throws cancelled_error at once; the call runs on to its end (threads cannot be
/// interrupted) and its result, value or exception, is dropped. An executor that destroys the
/// job without running it (a pool stopped first) makes the await throw cancelled_error.
/// aio::run waits for running calls at shutdown (run_options::shutdown_timeout). Throws
/// std::logic_error outside a running loop (nothing is submitted).
///
/// Why an awaitable and not an aio::future (what asyncio returns): `co_await
/// aio::run_in_executor(...)`, the common form, keeps its spelling (a future is awaited as
/// `co_await f()`), and the result goes wherever an awaitable goes (gather, wait_for,
/// create_task). A handle with done(), add_done_callback() or a result awaited by several
/// tasks is one step away: `aio::create_task(aio::run_in_executor(...))`. What a future would
/// add - cancel() of a job not yet started - the thread pools aio accepts cannot offer.
template <class Executor, class F, class... Args>
requires executor_like<Executor> && std::invocable<F&, Args&...>
    awaitable<std::invoke_result_t<F&, Args&...>> run_in_executor(Executor& ex, F f, Args... args) {
    return detail::submit_job(detail::executor_of(ex), std::move(f), std::move(args)...);
}

/// run_in_executor for an executor passed by value (e.g. pool.get_executor()).
template <class Executor, class F, class... Args>
requires detail::any_executor<Executor> && std::invocable<F&, Args&...>
    awaitable<std::invoke_result_t<F&, Args&...>> run_in_executor(const Executor& ex, F f,
                                                                  Args... args) {
    return detail::submit_job(ex, std::move(f), std::move(args)...);
}

/// run_in_executor(nullptr, ...): on the loop's default pool (loop::default_executor), as
/// asyncio's run_in_executor(None, ...).
template <class F, class... Args>
requires std::invocable<F&, Args&...> awaitable<std::invoke_result_t<F&, Args&...>>
run_in_executor(std::nullptr_t, F f, Args... args) {
    return detail::submit_job(detail::require_running_loop().default_pool().get_executor(),
                              std::move(f), std::move(args)...);
}

/// asyncio.to_thread: f(args...) on the loop's default pool (loop::default_executor). Unlike
/// run_in_executor, and like asyncio's to_thread (a coroutine), it is lazy: the call is
/// submitted when the awaitable is first resumed - when awaited, or made a task (gather does)
/// - and never if the awaitable is destroyed unawaited. Arguments, cancellation, errors and
/// shutdown as for run_in_executor. Outside a running loop, the await throws std::logic_error.
template <class F, class... Args>
requires std::invocable<F&, Args&...> awaitable<std::invoke_result_t<F&, Args&...>>
to_thread(F f, Args... args) {
    // The call is built in a statement of its own: GCC 12 destroys a lambda argument twice
    // when it is passed inside a co_await expression.
    auto job = run_in_executor(nullptr, std::move(f), std::move(args)...);
    co_return co_await std::move(job);
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

// aio/loop.hpp - the event loop: new_event_loop(), run_until_complete / run_forever / stop /
// close, call_soon / call_later / call_at, signal handlers, the exception handler.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/await_state.hpp>
#include <aio/detail/source_location.hpp>
#include <aio/detail/state.hpp>
#include <aio/detail/suspend.hpp>
#include <aio/exception_handler.hpp>
#include <aio/task.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace aio {

/// What call_later and call_at return (asyncio.TimerHandle): cancel() before the callback runs
/// and it never runs. Copyable; copies refer to the same call. Loop-affine. A handle may outlive
/// its loop: cancel() is then a no-op.
class timer_handle {
public:
    timer_handle() noexcept = default;

    /// Stops the callback from running and frees its timer; a no-op once it was cancelled, and
    /// on an empty handle. Called after the callback ran, it does nothing but make cancelled()
    /// true (as asyncio's TimerHandle.cancel does).
    void cancel() {
        if (s_ && !s_->cancelled) {
            s_->cancelled = true;
            if (std::shared_ptr<boost::asio::steady_timer> timer = s_->timer.lock()) {
                timer->cancel();
            }
        }
    }
    /// True once cancel() was called.
    bool cancelled() const noexcept { return s_ && s_->cancelled; }
    /// When the callback is (or was) due, on the loop's clock (loop::time); the clock's epoch
    /// for an empty handle.
    std::chrono::steady_clock::time_point when() const noexcept {
        return s_ ? s_->when : std::chrono::steady_clock::time_point{};
    }

private:
    friend class loop;
    struct shared {
        std::chrono::steady_clock::time_point when;
        bool cancelled = false;
        /// The timer belongs to its pending wait, so that it goes with the loop's io_context
        /// (closing the loop destroys the wait): a timer kept by a handle would outlive the
        /// io_context it refers to. The handle only reaches it while the wait is pending.
        std::weak_ptr<boost::asio::steady_timer> timer;
    };
    explicit timer_handle(std::shared_ptr<shared> s) noexcept : s_(std::move(s)) {}
    std::shared_ptr<shared> s_;
};

/// A handle to an event loop (asyncio's loop object): one io_context run by one thread.
/// Copyable; copies refer to the same loop, which lives as long as a handle does. Everything but
/// call_soon_threadsafe and is_closed must be called on the thread that runs the loop (or, while
/// it does not run, the thread that will). aio::run and aio::runner make and run a loop; for
/// asyncio's low-level API (the loop driven by hand) make one with aio::new_event_loop().
class loop {
public:
    explicit loop(std::shared_ptr<detail::loop_core> core) noexcept : core_(std::move(core)) {}

    /// The loop's executor: construct Asio objects (sockets, timers) with it, or with the
    /// task's own (`co_await boost::asio::this_coro::executor`). It runs on the io_context; its
    /// type is the one aio's tasks run on, so an operation of such an object completes into a
    /// task without Asio's type-erased dispatch (an object made with `context()` directly works
    /// too, a little slower). Both throw std::logic_error when the loop is closed (its
    /// io_context is gone).
    boost::asio::any_io_executor get_executor() const {
        require_open();
        return detail::make_task_executor(core_->executor(), nullptr);
    }
    boost::asio::io_context& context() const {
        require_open();
        return core_->context();
    }

    // --- running it by hand (asyncio's low-level loop API) ---

    /// loop.create_task: schedules `aw` as a task on this loop, running or not; its body starts
    /// once the loop runs. Throws std::logic_error when the loop is closed, and in debug mode
    /// when called from another thread than the one running the loop.
    template <class T>
    task<T> create_task(awaitable<T> aw, std::string name = {},
                        aio::source_location created_at = aio::source_location::current()) const {
        detail::check_thread(core_.get(), "aio::loop::create_task");
        require_open();
        return task<T>(detail::spawn_task<T>(*core_, std::move(aw), std::move(name), created_at));
    }
    /// The same for a callable returning an awaitable (kept, with its captures, while it runs).
    template <class F>
    requires awaitable_factory<F>
    auto create_task(F f, std::string name = {},
                     aio::source_location created_at = aio::source_location::current()) const {
        detail::check_thread(core_.get(), "aio::loop::create_task");
        require_open();
        using T = awaitable_value_t<std::invoke_result_t<F&>>;
        return task<T>(detail::spawn_task<T>(*core_, std::move(f), std::move(name), created_at));
    }

    /// loop.run_until_complete: runs the loop until `t` is done and returns its value or
    /// rethrows its exception (cancelled_error if it was cancelled). An awaitable (or a callable
    /// returning one) is made a task first. The other tasks stay where they are when it returns
    /// and go on at the next run. Throws std::runtime_error if stop() ends the run before `t` is
    /// done (`t` is then left pending), std::logic_error if the loop is closed or already
    /// running, or another loop runs on this thread, and std::invalid_argument if `t` is a
    /// pending task of another loop (asyncio raises RuntimeError and ValueError).
    template <class T>
    T run_until_complete(task<T> t) const {
        require_can_run();
        if (!t.done() && t.state().loop() != core_.get()) {
            throw std::invalid_argument("aio: the task belongs to another loop");
        }
        {
            // The done callback may still be queued when the run ends (`t` ended as stop() was
            // called): `awaited` keeps it from stopping a later run.
            auto awaited = std::make_shared<bool>(true);
            callback_id id = t.add_done_callback([core = core_.get(), awaited](any_task) {
                if (*awaited) {
                    core->stop();
                }
            });
            struct forget_callback {
                task<T>& t;
                callback_id id;
                bool& awaited;
                ~forget_callback() {
                    awaited = false;
                    t.remove_done_callback(id);
                }
            } on_exit{t, id, *awaited};
            run_forever();
        }
        if (!t.done()) {
            throw std::runtime_error("aio: the loop stopped before the task completed");
        }
        if constexpr (std::is_void_v<T>) {
            t.result();
        } else {
            return t.typed()->take(); // moves a move-only value out
        }
    }
    template <class T>
    T run_until_complete(awaitable<T> aw) const {
        return run_until_complete(create_task(std::move(aw)));
    }
    template <class F>
    requires awaitable_factory<F>
    auto run_until_complete(F f) const { return run_until_complete(create_task(std::move(f))); }

    /// loop.run_forever: runs the loop until stop() is called. If stop() was called before, runs
    /// what is ready once and returns (as asyncio does). Throws std::logic_error if the loop is
    /// closed or already running, or another loop runs on this thread.
    void run_forever() const {
        require_can_run();
        detail::running_scope scope(*core_);
        core_->run_until_stopped();
    }

    /// loop.stop: makes run_forever (and so run_until_complete) return once the callback or
    /// task step under way is done; what is still queued runs at the next run (asyncio first
    /// finishes the callbacks already due). Called while the loop does not run, the next
    /// run_forever runs what is ready and returns. Never throws.
    void stop() const { core_->stop(); }

    /// loop.is_running: true while run_forever or run_until_complete is running it.
    bool is_running() const noexcept { return core_->is_running(); }

    /// loop.close: closes the loop. Callbacks still queued are dropped; tasks still pending are
    /// reported ("Task was abandoned pending when its loop closed", with the task's name) and
    /// abandoned: they never run again and are not destroyed (see the shutdown docs); executor
    /// jobs still running are reported and left to finish. Cancel and gather the tasks first
    /// to close cleanly (the book's shutdown recipe), or use aio::run. Idempotent; throws
    /// std::logic_error while the loop runs.
    void close() const {
        if (core_->is_running()) {
            throw std::logic_error("aio: cannot close a running loop");
        }
        core_->close_now();
    }

    /// From any thread: true once the loop is closed.
    bool is_closed() const { return core_->is_closed(); }

    // --- callbacks ---

    /// Runs fn on the loop soon, after what is already queued (asyncio call_soon). An exception
    /// fn throws is reported through the exception handler; the loop goes on. Throws
    /// std::logic_error when the loop is closed.
    template <class F>
    void call_soon(F&& fn) const {
        require_open();
        detail::post_plain(core_->context().get_executor(),
                           detail::reporting(*core_, std::forward<F>(fn)));
    }

    /// From any thread: runs fn on the loop soon (asyncio call_soon_threadsafe); an exception
    /// it throws is reported. Throws std::runtime_error if the loop is closed (fn is not run).
    template <class F>
    void call_soon_threadsafe(F&& fn) const {
        if (!core_->post_threadsafe(detail::reporting(*core_, std::forward<F>(fn)))) {
            throw std::runtime_error("aio: the loop is closed");
        }
    }

    /// loop.call_later: runs fn on the loop once `delay` has passed (call_at(time() + delay)),
    /// unless the returned handle is cancelled first. An exception fn throws is reported.
    /// Throws std::logic_error when the loop is closed.
    template <class Rep, class Period, class F>
    timer_handle call_later(std::chrono::duration<Rep, Period> delay, F&& fn) const {
        return call_at(time() + std::chrono::ceil<std::chrono::steady_clock::duration>(delay),
                       std::forward<F>(fn));
    }

    /// loop.call_at: runs fn on the loop at `when` (a time of this loop's clock, see time()),
    /// unless the returned handle is cancelled first; a time already passed runs it soon.
    /// Callbacks due at different times run in the order of their times. An exception fn
    /// throws is reported. Throws std::logic_error when the loop is closed.
    template <class F>
    timer_handle call_at(std::chrono::steady_clock::time_point when, F&& fn) const {
        require_open();
        auto s = std::make_shared<timer_handle::shared>();
        s->when = when;
        auto timer = std::make_shared<boost::asio::steady_timer>(core_->context(), when);
        s->timer = timer;
        timer->async_wait([timer, s, call = detail::reporting(*core_, std::forward<F>(fn))](
                              boost::system::error_code ec) mutable {
            if (!ec && !s->cancelled) {
                call();
            }
        });
        return timer_handle(std::move(s));
    }

    /// loop.time: the loop's clock, std::chrono::steady_clock (monotonic, as asyncio's).
    std::chrono::steady_clock::time_point time() const { return std::chrono::steady_clock::now(); }

    // --- signals and errors ---

    /// Runs fn on the loop (not in signal context) each time `signum` arrives; replaces an
    /// earlier handler for it. An exception fn throws is reported; the handler stays. While set
    /// for SIGINT or SIGTERM it also replaces run's default handling (cancelling main) of that
    /// signal. fn may replace or remove its own handler while it runs (the call goes on with its
    /// captures alive). aio installs a handler of its own for the signal (sigaction), which
    /// passes the signal on to the handler it replaced: an Asio signal_set made earlier keeps
    /// receiving it; one made later takes the signal over (Asio passes nothing on; see
    /// docs/tasks-and-running.md). Throws std::logic_error
    /// when the loop is closed, std::invalid_argument when `signum` is not a signal's number
    /// (asyncio raises ValueError), boost::system::system_error when the signal cannot be caught
    /// (SIGKILL, SIGSTOP) or aio's signal thread cannot start.
    void add_signal_handler(int signum, std::function<void()> fn) const {
        require_open();
        core_->add_signal_handler(signum, std::move(fn));
    }
    /// Removes the handler; false if there was none. The signal then does what it did before
    /// aio handled it: SIGINT and SIGTERM, by default, end the process (a handler removed for
    /// SIGINT or SIGTERM does not bring back run's default handling, as in asyncio).
    bool remove_signal_handler(int signum) const { return core_->remove_signal_handler(signum); }

    // --- debug mode (asyncio's loop.set_debug; see docs/diagnostics.md) ---

    /// loop.set_debug: turns debug mode on or off. On, the loop reports task steps and callbacks
    /// that hold it longer than slow_callback_duration() ("Executing <Task ...> took 0.150
    /// seconds"), tasks destroyed while pending, and throws std::logic_error from loop-affine
    /// calls made on another thread than the one running it. Off (the default unless AIO_DEBUG
    /// is set, or run_options::debug), none of this costs anything but a branch. Loop thread
    /// only (or while the loop does not run); never throws.
    void set_debug(bool on) const { core_->set_debug(on); }
    /// loop.get_debug: true while debug mode is on.
    bool get_debug() const noexcept { return core_->debug(); }
    /// loop.slow_callback_duration: what debug mode calls a slow step (default 100 ms, as
    /// asyncio's 0.1 s).
    std::chrono::steady_clock::duration slow_callback_duration() const noexcept {
        return core_->slow_callback_duration();
    }
    template <class Rep, class Period>
    void set_slow_callback_duration(std::chrono::duration<Rep, Period> d) const noexcept {
        core_->set_slow_callback_duration(
            std::chrono::duration_cast<std::chrono::steady_clock::duration>(d));
    }

    /// Replaces the reporter of lost errors (default: one line on stderr).
    void set_exception_handler(exception_handler h) const {
        core_->set_exception_handler(std::move(h));
    }
    /// Reports through the current handler (asyncio call_exception_handler).
    void call_exception_handler(const exception_context& ctx) const { core_->report(ctx); }

    // --- the default executor ---

    /// The thread pool behind to_thread (created on first use; min(32, cores + 4) threads).
    /// run waits for its jobs at shutdown, up to run_options::shutdown_timeout.
    boost::asio::thread_pool& default_executor() const { return core_->default_pool(); }

    /// loop.shutdown_default_executor: waits, without blocking the loop, until the default
    /// pool's jobs have finished, then joins its threads; the next to_thread makes a new pool.
    /// Cancellation: stops waiting (cancelled_error); the jobs run on and the pool is joined by
    /// a thread of its own.
    // A template only so that a file that does not call it does not compile it (a coroutine, a
    // thread and the callbacks between them).
    template <class = void>
    awaitable<void> shutdown_default_executor() const {
        std::shared_ptr<boost::asio::thread_pool> pool = core_->take_pool();
        if (!pool) {
            co_return;
        }
        // The pool is joined by a thread of its own, which then wakes this coroutine through
        // the loop; only the loop thread touches the state awaited.
        auto joined =
            detail::ref<detail::state<void>>::adopt(new detail::state<void>(core_.get(), false));
        auto wake = std::make_shared<std::function<void()>>(
            [joined] { joined->finish_value(std::monostate{}); });
        std::thread([pool = std::move(pool), wake, core = core_]() mutable {
            pool->join();
            pool.reset();
            core->post_threadsafe([wake = std::move(wake)] { (*wake)(); });
        }).detach();
        co_await detail::await_value<void>(joined, detail::cancel_policy::stop_waiting);
    }

    detail::loop_core& core() const noexcept { return *core_; }
    const std::shared_ptr<detail::loop_core>& shared_core() const noexcept { return core_; }

private:
    void require_open() const {
        if (core_->closed_here()) {
            throw std::logic_error("aio: the loop is closed");
        }
    }
    /// What run_forever and run_until_complete check before they run the loop.
    void require_can_run() const {
        require_open();
        if (core_->is_running()) {
            throw std::logic_error("aio: the loop is already running");
        }
        if (detail::running_loop != nullptr && detail::running_loop != core_.get()) {
            throw std::logic_error("aio: another loop is already running on this thread");
        }
    }

    std::shared_ptr<detail::loop_core> core_;
};

/// asyncio.new_event_loop: a loop to drive by hand (create_task, run_until_complete,
/// run_forever, close). Close it when done: tasks still pending then are abandoned.
inline loop new_event_loop() {
    return loop(std::make_shared<detail::loop_core>());
}

/// The running loop of this thread (asyncio.get_running_loop). Throws std::logic_error when no
/// loop runs on this thread.
inline loop get_running_loop() {
    detail::loop_core& core = detail::require_running_loop();
    return loop(core.shared_from_this());
}

/// The loop of the calling coroutine: `aio::loop lp = co_await aio::this_loop();`.
inline awaitable<loop> this_loop() {
    co_return get_running_loop();
}

/// asyncio.all_tasks(loop): the tasks of `lp` that are not done yet; callable while the loop
/// does not run (the manual shutdown recipe).
inline std::vector<any_task> all_tasks(const loop& lp) {
    return detail::tasks_of(lp.core());
}

} // namespace aio

// aio/run.hpp - aio::run and aio::runner: start a loop, run main as a task, shut down cleanly.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/deadline_queue.hpp>
#include <aio/detail/source_location.hpp>
#include <aio/detail/state.hpp>
#include <aio/error.hpp>
#include <aio/loop.hpp>
#include <aio/task.hpp>

#include <boost/system/error_code.hpp>

#include <chrono>
#include <csignal>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace aio {

struct run_options {
    /// How long the graceful shutdown may take: the cancelled tasks (and the tasks created while
    /// they wind down) ending, and executor jobs (to_thread, run_in_executor) finishing. What is
    /// still running then is reported and abandoned. asyncio's default executor shutdown waits
    /// 300 s.
    std::chrono::steady_clock::duration shutdown_timeout = std::chrono::seconds(300);
    /// Handle SIGINT and SIGTERM: the first cancels main (after main ended, it lets the
    /// shutdown finish, then run throws interrupted_error); a second stops the loop at once. A
    /// signal that is ignored or has a handler of the program's own when run starts is left alone,
    /// as asyncio.run leaves SIGINT.
    bool handle_signals = true;
    /// asyncio.run(debug=True): runs the loop in debug mode (see loop::set_debug). False leaves
    /// the choice to the environment: AIO_DEBUG=1 turns debug mode on (asyncio's
    /// PYTHONASYNCIODEBUG). Either one turns it on; loop::set_debug, called later, wins over both.
    bool debug = false;
};

/// A loop reused for several run() calls (asyncio.Runner), e.g. in tests.
///
/// run(main) runs main as a task until it is done; the tasks it left behind keep their state
/// and go on running during later run() calls. close() (also called by the destructor) shuts
/// down gracefully - see close().
class runner {
public:
    explicit runner(run_options options = {}) : options_(options), loop_(new_event_loop()) {
        if (options_.debug) {
            loop_.set_debug(true);
        }
    }
    runner(const runner&) = delete;
    runner& operator=(const runner&) = delete;
    ~runner() { close(); }

    /// Runs `main` as a task named "main" until it is done, and returns its value or rethrows
    /// its exception. With handle_signals, SIGINT/SIGTERM cancel main: if main then ends
    /// cancelled, run throws interrupted_error (if it catches the cancellation and returns,
    /// run returns its value). A second signal stops the loop at once (a hard stop, see
    /// close()): run throws interrupted_error. Throws std::logic_error if the runner is closed
    /// or was stopped hard, or a loop already runs on this thread. The task records
    /// `created_at` (the caller's site) as create_task does.
    template <class T>
    T run(awaitable<T> main, aio::source_location created_at = aio::source_location::current()) {
        return run_task<T>([&] { return create_task(std::move(main), "main", created_at); });
    }
    /// The same for a callable returning an awaitable (its captures live as long as main).
    template <class F>
    requires awaitable_factory<F>
    auto run(F main, aio::source_location created_at = aio::source_location::current()) {
        using T = awaitable_value_t<std::invoke_result_t<F&>>;
        return run_task<T>([&] { return create_task(std::move(main), "main", created_at); });
    }

    /// The loop (for signal handlers, the exception handler, call_soon_threadsafe).
    loop get_loop() const { return loop_; }

    /// Shuts the loop down; idempotent, never throws.
    ///
    /// Graceful (the normal case): every pending task is cancelled, and the loop runs until
    /// all have ended and executor jobs have finished. Tasks created meanwhile (say, by a
    /// cancellation handler) start and run to their end; they are not cancelled. A first
    /// signal in this phase changes nothing (the shutdown is already the answer to it; aio::run
    /// throws interrupted_error once it is done); a second is a hard stop. Whatever still runs
    /// after shutdown_timeout is reported and abandoned. Then errors no one retrieved are
    /// reported, and the loop closes.
    ///
    /// Hard stop (a second signal, or the timeout with tasks still pending): nothing more runs.
    /// Parked coroutines are not resumed and not destroyed - destroying them in no particular
    /// order could run a destructor against an object another frame already freed - so the
    /// loop, with everything parked in it, is kept (reachable, not leaked) until the process
    /// exits; done callbacks are dropped (a run_coroutine_threadsafe future gets
    /// broken_promise), executor jobs are left to finish on their threads, and the tasks left
    /// are reported. A hard stop is for a process about to exit.
    [[gnu::cold]] void close() noexcept {
        if (closed_) {
            return;
        }
        closed_ = true;
        detail::loop_core& core = loop_.core();
        if (core.closed_here()) {
            return; // closed through the loop handle already
        }
        if (detail::running_loop != nullptr && detail::running_loop != &core) {
            // Closed inside another loop's step (a runner destroyed in a coroutine): this loop
            // cannot run here, so what it still holds is abandoned.
            report_abandoned(core, "the runner was closed while another loop ran");
            core.abandon_or_close();
            return;
        }
        try {
            detail::running_scope scope(core);
            if (!hard_stopped_) {
                shutdown(core);
            }
            if (hard_stopped_) {
                report_abandoned(core, "the loop was stopped by a second signal (" +
                                           std::to_string(hard_stop_signal_) + ")");
            }
        } catch (...) {
            core.report({"error during shutdown", std::current_exception(), {}});
        }
        core.abandon_or_close();
    }

    /// A signal that interrupted this runner where run() could not say so: after main ended
    /// (during the shutdown in close(), or between main's end and run's return), or the signal
    /// of a hard stop in close(). 0 if none. aio::run throws interrupted_error for it.
    int interrupted_by() const noexcept { return hard_stopped_ ? hard_stop_signal_ : late_signal_; }

private:
    template <class T, class Start>
    T run_task(Start start) {
        if (closed_ || hard_stopped_) {
            throw std::logic_error(closed_ ? "aio: the runner is closed"
                                           : "aio: the runner was stopped by a second signal");
        }
        detail::loop_core& core = loop_.core();
        if (core.is_running()) {
            throw std::logic_error("aio: run() called while the runner's loop runs");
        }
        detail::running_scope scope(core);
        interrupt_signal_ = 0;
        task<T> main = start();
        main_ = main;
        install_signal_handling(core);
        callback_id stop_id = main.add_done_callback([&core](any_task) { core.stop(); });
        core.run_until_stopped();
        main_ = any_task();
        if (hard_stopped_) {
            throw interrupted_error(hard_stop_signal_);
        }
        main.remove_done_callback(stop_id);
        if (!main.done()) {
            throw std::runtime_error("aio: the loop stopped before main completed");
        }
        if (main.cancelled() && interrupt_signal_ != 0) {
            main.exception(); // retrieved: reported through the exception run throws
            throw interrupted_error(interrupt_signal_);
        }
        if constexpr (std::is_void_v<T>) {
            main.result();
        } else {
            return main.typed()->take(); // moves a move-only result out
        }
    }

    [[gnu::cold]] void install_signal_handling(detail::loop_core& core) {
        if (!options_.handle_signals || signals_installed_) {
            return;
        }
        signals_installed_ = true;
        for (int signum : {SIGINT, SIGTERM}) {
            if (detail::signal_hub::is_default(signum)) {
                core.add_signal_handler(
                    signum, [this, signum] { on_signal(signum); }, true);
            }
        }
    }

    [[gnu::cold]] void on_signal(int signum) {
        if (interrupt_signal_ == 0) {
            interrupt_signal_ = signum;
            if (main_ && !main_.done()) {
                main_.cancel();
                return;
            }
            // After main's end the shutdown is already the graceful answer to a signal: it goes
            // on undisturbed, and aio::run reports the interruption once it is done.
            late_signal_ = signum;
            return;
        }
        hard_stopped_ = true;
        hard_stop_signal_ = signum;
        loop_.core().stop();
    }

    /// The graceful shutdown (see close()).
    [[gnu::cold]] void shutdown(detail::loop_core& core) {
        core.tasks().for_each([](detail::state_base& s) { s.cancel(); }); // once: later tasks run
        bool timed_out = false;
        detail::loop_timer timer(core.context(), options_.shutdown_timeout);
        timer.async_wait([&timed_out](boost::system::error_code ec) { timed_out = !ec; });
        core.wake_when_idle(true); // a job's end wakes run_one below
        core.context().restart();
        while (!timed_out && !hard_stopped_) {
            if (core.tasks().empty() && core.running_jobs() == 0) {
                // Before it ends: a signal raised on this thread (by a cleanup) is answered
                // here, however late the signal thread's wake-up would come.
                if (!core.deliver_signals()) {
                    break;
                }
                continue;
            }
            if (core.run_one() == 0) {
                core.context().restart(); // user code stopped the io_context: shutdown goes on
            }
        }
        core.wake_when_idle(false);
        if (hard_stopped_) {
            return;
        }
        timer.cancel();
        core.context().poll(); // what finishing tasks and jobs posted: callbacks, wake-ups
        std::size_t jobs = core.running_jobs();
        if (jobs > 0) {
            core.report({"executor jobs still running after shutdown_timeout were abandoned (" +
                             std::to_string(jobs) + " job(s))",
                         nullptr,
                         {}});
        }
        core.release_pool(jobs == 0);
        report_abandoned(core, "shutdown_timeout passed");
        if (core.debug()) {
            core.report_unclosed_resources();
        }
    }

    [[gnu::cold]] void report_abandoned(detail::loop_core& core, const std::string& why) {
        std::size_t tasks = core.tasks().size();
        if (tasks > 0) {
            core.report({std::to_string(tasks) + " task(s) still pending were abandoned: " + why,
                         nullptr,
                         {}});
        }
        if (hard_stopped_) {
            std::size_t jobs = core.running_jobs();
            if (jobs > 0) {
                core.report({"executor jobs still running at a hard stop were abandoned (" +
                                 std::to_string(jobs) + " job(s))",
                             nullptr,
                             {}});
            }
            core.release_pool(jobs == 0);
        }
    }

    run_options options_;
    loop loop_;
    any_task main_;
    int interrupt_signal_ = 0;
    int late_signal_ = 0;
    int hard_stop_signal_ = 0;
    bool hard_stopped_ = false;
    bool signals_installed_ = false;
    bool closed_ = false;
};

/// asyncio.run: runs `main` on a new loop (see runner::run), then shuts the loop down (see
/// runner::close) and returns main's value or rethrows its exception. A signal that arrived
/// after main ended (during the shutdown) makes it throw interrupted_error once the shutdown is
/// done, instead of returning: the program was interrupted, even if nothing was lost.
template <class Main>
auto run(Main&& main, run_options options = {},
         aio::source_location created_at = aio::source_location::current()) {
    runner r(options);
    using T = decltype(r.run(std::forward<Main>(main)));
    if constexpr (std::is_void_v<T>) {
        r.run(std::forward<Main>(main), created_at);
        r.close();
        if (int signum = r.interrupted_by(); signum != 0) {
            throw interrupted_error(signum);
        }
    } else {
        T value = r.run(std::forward<Main>(main), created_at);
        r.close();
        if (int signum = r.interrupted_by(); signum != 0) {
            throw interrupted_error(signum);
        }
        return value;
    }
}

} // namespace aio

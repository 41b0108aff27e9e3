// aio/run.hpp - aio::run and aio::runner: start a loop, run main as a task, shut down cleanly.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/core.hpp>
#include <aio/error.hpp>
#include <aio/loop.hpp>
#include <aio/task.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <chrono>
#include <csignal>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace aio {

struct run_options {
    /// How long shutdown waits for executor jobs (to_thread, run_in_executor) still running
    /// once every task has ended. Jobs still running after it are reported and abandoned.
    /// asyncio's default executor shutdown waits 300 s.
    std::chrono::steady_clock::duration shutdown_timeout = std::chrono::seconds(300);
    /// Cancel the main task on SIGINT or SIGTERM; a second one stops the loop at once.
    bool handle_signals = true;
};

/// A loop reused for several run() calls (asyncio.Runner), e.g. in tests.
///
/// run(main) runs main as a task until it is done; the tasks it left behind keep their state
/// and go on running during later run() calls. close() (also called by the destructor) shuts
/// down: it cancels every remaining task and runs the loop until all have ended — tasks created
/// meanwhile (say, inside a cancellation handler) are waited for, and cancelled too if they
/// outlive the tasks that existed before them — then waits for executor jobs up to
/// shutdown_timeout and reports errors no one retrieved.
class runner {
public:
    explicit runner(run_options options = {})
        : options_(options), ctx_(std::make_unique<boost::asio::io_context>(1)),
          core_(std::make_shared<detail::loop_core>(*ctx_)), work_(ctx_->get_executor()) {}
    runner(const runner&) = delete;
    runner& operator=(const runner&) = delete;
    ~runner() { close(); }

    /// Runs `main` as a task named "main" until it is done, and returns its value or rethrows
    /// its exception. With handle_signals, SIGINT/SIGTERM cancel main: if main then ends
    /// cancelled, run throws interrupted_error (if it catches the cancellation and returns,
    /// run returns its value). A second signal stops the loop at once: run throws
    /// interrupted_error, and close() skips the graceful steps (coroutines still parked in an
    /// aio await are then not destroyed: a hard stop is for a process about to exit). Throws
    /// std::logic_error if the runner is closed or a loop already runs on this thread.
    template <class T>
    T run(awaitable<T> main) {
        return run_task<T>([&] { return create_task(std::move(main), "main"); });
    }
    /// The same for a callable returning an awaitable (its captures live as long as main).
    template <class F>
    requires awaitable_factory<F>
    auto run(F main) {
        using T = awaitable_value_t<std::invoke_result_t<F&>>;
        return run_task<T>([&] { return create_task(std::move(main), "main"); });
    }

    /// The loop (for signal handlers, the exception handler, call_soon_threadsafe).
    loop get_loop() const { return loop(core_); }

    /// Shuts the loop down (see the class comment); idempotent, never throws.
    void close() noexcept {
        if (closed_) {
            return;
        }
        closed_ = true;
        running_scope scope(*core_);
        try {
            if (!hard_stopped_) {
                cancel_remaining_tasks();
            }
            bool jobs_done = hard_stopped_ ? core_->running_jobs() == 0
                                           : core_->wait_jobs(std::chrono::steady_clock::now() +
                                                              options_.shutdown_timeout);
            if (!jobs_done) {
                core_->report({"executor jobs still running after shutdown_timeout were "
                               "abandoned (" +
                                   std::to_string(core_->running_jobs()) + " job(s))",
                               nullptr,
                               {}});
            }
            core_->release_pool(jobs_done);
        } catch (...) {
            core_->report({"error during shutdown", std::current_exception(), {}});
        }
        core_->mark_closed();
        signals_.reset();
        core_->clear_signal_handlers();
        work_.reset();
        ctx_.reset(); // destroys what is still queued, and coroutines that never finished
        core_->discard_queued();
        core_->detach_all();
    }

private:
    /// Sets this thread's running loop for the scope.
    struct running_scope {
        explicit running_scope(detail::loop_core& core) : previous(detail::running_loop) {
            detail::running_loop = &core;
        }
        ~running_scope() { detail::running_loop = previous; }
        running_scope(const running_scope&) = delete;
        running_scope& operator=(const running_scope&) = delete;
        detail::loop_core* previous;
    };

    template <class T, class Start>
    T run_task(Start start) {
        if (closed_ || hard_stopped_) {
            throw std::logic_error(closed_ ? "aio: the runner is closed"
                                           : "aio: the runner was stopped by a second signal");
        }
        if (detail::running_loop != nullptr) {
            throw std::logic_error("aio: run() called while a loop runs on this thread");
        }
        running_scope scope(*core_);
        interrupt_signal_ = 0;
        task<T> main = start();
        main_ = main;
        if (options_.handle_signals && !signals_) {
            signals_.emplace(*ctx_, SIGINT, SIGTERM);
            arm_signals();
        }
        main.add_done_callback([this](any_task) { ctx_->stop(); });
        ctx_->restart();
        ctx_->run();
        main_ = any_task();
        if (hard_stopped_) {
            throw interrupted_error(hard_stop_signal_);
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

    void arm_signals() {
        signals_->async_wait([this](boost::system::error_code ec, int signum) {
            if (ec) {
                return;
            }
            on_signal(signum);
            if (signals_ && !hard_stopped_) {
                arm_signals();
            }
        });
    }

    void on_signal(int signum) {
        if (core_->has_signal_handler(signum)) {
            return; // the user's handler for this signal runs instead
        }
        if (interrupt_signal_ == 0 && main_ && !main_.done()) {
            interrupt_signal_ = signum;
            main_.cancel();
        } else {
            hard_stopped_ = true;
            hard_stop_signal_ = signum;
            ctx_->stop();
        }
    }

    /// Cancels every pending task and runs the loop until none is left. Tasks created while
    /// the cancelled ones wind down (say, awaited by a cancellation handler) run normally;
    /// once every task of a round has ended, the tasks still pending form the next round.
    void cancel_remaining_tasks() {
        ctx_->restart();
        while (!core_->tasks().empty() && !hard_stopped_) {
            if (core_->shutdown_pending() == 0) {
                core_->tasks().for_each([](detail::state_base& s) {
                    s.mark_shutdown_cancelled();
                    s.cancel();
                });
            }
            // The runner holds work on the io_context, so this returns 0 only if the loop was
            // stopped (a second signal, or a stop() from user code).
            if (ctx_->run_one() == 0) {
                if (!hard_stopped_) {
                    core_->report({std::to_string(core_->tasks().size()) +
                                       " task(s) still pending: the loop was stopped during "
                                       "shutdown",
                                   nullptr,
                                   {}});
                }
                break;
            }
        }
        if (!hard_stopped_) {
            ctx_->poll(); // deliver what finishing tasks posted (done callbacks, wake-ups)
        }
    }

    run_options options_;
    std::unique_ptr<boost::asio::io_context> ctx_;
    std::shared_ptr<detail::loop_core> core_;
    /// Keeps run() and the shutdown rounds waiting while tasks are parked with nothing queued
    /// (tasks start without per-task work counting; see detail::start_task). run() returns when
    /// main's end stops the loop.
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
    std::optional<boost::asio::signal_set> signals_;
    any_task main_;
    int interrupt_signal_ = 0;
    int hard_stop_signal_ = 0;
    bool hard_stopped_ = false;
    bool closed_ = false;
};

/// asyncio.run: runs `main` on a new loop (see runner::run), then closes the loop (see runner)
/// and returns main's value or rethrows its exception.
template <class Main>
auto run(Main&& main, run_options options = {}) {
    runner r(options);
    return r.run(std::forward<Main>(main));
}

} // namespace aio

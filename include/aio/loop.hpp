// aio/loop.hpp - the event loop handle: this_loop(), signal handlers, the exception handler,
// call_soon / call_soon_threadsafe.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/core.hpp>
#include <aio/exception_handler.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <functional>
#include <memory>
#include <stdexcept>
#include <utility>

namespace aio {

/// A handle to an event loop (asyncio's loop object): one io_context run by one thread.
/// Copyable. Everything but call_soon_threadsafe and is_closed must be called on the loop's
/// thread. A loop is created and run by aio::run or aio::runner.
class loop {
public:
    explicit loop(std::shared_ptr<detail::loop_core> core) noexcept : core_(std::move(core)) {}

    /// The io_context's executor: construct Asio objects (sockets, timers) with it.
    boost::asio::io_context::executor_type get_executor() const { return core_->executor(); }
    boost::asio::io_context& context() const { return core_->context(); }

    /// Runs fn on the loop soon, after what is already queued (asyncio call_soon). An exception
    /// fn throws is reported through the exception handler; the loop goes on.
    template <class F>
    void call_soon(F&& fn) const {
        boost::asio::post(core_->context(), detail::reporting(*core_, std::forward<F>(fn)));
    }

    /// From any thread: runs fn on the loop soon (asyncio call_soon_threadsafe); an exception
    /// it throws is reported. Throws std::runtime_error if the loop is closed (fn is not run).
    template <class F>
    void call_soon_threadsafe(F&& fn) const {
        if (!core_->post_threadsafe(detail::reporting(*core_, std::forward<F>(fn)))) {
            throw std::runtime_error("aio: the loop is closed");
        }
    }

    /// Runs fn on the loop (not in signal context) each time `signum` arrives; replaces an
    /// earlier handler for it. An exception fn throws is reported; the handler stays. While set for
    /// SIGINT or SIGTERM it also replaces run's default handling (cancelling main) of that signal.
    void add_signal_handler(int signum, std::function<void()> fn) const {
        core_->add_signal_handler(signum, std::move(fn));
    }
    /// Removes the handler; false if there was none.
    bool remove_signal_handler(int signum) const { return core_->remove_signal_handler(signum); }

    /// Replaces the reporter of lost errors (default: one line on stderr).
    void set_exception_handler(exception_handler h) const {
        core_->set_exception_handler(std::move(h));
    }
    /// Reports through the current handler (asyncio call_exception_handler).
    void call_exception_handler(const exception_context& ctx) const { core_->report(ctx); }

    /// The thread pool behind to_thread (created on first use; min(32, cores + 4) threads).
    /// run waits for its jobs at shutdown, up to run_options::shutdown_timeout.
    boost::asio::thread_pool& default_executor() const { return core_->default_pool(); }

    /// From any thread: true once the loop's runner has closed it.
    bool is_closed() const { return core_->is_closed(); }

    detail::loop_core& core() const noexcept { return *core_; }
    const std::shared_ptr<detail::loop_core>& shared_core() const noexcept { return core_; }

private:
    std::shared_ptr<detail::loop_core> core_;
};

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

} // namespace aio

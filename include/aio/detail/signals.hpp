// aio/detail/signals.hpp - the signal handlers of a loop, and the process-wide record of the
// dispositions aio changed.
#pragma once

#include <aio/detail/reporting.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

// Every file that runs a loop compiles this, so it is kept to one Asio signal set per loop, one
// wait on it, one handler type, and fixed tables indexed by the signal number: no maps, no
// shared pointers (each would be instantiated again in every such file).

namespace aio::detail {

/// Signal numbers are 1 up to (not including) this bound, Asio's own.
inline constexpr int signal_bound = boost::asio::detail::max_signal_number;

/// Process-wide bookkeeping of the signals aio handles: what each signal's disposition was before
/// the first aio handler for it, so that removing the last one restores it (Asio's own removal
/// always restores SIG_DFL, which would, say, make an inherited SIG_IGN deadly).
class signal_disposition {
public:
    /// Registers one more aio handler for `signum`; call before Asio installs its own.
    static void hold(int signum) {
        std::lock_guard lock(mutex());
        entry& e = table()[signum];
        if (e.count++ == 0) {
            ::sigaction(signum, nullptr, &e.saved);
        }
    }
    /// Call after Asio removed its registration: the last aio handler gone, the saved
    /// disposition comes back (unless someone else installed a handler meanwhile).
    static void release(int signum) noexcept {
        std::lock_guard lock(mutex());
        entry& e = table()[signum];
        if (--e.count == 0) {
            struct sigaction now {};
            ::sigaction(signum, nullptr, &now);
            if (now.sa_handler == SIG_DFL) {
                ::sigaction(signum, &e.saved, nullptr);
            }
        }
    }

    /// True when `signum` has its default disposition and no aio handler: neither ignored (as a
    /// background job's SIGINT is) nor handled by the program itself.
    static bool is_default(int signum) {
        std::lock_guard lock(mutex());
        struct sigaction now {};
        ::sigaction(signum, nullptr, &now);
        return table()[signum].count == 0 && now.sa_handler == SIG_DFL;
    }

private:
    struct entry {
        int count = 0;
        struct sigaction saved {};
    };
    static std::mutex& mutex() {
        static std::mutex m;
        return m;
    }
    static entry* table() {
        static entry t[signal_bound]; // trivially destructible: signals outlive statics
        return t;
    }
};

/// The signal handlers of one loop: one Asio signal set holding every signal the loop handles,
/// one wait on it, and per signal the function it calls on the loop each time the signal
/// arrives. An exception the function throws is reported. A handler may remove or replace
/// itself. Loop thread only.
class signal_handlers {
public:
    signal_handlers(boost::asio::io_context& ctx, reporter& reports) noexcept
        : ctx_(&ctx), reports_(&reports) {}
    signal_handlers(const signal_handlers&) = delete;
    signal_handlers& operator=(const signal_handlers&) = delete;
    ~signal_handlers() { clear(); }

    /// Runs fn() on the loop each time signal `signum` arrives; replaces an earlier handler. A
    /// `fallback` handler (what aio::runner installs for SIGINT and SIGTERM) is replaced by a
    /// user's handler, never the reverse. Throws std::invalid_argument for a number that is not
    /// a signal's.
    void add(int signum, std::function<void()> fn, bool fallback) {
        if (signum <= 0 || signum >= signal_bound) {
            throw std::invalid_argument("aio: no signal has this number");
        }
        if (has(signum)) {
            if (fallback) {
                return;
            }
            remove(signum); // deregister first: the disposition saved stays right
        }
        if (!active_) {
            active_ = std::make_unique<active>(*ctx_);
            wait();
        }
        signal_disposition::hold(signum);
        try {
            active_->set.add(signum);
        } catch (...) {
            signal_disposition::release(signum);
            throw;
        }
        active_->handlers[signum] = std::move(fn);
        active_->installed[signum] = true;
    }
    /// Removes the handler for `signum`; false if there was none.
    bool remove(int signum) noexcept {
        if (!has(signum)) {
            return false;
        }
        if (signum == running_) {
            replaced_ = true; // deliver() holds the function it is calling: not put back
        }
        active_->installed[signum] = false;
        active_->handlers[signum] = nullptr;
        boost::system::error_code ignored;
        active_->set.remove(signum, ignored);
        signal_disposition::release(signum);
        return true;
    }
    /// Removes every handler (the loop closes); the wait ends with it.
    void clear() noexcept {
        if (!active_) {
            return;
        }
        for (int signum = 1; signum < signal_bound; ++signum) {
            remove(signum);
        }
        active_.reset();
    }

private:
    struct active {
        explicit active(boost::asio::io_context& ctx) : set(ctx.get_executor()) {}
        // The loop's own executor type, not signal_set's any_io_executor: the same dispatch,
        // without instantiating the type-erased executor's conversion in every file.
        boost::asio::basic_signal_set<boost::asio::io_context::executor_type> set;
        std::function<void()> handlers[signal_bound];
        bool installed[signal_bound] = {};
    };

    bool has(int signum) const noexcept {
        return active_ && signum > 0 && signum < signal_bound && active_->installed[signum];
    }

    /// The one wait on the set. It ends with operation_aborted only when clear() destroyed the
    /// set, and the loop closes then: nothing it queued runs after that.
    void wait() {
        active_->set.async_wait([this](boost::system::error_code ec, int signum) {
            if (ec) {
                return;
            }
            deliver(signum);
            if (active_) {
                wait();
            }
        });
    }

    /// Calls the handler of `signum` (a signal that arrived as its handler was removed finds
    /// none). The handler may remove or replace itself, destroying its slot: the call runs on
    /// the function moved out of it, put back afterwards unless the slot changed meanwhile.
    void deliver(int signum) {
        if (!has(signum)) {
            return;
        }
        std::function<void()> fn = std::exchange(active_->handlers[signum], nullptr);
        running_ = signum;
        replaced_ = false;
        reports_->call_reporting("exception in a signal handler", fn);
        running_ = 0;
        if (!replaced_ && has(signum)) {
            active_->handlers[signum] = std::move(fn);
        }
    }

    boost::asio::io_context* ctx_;
    reporter* reports_;
    std::unique_ptr<active> active_; // made by the first add()
    int running_ = 0;                // the signal whose handler deliver() is calling
    bool replaced_ = false;          // its handler was removed or replaced meanwhile
};

} // namespace aio::detail

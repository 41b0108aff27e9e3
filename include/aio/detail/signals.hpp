// aio/detail/signals.hpp - the signal handlers of a loop, and the process-wide record of the
// dispositions aio changed.
#pragma once

#include <aio/detail/reporting.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

namespace aio::detail {

/// Process-wide bookkeeping of the signals aio handles: what each signal's disposition was before
/// the first aio handler for it, so that removing the last one restores it (Asio's own removal
/// always restores SIG_DFL, which would, say, make an inherited SIG_IGN deadly).
class signal_disposition {
public:
    /// Registers one more aio handler for `signum`; call before Asio installs its own.
    explicit signal_disposition(int signum) : signum_(signum) {
        std::lock_guard lock(mutex());
        entry& e = table()[signum];
        if (e.count++ == 0) {
            ::sigaction(signum, nullptr, &e.saved);
        }
    }
    signal_disposition(const signal_disposition&) = delete;
    signal_disposition& operator=(const signal_disposition&) = delete;
    /// Call after Asio removed its registration: the last aio handler gone, the saved
    /// disposition comes back (unless someone else installed a handler meanwhile).
    ~signal_disposition() {
        std::lock_guard lock(mutex());
        entry& e = table()[signum_];
        if (--e.count == 0) {
            struct sigaction now {};
            ::sigaction(signum_, nullptr, &now);
            if (now.sa_handler == SIG_DFL) {
                ::sigaction(signum_, &e.saved, nullptr);
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
    static std::map<int, entry>& table() {
        static auto* t = new std::map<int, entry>(); // never destroyed: signals outlive statics
        return *t;
    }
    int signum_;
};

/// The signal handlers of one loop: per signal, an Asio signal_set and the function it calls on
/// the loop each time the signal arrives. An exception the function throws is reported. A
/// handler may remove or replace itself. Loop thread only.
class signal_handlers {
public:
    signal_handlers(boost::asio::io_context& ctx, reporter& reports) noexcept
        : ctx_(&ctx), reports_(&reports) {}
    signal_handlers(const signal_handlers&) = delete;
    signal_handlers& operator=(const signal_handlers&) = delete;

    /// Runs fn(signum) on the loop each time signal `signum` arrives; replaces an earlier
    /// handler. A `fallback` handler (what aio::runner installs for SIGINT and SIGTERM) is
    /// replaced by a user's handler, never the reverse.
    void add(int signum, std::function<void(int)> fn, bool fallback) {
        auto found = entries_.find(signum);
        if (fallback && found != entries_.end()) {
            return;
        }
        if (found != entries_.end()) {
            entries_.erase(found); // deregister first: the disposition saved stays right
        }
        auto e = std::make_unique<entry>(*this, signum, std::move(fn));
        e->arm();
        entries_[signum] = std::move(e);
    }
    /// Removes the handler for `signum`; false if there was none.
    bool remove(int signum) { return entries_.erase(signum) > 0; }
    void clear() noexcept { entries_.clear(); }

private:
    /// One signal's set and handler. The pending wait holds only a weak link (`alive`), as the
    /// entry may be removed while the wait is queued. `disposition` comes before `set`: it saves
    /// the disposition before Asio's registration and restores it after Asio's removal.
    struct entry {
        entry(signal_handlers& owner, int signum, std::function<void(int)> f)
            : reports(owner.reports_), disposition(signum), set(*owner.ctx_, signum),
              fn(std::make_shared<const std::function<void(int)>>(std::move(f))) {}
        ~entry() { *alive = false; }
        void arm() {
            set.async_wait([this, alive = alive](boost::system::error_code ec, int signum) {
                if (ec || !*alive) {
                    return;
                }
                // The handler may remove or replace itself, destroying this entry: what the
                // rest of this function uses is copied out first.
                reporter* to = reports;
                std::shared_ptr<const std::function<void(int)>> running = fn;
                to->call_reporting("exception in a signal handler",
                                   [&running, signum] { (*running)(signum); });
                if (*alive) {
                    arm();
                }
            });
        }
        reporter* reports;
        signal_disposition disposition;
        // The loop's own executor type, not signal_set's any_io_executor: the same dispatch,
        // without instantiating the type-erased executor's conversion in every file.
        boost::asio::basic_signal_set<boost::asio::io_context::executor_type> set;
        std::shared_ptr<const std::function<void(int)>> fn;
        std::shared_ptr<bool> alive = std::make_shared<bool>(true);
    };

    boost::asio::io_context* ctx_;
    reporter* reports_;
    std::map<int, std::unique_ptr<entry>> entries_;
};

} // namespace aio::detail

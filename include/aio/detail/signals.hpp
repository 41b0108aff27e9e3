// aio/detail/signals.hpp - the signal handlers of a loop, and the process-wide part under them:
// aio's own handler, the dispositions it saved, and the thread that wakes the loops.
#pragma once

#include <aio/detail/reporting.hpp>
#include <aio/detail/task_executor.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/system/system_error.hpp>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <utility>

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

// Every file that runs a loop compiles this, so it is kept small: a plain sigaction handler that
// counts the signal and writes one byte to a pipe, a thread (pthread, no std::thread) that reads
// the pipe and posts one wake-up to each loop with handlers, and fixed tables indexed by the
// signal number. Asio's signal_set, which this replaces, brought its service and the reactor's
// descriptor path into every such file.

namespace aio::detail {

/// Signal numbers are 1 up to (not including) this bound.
#if defined(NSIG) && NSIG > 0
inline constexpr int signal_bound = NSIG;
#else
inline constexpr int signal_bound = 128;
#endif

class signal_handlers;

/// The process-wide part: per signal, how many loops handle it through aio and the disposition
/// it had before the first of them (restored after the last), and how often it has arrived;
/// the pipe aio's handler writes to, and the loops its watcher thread wakes.
class signal_hub {
public:
    /// Registers one more aio handler for `signum`. The first installs aio's handler and saves
    /// the disposition it replaces; the watcher thread starts with the first signal of the
    /// process (and again in a forked child). Throws boost::system::system_error if the signal
    /// cannot be caught (SIGKILL, SIGSTOP) or the pipe or thread cannot be made.
    [[gnu::cold]] static void hold(int signum) {
        std::lock_guard lock(the().mutex);
        start_watcher();
        entry& e = the().table[signum];
        if (e.count == 0) {
            struct sigaction mine {};
            mine.sa_sigaction = &on_signal;
            mine.sa_flags = SA_SIGINFO | SA_RESTART;
            sigfillset(&mine.sa_mask);
            if (::sigaction(signum, &mine, &e.saved) != 0) {
                fail(errno, "aio: cannot handle signal");
            }
        }
        ++e.count;
    }
    /// The last aio handler for `signum` gone, the saved disposition comes back (unless someone
    /// else installed a handler of their own meanwhile).
    [[gnu::cold]] static void release(int signum) noexcept {
        std::lock_guard lock(the().mutex);
        entry& e = the().table[signum];
        if (--e.count == 0) {
            struct sigaction now {};
            ::sigaction(signum, nullptr, &now);
            if ((now.sa_flags & SA_SIGINFO) != 0 && now.sa_sigaction == &on_signal) {
                ::sigaction(signum, &e.saved, nullptr);
            }
        }
    }

    /// True when `signum` has its default disposition and no aio handler: neither ignored (as a
    /// background job's SIGINT is) nor handled by the program itself.
    [[gnu::cold]] static bool is_default(int signum) {
        std::lock_guard lock(the().mutex);
        struct sigaction now {};
        ::sigaction(signum, nullptr, &now);
        return the().table[signum].count == 0 && now.sa_handler == SIG_DFL;
    }

    /// How many times `signum` has arrived since the process started (wrapping around).
    static unsigned arrivals(int signum) noexcept {
        return the().arrived[signum].load(std::memory_order_acquire);
    }

    /// Adds `h` to the loops the watcher wakes, or takes it out (then the watcher no longer
    /// touches it once this returns).
    static void watch(signal_handlers& h) noexcept;
    static void unwatch(signal_handlers& h) noexcept;

private:
    struct entry {
        int count = 0;
        struct sigaction saved {};
    };
    // Trivially destructible and constant-initialized: the handler and the watcher may use it at
    // any time, before other statics are made and after they are destroyed.
    struct state {
        std::mutex mutex;
        entry table[signal_bound];
        std::atomic<unsigned> arrived[signal_bound] = {};
        std::atomic<int> write_fd{-1}; // the pipe's write end, non-blocking
        int read_fd = -1;
        pid_t watcher_pid = 0;              // the process whose watcher reads read_fd
        signal_handlers* watched = nullptr; // the loops to wake, linked through next_
    };
    static state& the() noexcept {
        static constinit state s{};
        return s;
    }

    /// aio's handler, in signal context: counts the signal and wakes the watcher (a full pipe
    /// already holds a wake-up, so the byte is not needed then), then calls the handler it
    /// replaced, if that was a function: an Asio signal_set, or a program's own handler, made
    /// before aio's keeps receiving the signal.
    static void on_signal(int signum, siginfo_t* info, void* context) noexcept {
        int saved_errno = errno;
        the().arrived[signum].fetch_add(1, std::memory_order_release);
        int fd = the().write_fd.load(std::memory_order_acquire);
        if (fd >= 0) {
            unsigned char byte = 0;
            [[maybe_unused]] ssize_t written = ::write(fd, &byte, 1);
        }
        errno = saved_errno;
        const struct sigaction& before = the().table[signum].saved;
        if ((before.sa_flags & SA_SIGINFO) != 0) {
            if (before.sa_sigaction != nullptr && before.sa_sigaction != &on_signal) {
                before.sa_sigaction(signum, info, context);
            }
        } else if (before.sa_handler != SIG_DFL && before.sa_handler != SIG_IGN &&
                   before.sa_handler != nullptr) {
            before.sa_handler(signum);
        }
    }

    /// Under the mutex: makes the pipe and the watcher thread unless this process has them.
    /// The thread blocks every signal, so that signals go to the program's own threads.
    [[gnu::cold]] static void start_watcher() {
        state& s = the();
        pid_t pid = ::getpid();
        if (s.watcher_pid == pid) {
            return;
        }
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) {
            fail(errno, "aio: signal pipe");
        }
        ::fcntl(fds[1], F_SETFL, O_NONBLOCK);
        sigset_t all;
        sigset_t old;
        sigfillset(&all);
        ::pthread_sigmask(SIG_SETMASK, &all, &old);
        pthread_t thread;
        int error = ::pthread_create(&thread, nullptr, &watch_pipe,
                                     reinterpret_cast<void*>(static_cast<std::intptr_t>(fds[0])));
        ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
        if (error != 0) {
            ::close(fds[0]);
            ::close(fds[1]);
            fail(error, "aio: signal watcher thread");
        }
        ::pthread_detach(thread);
        // In a forked child the old pipe is the parent's, read by the parent's watcher; the
        // handler writes to the new one before the old one closes, so no wake-up is lost.
        int old_read = std::exchange(s.read_fd, fds[0]);
        int old_write = s.write_fd.exchange(fds[1], std::memory_order_acq_rel);
        if (old_read >= 0) {
            ::close(old_read);
            ::close(old_write);
        }
        s.watcher_pid = pid;
    }

    [[noreturn]] static void fail(int error, const char* what) {
        throw boost::system::system_error(
            boost::system::error_code(error, boost::system::system_category()), what);
    }

    /// The watcher thread: for each batch of bytes read, wakes every loop that handles signals.
    /// It runs as long as the process does.
    static void* watch_pipe(void* fd) noexcept;
};

/// The signal handlers of one loop: per signal, the function it calls on the loop each time the
/// signal arrives, and how many arrivals it has answered. The watcher posts one wake-up at a
/// time; the loop then calls the handler once for each new arrival of each signal it handles.
/// An exception a handler throws is reported. A handler may remove or replace itself. Loop
/// thread only, but for wake().
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
    /// a signal's, boost::system::system_error for a signal that cannot be caught.
    [[gnu::cold]] void add(int signum, std::function<void()> fn, bool fallback) {
        if (signum <= 0 || signum >= signal_bound) {
            throw std::invalid_argument("aio: no signal has this number");
        }
        if (has(signum)) {
            if (fallback) {
                return;
            }
            if (signum == running_) {
                replaced_ = true; // deliver() holds the function it is calling: not put back
            }
        } else {
            if (!active_) {
                active_ = std::make_unique<active>();
                signal_hub::watch(*this);
            }
            signal_hub::hold(signum);
            active_->installed[signum] = true;
        }
        active_->seen[signum] = signal_hub::arrivals(signum); // earlier arrivals are not its
        active_->handlers[signum] = std::move(fn);
    }
    /// Removes the handler for `signum`; false if there was none.
    [[gnu::cold]] bool remove(int signum) noexcept {
        if (!has(signum)) {
            return false;
        }
        if (signum == running_) {
            replaced_ = true;
        }
        active_->installed[signum] = false;
        active_->handlers[signum] = nullptr;
        signal_hub::release(signum);
        return true;
    }
    /// Removes every handler (the loop closes): the watcher no longer wakes this loop.
    [[gnu::cold]] void clear() noexcept {
        if (!active_) {
            return;
        }
        signal_hub::unwatch(*this);
        for (int signum = 1; signum < signal_bound; ++signum) {
            remove(signum);
        }
        active_.reset();
    }

    /// Calls the handlers of the signals that arrived since the last call, once per arrival;
    /// true if it called any. The watcher's wake-up calls it; so does a shutdown about to end,
    /// so that a signal raised on this thread is answered however late the watcher runs.
    [[gnu::cold]] bool deliver_arrived() {
        bool any = false;
        for (int signum = 1; active_ && signum < signal_bound; ++signum) {
            while (has(signum) && active_->seen[signum] != signal_hub::arrivals(signum)) {
                ++active_->seen[signum];
                deliver(signum);
                any = true;
            }
        }
        return any;
    }

    /// From the watcher thread (under signal_hub's mutex, so the loop is still open): posts one
    /// wake-up to the loop unless one is queued already.
    void wake() {
        if (!woken_.exchange(true, std::memory_order_acq_rel)) {
            post_plain(ctx_->get_executor(), [this] {
                woken_.store(false, std::memory_order_release);
                deliver_arrived();
            });
        }
    }

private:
    friend class signal_hub;

    struct active {
        std::function<void()> handlers[signal_bound];
        unsigned seen[signal_bound] = {}; // arrivals answered (or there before the handler)
        bool installed[signal_bound] = {};
    };

    bool has(int signum) const noexcept {
        return active_ && signum > 0 && signum < signal_bound && active_->installed[signum];
    }

    /// Calls the handler of `signum`. The handler may remove or replace itself, destroying its
    /// slot: the call runs on the function moved out of it, put back afterwards unless the slot
    /// changed meanwhile.
    [[gnu::cold]] void deliver(int signum) {
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
    std::unique_ptr<active> active_;  // made by the first add()
    int running_ = 0;                 // the signal whose handler deliver() is calling
    bool replaced_ = false;           // its handler was removed or replaced meanwhile
    std::atomic<bool> woken_{false};  // a wake-up is queued on the loop
    signal_handlers* next_ = nullptr; // in signal_hub's list of watched loops
};

inline void signal_hub::watch(signal_handlers& h) noexcept {
    std::lock_guard lock(the().mutex);
    h.next_ = the().watched;
    the().watched = &h;
}

inline void signal_hub::unwatch(signal_handlers& h) noexcept {
    std::lock_guard lock(the().mutex);
    for (signal_handlers** p = &the().watched; *p != nullptr; p = &(*p)->next_) {
        if (*p == &h) {
            *p = h.next_;
            return;
        }
    }
}

[[gnu::cold]] inline void* signal_hub::watch_pipe(void* fd) noexcept {
    int read_fd = static_cast<int>(reinterpret_cast<std::intptr_t>(fd));
    unsigned char bytes[64];
    for (;;) {
        ssize_t n = ::read(read_fd, bytes, sizeof bytes);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return nullptr;
        }
        std::lock_guard lock(the().mutex);
        for (signal_handlers* h = the().watched; h != nullptr; h = h->next_) {
            try {
                h->wake();
            } catch (...) {
                // no memory for the wake-up: the next signal, or the shutdown, delivers it
            }
        }
    }
}

} // namespace aio::detail

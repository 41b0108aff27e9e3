// aio/detail/core.hpp - the loop's state and the shared state behind task<T> and future<T>.
#pragma once

#include <aio/detail/deadline_queue.hpp>
#include <aio/detail/intrusive_list.hpp>
#include <aio/detail/suspend.hpp>
#include <aio/detail/task_executor.hpp>
#include <aio/error.hpp>
#include <aio/exception_handler.hpp>
#include <aio/outcome.hpp>

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace aio::detail {

class state_base;

/// Told, on the loop and synchronously, when a task or future finishes. Implementations only
/// record or post: they never resume a coroutine inline.
class done_waiter : public list_hook {
public:
    virtual void on_done(state_base& finished) = 0;
    /// Frees a node that owns itself (a done callback) when it is removed unrun.
    virtual void dispose() noexcept {}
    /// Non-zero for callbacks added by add_done_callback (the id remove_done_callback takes).
    std::uint64_t callback_id_ = 0;

protected:
    ~done_waiter() = default;
};

/// Something another thread hands to a loop to run there (an executor job's result). Nodes are
/// intrusive: handing over allocates nothing.
class handed_over {
public:
    /// Runs on the loop. Must not throw: the items after it in the batch run too.
    virtual void run_on_loop() noexcept = 0;
    /// The loop closed before it ran: release it, on the loop's thread.
    virtual void discard() noexcept = 0;

protected:
    ~handed_over() = default;

private:
    friend class loop_core;
    handed_over* next_handed_ = nullptr;
};

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

/// One event loop: an io_context run by one thread, the tasks on it, its default thread pool
/// for to_thread, and the reporter of lost errors. Owned by aio::loop handles (aio::runner and
/// aio::new_event_loop make one); shared so that other threads can still ask whether it is open.
class loop_core : public std::enable_shared_from_this<loop_core> {
public:
    loop_core()
        : ctx_(std::make_unique<boost::asio::io_context>(1)), ready_(*ctx_),
          deadlines_(*ctx_, ready_), open_ctx_(ctx_.get()), work_(ctx_->get_executor()),
          id_(next_loop_id()) {}
    /// A loop dropped without close() is closed as loop.close() closes it.
    ~loop_core();
    loop_core(const loop_core&) = delete;
    loop_core& operator=(const loop_core&) = delete;

    boost::asio::io_context& context() const noexcept { return *ctx_; }
    boost::asio::io_context::executor_type executor() const noexcept {
        return ctx_->get_executor();
    }
    /// Unique among all loops of the process, never reused (objects bound to a loop keep it).
    std::uint64_t id() const noexcept { return id_; }
    /// What runs at the loop's next turn: tasks starting and awaits woken (loop thread only).
    ready_queue& ready() noexcept { return ready_; }
    /// The loop's deadlines: sleeps and timeouts (loop thread only).
    deadline_queue& deadlines() noexcept { return deadlines_; }

    // --- tasks (loop thread only) ---
    intrusive_list<state_base>& tasks() noexcept { return tasks_; }
    std::uint64_t next_task_id() noexcept { return next_task_id_++; }
    void add_unretrieved(state_base& s) noexcept;

    // --- reporting (loop thread only) ---
    void set_exception_handler(exception_handler h) { handler_ = std::move(h); }
    void report(const exception_context& ctx) noexcept {
        try {
            if (handler_) {
                handler_(ctx);
            } else {
                default_exception_handler(ctx);
            }
        } catch (...) {
            default_exception_handler(
                {"exception in the exception handler", std::current_exception(), {}});
        }
    }
    /// Reports every error still unretrieved and detaches those states from this loop.
    void report_unretrieved() noexcept;

    // --- any thread ---
    /// Posts f to the loop; false (f dropped) once the loop is closed.
    template <class F>
    bool post_threadsafe(F&& f) {
        std::lock_guard lock(mutex_);
        if (open_ctx_ == nullptr) {
            return false;
        }
        boost::asio::post(*open_ctx_, std::forward<F>(f));
        return true;
    }
    bool is_closed() const {
        std::lock_guard lock(mutex_);
        return open_ctx_ == nullptr;
    }
    /// Queues `item` to run on the loop; false (not taken) once the loop is closed. Items
    /// handed over while the loop has not run the previous ones yet join their batch: one post,
    /// one wake-up of the loop's thread, for all of them (executor jobs ending together).
    bool hand_over(handed_over& item) {
        std::lock_guard lock(mutex_);
        if (open_ctx_ == nullptr) {
            return false;
        }
        if (handed_tail_ != nullptr) {
            handed_tail_->next_handed_ = &item;
        } else {
            handed_head_ = &item;
        }
        handed_tail_ = &item;
        if (!handed_posted_) {
            handed_posted_ = true;
            boost::asio::post(*open_ctx_, [this] { run_handed_over(); });
        }
        return true;
    }

    // --- executor jobs: counted so that shutdown can wait for them ---
    // The count is atomic so that starting and finishing a job take no lock: the loop and the
    // pool's threads would otherwise contend for mutex_ on every job. Only the last job to
    // finish takes it, to wake a shutdown waiting for the jobs.
    void job_started() noexcept { jobs_.fetch_add(1, std::memory_order_relaxed); }
    void job_finished() noexcept {
        if (jobs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            std::lock_guard lock(mutex_);
            if (wake_when_idle_ && open_ctx_ != nullptr) {
                boost::asio::post(*open_ctx_, [] {}); // a shutdown runs the loop until idle
            }
        }
    }
    std::size_t running_jobs() const { return jobs_.load(std::memory_order_acquire); }
    /// While set, the last job to finish wakes the loop (shutdown waits for jobs by running it).
    void wake_when_idle(bool on) {
        std::lock_guard lock(mutex_);
        wake_when_idle_ = on;
    }

    /// The pool behind to_thread, created on first use: min(32, cores + 4) threads, as
    /// Python's default ThreadPoolExecutor. Loop thread only.
    boost::asio::thread_pool& default_pool() {
        if (!pool_) {
            unsigned cores = std::max(1u, std::thread::hardware_concurrency());
            pool_ = std::make_unique<boost::asio::thread_pool>(std::min(32u, cores + 4));
        }
        return *pool_;
    }
    /// Joins the pool (all jobs are done) or leaves its threads to finish on their own:
    /// joining would block for as long as a job runs.
    void release_pool(bool join) {
        if (!pool_) {
            return;
        }
        if (join) {
            pool_->join();
            pool_.reset();
        } else {
            pool_->stop();
            keep_forever(std::shared_ptr<void>(pool_.release(), [](void*) {}));
        }
    }

    // --- task starts (loop thread only) ---
    /// Queues a new task's first step in the ready queue (asyncio's call_soon order among
    /// tasks and woken awaits: one trip through the io_context per batch instead of one per
    /// task). The queue owns the task's "running" reference.
    void schedule_start(state_base& s);

    // --- signal handlers (loop thread only) ---
    /// Runs fn(signum) on the loop each time signal `signum` arrives; replaces an earlier
    /// handler. A `fallback` handler (what aio::runner installs for SIGINT and SIGTERM) is
    /// replaced by a user's handler, never the reverse.
    void add_signal_handler(int signum, std::function<void(int)> fn, bool fallback = false) {
        auto found = signal_handlers_.find(signum);
        if (fallback && found != signal_handlers_.end()) {
            return;
        }
        if (found != signal_handlers_.end()) {
            signal_handlers_.erase(found); // deregister first: the disposition saved stays right
        }
        auto entry = std::make_unique<signal_entry>(*this, signum, std::move(fn));
        entry->arm();
        signal_handlers_[signum] = std::move(entry);
    }
    /// Removes the handler for `signum`: the signal does again what it did before aio handled
    /// it (for SIGINT and SIGTERM by default, end the process). False if there was none.
    bool remove_signal_handler(int signum) { return signal_handlers_.erase(signum) > 0; }

    // --- running (loop thread only) ---
    bool is_running() const noexcept { return running_; }
    /// Runs the io_context until stop(); if stop() came while it was not running, runs what is
    /// ready once (asyncio's run_forever after stop).
    void run_until_stopped() {
        struct reset {
            loop_core& core;
            ~reset() {
                core.running_ = false;
                core.stop_requested_ = false;
            }
        } on_exit{*this};
        running_ = true;
        ++runs_;
        ctx_->restart();
        if (stop_requested_) {
            // Once: what is queued now runs, what it queues waits (poll() would also run that,
            // and a task yielding in a loop would keep it going forever). A marker left queued
            // by a run that stopped earlier does not stop a later one.
            boost::asio::post(*ctx_, [this, run = runs_] {
                if (run == runs_) {
                    ctx_->stop();
                }
            });
        }
        ctx_->run();
    }
    /// Runs one handler, waiting for one if none is ready (a shutdown drives the loop this way).
    std::size_t run_one() {
        running_ = true;
        std::size_t ran = ctx_->run_one();
        running_ = false;
        return ran;
    }
    /// Makes run_until_stopped return once the handler under way is done.
    void stop() noexcept {
        stop_requested_ = true;
        if (running_) {
            ctx_->stop();
        }
    }

    /// Hands the default pool over (shutdown_default_executor joins it elsewhere); the next
    /// to_thread makes a new one.
    std::shared_ptr<boost::asio::thread_pool> take_pool() { return std::move(pool_); }

    // --- closing ---
    /// loop.close: abandons the tasks still pending (each reported) or, when there are none,
    /// closes for good; executor jobs still running are reported and left to finish.
    void close_now() noexcept;
    /// Loop thread: the loop no longer takes work from other threads.
    void mark_closed() {
        std::lock_guard lock(mutex_);
        open_ctx_ = nullptr;
    }
    /// Closes a loop whose tasks have all ended: drops what is still queued (never run), frees
    /// the io_context and reports errors no one retrieved. Idempotent.
    void close_finished() noexcept;
    /// Closes a loop that still has tasks parked (a hard stop, or tasks that outlived the
    /// shutdown timeout): nothing more runs, and nothing is destroyed. Destroying parked
    /// coroutines in no particular order would run destructors against objects that other
    /// coroutines' frames already freed; so the loop, its io_context and every frame parked in
    /// it are kept, unreachable to the program but reachable (no leak is reported), until the
    /// process exits. Done callbacks are dropped, so that a std::future waiting on a task (see
    /// run_coroutine_threadsafe) gets broken_promise instead of waiting forever.
    void abandon() noexcept;
    /// close_finished() if every task has ended, abandon() otherwise.
    void abandon_or_close() noexcept {
        if (tasks_.empty()) {
            close_finished();
        } else {
            abandon();
        }
    }
    bool closed_here() const noexcept { return ctx_closed_; }

    /// Keeps what a shutdown gave up on (a pool whose threads still run a job, a loop with parked
    /// coroutines) reachable until the process exits: destroying it would block or free memory
    /// still in use.
    static void keep_forever(std::shared_ptr<void> p) {
        static std::mutex mutex;
        static auto* kept = new std::vector<std::shared_ptr<void>>(); // never destroyed
        std::lock_guard lock(mutex);
        kept->push_back(std::move(p));
    }

private:
    friend class state_base;

    handed_over* take_handed_over() noexcept {
        std::lock_guard lock(mutex_);
        handed_posted_ = false;
        handed_tail_ = nullptr;
        return std::exchange(handed_head_, nullptr);
    }
    void run_handed_over() noexcept {
        handed_over* batch = take_handed_over();
        while (handed_over* item = batch) {
            batch = std::exchange(item->next_handed_, nullptr);
            item->run_on_loop();
        }
    }
    /// The loop closes (nothing can be handed over any more): what was handed over and not run
    /// is released here, on the loop's thread.
    void discard_handed_over() noexcept {
        handed_over* batch = take_handed_over();
        while (handed_over* item = batch) {
            batch = std::exchange(item->next_handed_, nullptr);
            item->discard();
        }
    }

    static std::uint64_t next_loop_id() noexcept {
        static std::atomic<std::uint64_t> next{1};
        return next.fetch_add(1, std::memory_order_relaxed);
    }

    /// One signal's set and handler. The pending wait holds only a weak link (`alive`), as the
    /// entry may be removed while the wait is queued. `disposition` comes before `set`: it saves
    /// the disposition before Asio's registration and restores it after Asio's removal.
    struct signal_entry {
        signal_entry(loop_core& owner, int signum, std::function<void(int)> f)
            : core(&owner), disposition(signum), set(*owner.ctx_, signum),
              fn(std::make_shared<const std::function<void(int)>>(std::move(f))) {}
        ~signal_entry() { *alive = false; }
        void arm() {
            set.async_wait([this, alive = alive](boost::system::error_code ec, int signum) {
                if (ec || !*alive) {
                    return;
                }
                // The handler may remove or replace itself, destroying this entry: what the
                // rest of this function uses is copied out first.
                loop_core* owner = core;
                std::shared_ptr<const std::function<void(int)>> running = fn;
                try {
                    (*running)(signum);
                } catch (...) {
                    owner->report({"exception in a signal handler", std::current_exception(), {}});
                }
                if (*alive) {
                    arm();
                }
            });
        }
        loop_core* core;
        signal_disposition disposition;
        boost::asio::signal_set set;
        std::shared_ptr<const std::function<void(int)>> fn;
        std::shared_ptr<bool> alive = std::make_shared<bool>(true);
    };

    std::unique_ptr<boost::asio::io_context> ctx_;
    ready_queue ready_;
    deadline_queue deadlines_;
    std::map<int, std::unique_ptr<signal_entry>> signal_handlers_;
    intrusive_list<state_base> tasks_;
    intrusive_list<state_base> unretrieved_;
    std::uint64_t next_task_id_ = 1;
    exception_handler handler_;

    mutable std::mutex mutex_;
    boost::asio::io_context* open_ctx_;
    handed_over* handed_head_ = nullptr; // under mutex_
    handed_over* handed_tail_ = nullptr;
    bool handed_posted_ = false;
    bool wake_when_idle_ = false;
    std::atomic<std::size_t> jobs_{0};
    std::unique_ptr<boost::asio::thread_pool> pool_;
    /// Keeps io_context::run waiting while tasks are parked with nothing queued (tasks start
    /// without per-task work counting; see detail::start_task).
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
    bool ctx_closed_ = false;
    bool running_ = false;
    bool stop_requested_ = false;
    std::uint64_t runs_ = 0;
    std::uint64_t id_;
};

/// The loop running on this thread (asyncio's running loop), or nullptr.
inline thread_local loop_core* running_loop = nullptr;

/// Reports through the exception handler of the loop running on this thread, or the default
/// handler when no loop runs here (what runs outside any loop: a destructor, a generator closed
/// after its loop ended).
inline void report_here(const exception_context& ctx) noexcept {
    if (running_loop != nullptr) {
        running_loop->report(ctx);
    } else {
        default_exception_handler(ctx);
    }
}

inline loop_core& require_running_loop() {
    if (running_loop == nullptr) {
        throw std::logic_error("aio: no running loop on this thread (call from inside aio::run)");
    }
    return *running_loop;
}

/// Makes `core` this thread's running loop for the scope. Throws std::logic_error if another
/// loop already runs on this thread (one thread runs one loop at a time, as in asyncio).
class running_scope {
public:
    explicit running_scope(loop_core& core)
        : previous_(running_loop), previous_ready_(current_ready_queue) {
        if (previous_ != nullptr && previous_ != &core) {
            throw std::logic_error("aio: another loop is already running on this thread");
        }
        running_loop = &core;
        current_ready_queue = &core.ready();
    }
    ~running_scope() {
        running_loop = previous_;
        current_ready_queue = previous_ready_;
    }
    running_scope(const running_scope&) = delete;
    running_scope& operator=(const running_scope&) = delete;

private:
    loop_core* previous_;
    ready_queue* previous_ready_;
};

/// What a loop-affine object (a task, a queue, a lock...) checks before touching its state: that
/// no other loop than its own runs on this thread. Used from another loop's thread it would race
/// on reference counts and waiter lists; used from a new loop after its own ended it would touch
/// waiters that are gone. (With no loop running on this thread - a loop driven by hand, between
/// two run_until_complete calls - there is nothing to compare with, and the call goes ahead.)
/// `what` names the object in the message.
inline void require_loop(const loop_core* owner, const char* what) {
    if (owner != nullptr && running_loop != nullptr && owner != running_loop) {
        throw std::logic_error(std::string("aio: ") + what +
                               " belongs to another event loop; cross loops and threads with "
                               "call_soon_threadsafe, run_coroutine_threadsafe or thread_queue");
    }
}

/// The loop a loop-affine primitive (a queue, an event, a lock...) belongs to: the first loop
/// that uses it, as asyncio's primitives bind to the loop of their first wait. A use from
/// another loop later - on another thread, or after its loop ended - throws std::logic_error.
class loop_binding {
public:
    void use(const char* what) {
        const loop_core* here = running_loop;
        if (here == nullptr) {
            return;
        }
        if (id_ == 0) {
            id_ = here->id();
        } else if (id_ != here->id()) {
            throw std::logic_error(std::string("aio: ") + what +
                                   " is bound to another event loop (the first loop that used "
                                   "it); make one per loop, or cross loops with thread_queue");
        }
    }

private:
    std::uint64_t id_ = 0;
};

/// Wraps a callback for the loop: an exception it throws is reported, and the loop goes on
/// (asyncio's "Exception in callback").
template <class F>
auto reporting(loop_core& loop, F&& fn) {
    return [core = loop.shared_from_this(), fn = std::forward<F>(fn)]() mutable {
        try {
            fn();
        } catch (...) {
            core->report({"exception in a callback", std::current_exception(), {}});
        }
    };
}

enum class status : std::uint8_t { pending, value, error, cancelled };

/// What task<T> and future<T> share: status, exception, waiters, reference count, and for
/// tasks the cancellation signal bound to the coroutine and a name. Loop-affine.
class state_base : public list_hook, public ready_item, public parking_spot {
public:
    state_base(loop_core* loop, bool is_task) noexcept : loop_(loop), is_task_(is_task) {}
    state_base(const state_base&) = delete;
    state_base& operator=(const state_base&) = delete;

    void add_ref() noexcept { ++refs_; }
    void release() noexcept {
        if (--refs_ == 0) {
            if (linked() && st_ == status::error && !retrieved_ && loop_ != nullptr) {
                report_unretrieved_now();
            }
            delete this;
        }
    }

    bool done() const noexcept { return st_ != status::pending; }
    bool is_cancelled() const noexcept { return st_ == status::cancelled; }
    bool is_task() const noexcept { return is_task_; }
    status result_status() const noexcept { return st_; }
    loop_core* loop() const noexcept { return loop_; }

    /// Requests cancellation. A task: the signal reaches the operation its coroutine is parked
    /// on, or its next await (Asio records it). A future: it becomes cancelled now.
    bool cancel() {
        if (done()) {
            return false;
        }
        if (is_task_) {
            ++cancel_requests_;
            if (emitting_) {
                return true; // a cycle of awaits led back here: the emission under way suffices
            }
            if (first_step_) {
                defer_cancel();
            } else {
                emitting_ = true;
                emit_cancel();
                emitting_ = false;
            }
        } else {
            finish_cancelled();
        }
        return true;
    }
    std::uint32_t cancel_requests() const noexcept { return cancel_requests_; }
    /// Sends a pending request again without counting a new one, at the loop's next turn (when
    /// the task is parked in its next await): for a cancellation that was consumed on the way
    /// but must still stop the task (task_group's exit replacing it with exception_group).
    void redeliver_cancel() {
        if (is_task_ && !done() && cancel_requests_ > 0) {
            defer_cancel();
        }
    }
    std::uint32_t uncancel() noexcept {
        if (cancel_requests_ > 0) {
            --cancel_requests_;
        }
        return cancel_requests_;
    }
    boost::asio::cancellation_slot cancellation_slot() noexcept { return signal_.slot(); }

    /// The exception the result ends with (a cancelled_error when cancelled), or nullptr.
    /// Marks it retrieved. Throws invalid_state_error while pending.
    std::exception_ptr exception() {
        require_done();
        mark_retrieved();
        return exception_;
    }
    void mark_retrieved() noexcept {
        retrieved_ = true;
        if (st_ == status::error) {
            unlink();
        }
    }
    void require_done() const {
        if (!done()) {
            throw invalid_state_error("aio: result is not ready");
        }
    }
    /// Rethrows the exception, if the state ended with one (marks it retrieved).
    void rethrow_if_failed() {
        require_done();
        if (st_ != status::value) {
            mark_retrieved();
            std::rethrow_exception(exception_);
        }
    }

    void add_waiter(done_waiter& w) noexcept { waiters_.push_back(w); }

    /// Calls on_done of every waiter now (they post), then forgets them.
    void notify_done() {
        while (done_waiter* w = waiters_.pop_front()) {
            w->on_done(*this);
        }
    }

    /// Frees the done callbacks (add_done_callback) without running them.
    void drop_callbacks() noexcept { remove_callback(0); }

    /// Removes the done callback `id` (every callback if `id` is 0); returns how many.
    std::size_t remove_callback(std::uint64_t id) noexcept {
        std::size_t removed = 0;
        waiters_.for_each([&](done_waiter& w) {
            if (w.callback_id_ != 0 && (id == 0 || w.callback_id_ == id)) {
                w.unlink();
                w.dispose();
                ++removed;
            }
        });
        return removed;
    }

    std::string name() const {
        if (name_) {
            return *name_;
        }
        return (is_task_ ? "Task-" : "Future-") + std::to_string(id_);
    }
    void set_name(std::string n) { name_ = std::make_unique<std::string>(std::move(n)); }
    void set_id(std::uint64_t id) noexcept { id_ = id; }

    /// Finishing, for the value-less outcomes; state<T> adds the value one.
    void finish_error(std::exception_ptr e) {
        exception_ = std::move(e);
        finish(status::error);
    }
    void finish_cancelled(std::exception_ptr e = nullptr) {
        exception_ = e ? std::move(e) : std::make_exception_ptr(cancelled_error());
        finish(status::cancelled);
    }
    /// A task's coroutine ended with an exception: cancelled if it is a cancelled_error, or an
    /// Asio operation_aborted after cancel() was called; an error otherwise.
    void finish_exception(std::exception_ptr e) {
        bool cancelled = false;
        try {
            std::rethrow_exception(e);
        } catch (const cancelled_error&) {
            cancelled = true;
        } catch (const boost::system::system_error& se) {
            cancelled = cancel_requests_ > 0 && se.code() == boost::asio::error::operation_aborted;
            if (cancelled) {
                e = std::make_exception_ptr(cancelled_error());
            }
        } catch (...) {
        }
        if (cancelled) {
            finish_cancelled(std::move(e));
        } else {
            finish_error(std::move(e));
        }
    }

    /// Runs a scheduled task's first step (tasks override it). Called once, by the loop.
    virtual void start() {}
    void run_ready() final { start(); }
    /// The loop closed before the task started: the queue's reference goes.
    void discard_ready() noexcept final { release(); }

    /// Records an address inside the task's bottom coroutine frame. Nothing reads it: it keeps
    /// the frame (and the stack above it) reachable for leak checkers when a loop abandoned with
    /// the task parked keeps this state (see loop_core::abandon).
    void anchor_frame(const void* inside) noexcept { frame_ = inside; }

    /// Brackets a task's first step, which co_spawn runs inline (see defer_cancel).
    void set_first_step(bool running) noexcept { first_step_ = running; }

protected:
    virtual ~state_base() {
        while (done_waiter* w = waiters_.pop_front()) {
            w->dispose();
        }
    }

    void finish(status s) {
        add_ref(); // a waiter told of the end may drop the last other reference
        st_ = s;
        unlink(); // from the loop's pending tasks
        if (s == status::error && !retrieved_ && loop_ != nullptr) {
            loop_->add_unretrieved(*this);
        }
        notify_done();
        release();
    }

private:
    /// What the loop reports for an exception nobody retrieved (asyncio's wording).
    exception_context unretrieved_report() const {
        return {is_task_ ? "Task exception was never retrieved"
                         : "Future exception was never retrieved",
                exception_, name()};
    }
    void report_unretrieved_now() noexcept {
        unlink();
        loop_->report(unretrieved_report());
    }
    friend class loop_core;
    void defer_cancel();
    /// Cancels the coroutine: Asio's signal reaches its cancellation state and the operation
    /// it is parked on; an aio await parked in the task's own stack is told directly.
    void emit_cancel() {
        signal_.emit(boost::asio::cancellation_type::terminal);
        if (waiter* w = parked()) {
            w->cancel_if_recorded();
        }
    }

    std::uint32_t refs_ = 1;
    status st_ = status::pending;
    bool retrieved_ = false;
    bool first_step_ = false;
    bool cancel_deferred_ = false;
    bool emitting_ = false;
    std::uint32_t cancel_requests_ = 0;
    loop_core* loop_;
    bool is_task_;
    std::exception_ptr exception_;
    intrusive_list<done_waiter> waiters_;
    boost::asio::cancellation_signal signal_;
    std::uint64_t id_ = 0;
    std::unique_ptr<std::string> name_;
    const void* frame_ = nullptr;
};

/// state_base plus the value.
template <class T>
class state : public state_base {
public:
    using value_type = result_t<T>;
    using state_base::state_base;

    void finish_value(value_type v) {
        value_.emplace(std::move(v));
        finish(status::value);
    }
    /// Stores the value without finishing (for values co_spawn cannot carry).
    void stash(value_type v) { value_.emplace(std::move(v)); }
    void finish_stashed() { finish(status::value); }

    /// The value, or the exception rethrown. Copies when it can, so a task can be awaited many
    /// times; a move-only value is moved out (it can be taken once).
    value_type take() {
        rethrow_if_failed();
        if constexpr (std::is_copy_constructible_v<value_type>) {
            return *value_;
        } else {
            return std::move(*value_);
        }
    }
    const value_type& value() {
        rethrow_if_failed();
        return *value_;
    }

private:
    std::optional<value_type> value_;
};

/// The task whose coroutine runs on `ex` (what this_coro::executor gives), or nullptr.
inline state_base* task_of(const boost::asio::any_io_executor& ex) noexcept {
    return static_cast<state_base*>(task_spot_of(ex));
}

inline void loop_core::add_unretrieved(state_base& s) noexcept {
    unretrieved_.push_back(s);
}

inline void loop_core::report_unretrieved() noexcept {
    while (state_base* s = unretrieved_.pop_front()) {
        report(s->unretrieved_report());
        s->retrieved_ = true;
        s->loop_ = nullptr;
    }
}

inline void loop_core::schedule_start(state_base& s) {
    ready_.push(s);
}

inline void loop_core::close_finished() noexcept {
    if (ctx_closed_) {
        return;
    }
    ctx_closed_ = true;
    release_pool(running_jobs() == 0);
    mark_closed();
    signal_handlers_.clear();
    work_.reset();
    discard_handed_over();
    ready_.discard_all(); // awaits of coroutines that are not tasks, woken but not run
    deadlines_.close();
    ctx_.reset(); // destroys handlers still queued; every task has ended, so no parked frame
    report_unretrieved();
}

inline void loop_core::close_now() noexcept {
    if (ctx_closed_) {
        return;
    }
    std::size_t jobs = running_jobs();
    if (jobs > 0) {
        report({"executor jobs still running when the loop closed were abandoned (" +
                    std::to_string(jobs) + " job(s))",
                nullptr,
                {}});
    }
    release_pool(jobs == 0);
    tasks_.for_each([this](state_base& s) {
        report({"Task was abandoned pending when its loop closed", nullptr, s.name()});
    });
    abandon_or_close();
}

inline void loop_core::abandon() noexcept {
    if (ctx_closed_) {
        return;
    }
    ctx_closed_ = true;
    release_pool(running_jobs() == 0);
    mark_closed();
    signal_handlers_.clear();
    work_.reset();
    tasks_.for_each([](state_base& s) { s.drop_callbacks(); });
    report_unretrieved();
    keep_forever(shared_from_this());
}

/// An owning pointer to a state (intrusive count; loop-affine).
template <class S>
class ref {
public:
    ref() noexcept = default;
    /// Adopts one reference already counted for it.
    static ref adopt(S* p) noexcept {
        ref r;
        r.p_ = p;
        return r;
    }
    explicit ref(S* p) noexcept : p_(p) {
        if (p_) {
            p_->add_ref();
        }
    }
    ref(const ref& o) noexcept : ref(o.p_) {}
    ref(ref&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    template <class U>
    requires std::is_convertible_v<U*, S*> ref(const ref<U>& o)
    noexcept : ref(o.get()) {}
    ref& operator=(ref o) noexcept {
        std::swap(p_, o.p_);
        return *this;
    }
    ~ref() {
        if (p_) {
            p_->release();
        }
    }
    S* get() const noexcept { return p_; }
    S* operator->() const noexcept { return p_; }
    S& operator*() const noexcept { return *p_; }
    explicit operator bool() const noexcept { return p_ != nullptr; }
    S* release() noexcept { return std::exchange(p_, nullptr); }

private:
    S* p_ = nullptr;
};

inline loop_core::~loop_core() {
    if (ctx_closed_) {
        return;
    }
    // As close_now(), but this loop cannot keep itself: what stays parked is kept without it.
    struct kept {
        std::unique_ptr<boost::asio::io_context> ctx;
        std::vector<ref<state_base>> tasks;
    };
    ctx_closed_ = true;
    mark_closed();
    signal_handlers_.clear();
    work_.reset();
    release_pool(running_jobs() == 0);
    if (tasks_.empty()) {
        discard_handed_over();
        ready_.discard_all();
        deadlines_.close();
        ctx_.reset();
        report_unretrieved();
        return;
    }
    auto frozen = std::make_shared<kept>();
    frozen->ctx = std::move(ctx_);
    while (state_base* s = tasks_.pop_front()) {
        report({"Task was abandoned pending when its loop closed", nullptr, s->name()});
        s->drop_callbacks();
        s->loop_ = nullptr;
        frozen->tasks.emplace_back(s);
    }
    report_unretrieved();
    keep_forever(std::move(frozen));
}

/// cancel() called while the task's own first step runs - the task cancelling itself, or code it
/// calls cancelling every task. co_spawn runs that step inline, and in Asio 1.81 a coroutine
/// that records a cancellation and ends before its first suspension makes co_spawn throw out of
/// the loop's run(). So the emission waits for the loop's next turn, when the task is parked (its
/// await then throws cancelled_error) or done.
inline void state_base::defer_cancel() {
    if (cancel_deferred_ || loop_ == nullptr) {
        return;
    }
    cancel_deferred_ = true;
    boost::asio::post(loop_->context(), [self = ref<state_base>(this)] {
        self->cancel_deferred_ = false;
        if (!self->done() && self->cancel_requests_ > 0) { // not withdrawn by uncancel meanwhile
            self->emit_cancel();
        }
    });
}

} // namespace aio::detail

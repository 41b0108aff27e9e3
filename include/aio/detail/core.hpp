// aio/detail/core.hpp - the loop's state and the shared state behind task<T> and future<T>.
#pragma once

#include <aio/detail/intrusive_list.hpp>
#include <aio/detail/suspend.hpp>
#include <aio/error.hpp>
#include <aio/exception_handler.hpp>
#include <aio/outcome.hpp>

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
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

/// One event loop: an io_context run by one thread, the tasks on it, its default thread pool
/// for to_thread, and the reporter of lost errors. Owned by aio::runner; shared (through
/// aio::loop handles) so that other threads can still ask whether it is open.
class loop_core : public std::enable_shared_from_this<loop_core> {
public:
    explicit loop_core(boost::asio::io_context& ctx) : ctx_(&ctx), open_ctx_(&ctx) {}
    loop_core(const loop_core&) = delete;
    loop_core& operator=(const loop_core&) = delete;

    boost::asio::io_context& context() const noexcept { return *ctx_; }
    boost::asio::io_context::executor_type executor() const noexcept {
        return ctx_->get_executor();
    }

    // --- tasks (loop thread only) ---
    intrusive_list<state_base>& tasks() noexcept { return tasks_; }
    std::uint64_t next_task_id() noexcept { return next_task_id_++; }
    /// Tasks that shutdown cancelled and that have not ended yet.
    std::size_t shutdown_pending() const noexcept { return shutdown_pending_; }
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
    void mark_closed() {
        std::lock_guard lock(mutex_);
        open_ctx_ = nullptr;
    }

    // --- executor jobs: counted so that shutdown can wait for them ---
    // The count is atomic so that starting and finishing a job take no lock: the loop and the
    // pool's threads would otherwise contend for mutex_ on every job. Only the last job to
    // finish takes it, to wake a shutdown waiting in wait_jobs.
    void job_started() noexcept { jobs_.fetch_add(1, std::memory_order_relaxed); }
    void job_finished() noexcept {
        if (jobs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            std::lock_guard lock(mutex_); // a waiter is either before its check or asleep
            jobs_cv_.notify_all();
        }
    }
    /// Waits until no job is running or the deadline passes; true if none is running.
    bool wait_jobs(std::chrono::steady_clock::time_point deadline) {
        std::unique_lock lock(mutex_);
        return jobs_cv_.wait_until(lock, deadline, [&] { return running_jobs() == 0; });
    }
    std::size_t running_jobs() const { return jobs_.load(std::memory_order_acquire); }

    /// The pool behind to_thread, created on first use: min(32, cores + 4) threads, as
    /// Python's default ThreadPoolExecutor. Loop thread only.
    boost::asio::thread_pool& default_pool() {
        if (!pool_) {
            unsigned cores = std::max(1u, std::thread::hardware_concurrency());
            pool_ = std::make_unique<boost::asio::thread_pool>(std::min(32u, cores + 4));
        }
        return *pool_;
    }
    /// Joins the pool (all jobs are done) or, after a timed-out shutdown, leaves its threads
    /// to finish on their own: joining would block for as long as the job runs.
    void release_pool(bool join) {
        if (!pool_) {
            return;
        }
        if (join) {
            pool_->join();
            pool_.reset();
        } else {
            pool_->stop();
            abandon(pool_.release());
        }
    }

    /// Detaches the states still linked to this loop (their loop is going away).
    void detach_all() noexcept;

    // --- task starts (loop thread only) ---
    /// Queues a new task's first step. One posted handler starts every task queued before it
    /// runs (asyncio's call_soon order among tasks, one trip through the io_context per batch
    /// instead of one per task). The queue owns the task's "running" reference.
    void schedule_start(state_base& s);
    /// Starts the tasks queued so far; tasks they create wait for the next batch.
    void start_queued();
    /// Drops queued starts that will never run (the loop is closing).
    void discard_queued() noexcept;
    /// Empties the start queue, calling each(state) in order.
    template <class F>
    void take_queued(F&& each);

    // --- signal handlers (loop thread only) ---
    /// Runs fn on the loop each time signal `signum` arrives; replaces an earlier handler.
    void add_signal_handler(int signum, std::function<void()> fn) {
        auto entry = std::make_unique<signal_entry>(*this, signum, std::move(fn));
        entry->arm();
        signal_handlers_[signum] = std::move(entry);
    }
    bool remove_signal_handler(int signum) { return signal_handlers_.erase(signum) > 0; }
    bool has_signal_handler(int signum) const { return signal_handlers_.count(signum) > 0; }
    void clear_signal_handlers() { signal_handlers_.clear(); }

private:
    friend class state_base;

    /// Pools left running after a timed-out shutdown. Never destroyed: destroying one would
    /// join it, blocking until its job returns; kept reachable so nothing counts as leaked.
    static void abandon(boost::asio::thread_pool* pool) {
        static std::mutex mutex;
        static auto* pools = new std::vector<boost::asio::thread_pool*>();
        std::lock_guard lock(mutex);
        pools->push_back(pool);
    }

    /// One signal's set and handler. The pending wait holds only a weak link (`alive`), as the
    /// entry may be removed while the wait is queued.
    struct signal_entry {
        signal_entry(loop_core& owner, int signum, std::function<void()> f)
            : core(&owner), set(*owner.ctx_, signum), fn(std::move(f)) {}
        ~signal_entry() { *alive = false; }
        void arm() {
            set.async_wait([this, alive = alive](boost::system::error_code ec, int) {
                if (ec || !*alive) {
                    return;
                }
                try {
                    fn();
                } catch (...) {
                    core->report({"exception in a signal handler", std::current_exception(), {}});
                }
                if (*alive) {
                    arm();
                }
            });
        }
        loop_core* core;
        boost::asio::signal_set set;
        std::function<void()> fn;
        std::shared_ptr<bool> alive = std::make_shared<bool>(true);
    };

    boost::asio::io_context* ctx_;
    std::map<int, std::unique_ptr<signal_entry>> signal_handlers_;
    intrusive_list<state_base> tasks_;
    intrusive_list<state_base> unretrieved_;
    std::uint64_t next_task_id_ = 1;
    std::size_t shutdown_pending_ = 0;
    exception_handler handler_;

    mutable std::mutex mutex_;
    boost::asio::io_context* open_ctx_;
    std::atomic<std::size_t> jobs_{0};
    std::condition_variable jobs_cv_;
    std::unique_ptr<boost::asio::thread_pool> pool_;
    state_base* start_head_ = nullptr;
    state_base* start_tail_ = nullptr;
    bool start_posted_ = false;
};

/// The loop whose runner is running on this thread (asyncio's running loop), or nullptr.
inline thread_local loop_core* running_loop = nullptr;

inline loop_core& require_running_loop() {
    if (running_loop == nullptr) {
        throw std::logic_error("aio: no running loop on this thread (call from inside aio::run)");
    }
    return *running_loop;
}

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
class state_base : public list_hook {
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
            if (first_step_) {
                defer_cancel();
            } else {
                signal_.emit(boost::asio::cancellation_type::terminal);
            }
        } else {
            finish_cancelled();
        }
        return true;
    }
    std::uint32_t cancel_requests() const noexcept { return cancel_requests_; }
    std::uint32_t uncancel() noexcept {
        if (cancel_requests_ > 0) {
            --cancel_requests_;
        }
        return cancel_requests_;
    }
    boost::asio::cancellation_slot cancellation_slot() noexcept { return signal_.slot(); }
    /// Marks a pending task as cancelled by the loop's shutdown (counted until it ends).
    void mark_shutdown_cancelled() noexcept {
        if (!shutdown_cancelled_ && !done() && loop_ != nullptr) {
            shutdown_cancelled_ = true;
            ++loop_->shutdown_pending_;
        }
    }

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

    std::size_t remove_callback(std::uint64_t id) noexcept {
        std::size_t removed = 0;
        waiters_.for_each([&](done_waiter& w) {
            if (id != 0 && w.callback_id_ == id) {
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

    /// Brackets a task's first step, which co_spawn runs inline (see defer_cancel).
    void set_first_step(bool running) noexcept { first_step_ = running; }

    /// The loop is going away: forget it (no more reports through it).
    void detach() noexcept {
        unlink();
        loop_ = nullptr;
    }

protected:
    virtual ~state_base() {
        while (done_waiter* w = waiters_.pop_front()) {
            w->dispose();
        }
    }

    void finish(status s) {
        add_ref(); // a waiter told of the end may drop the last other reference
        st_ = s;
        if (shutdown_cancelled_ && loop_ != nullptr) {
            --loop_->shutdown_pending_;
        }
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

    state_base* next_start_ = nullptr;

    std::uint32_t refs_ = 1;
    status st_ = status::pending;
    bool retrieved_ = false;
    bool shutdown_cancelled_ = false;
    bool first_step_ = false;
    bool cancel_deferred_ = false;
    std::uint32_t cancel_requests_ = 0;
    loop_core* loop_;
    bool is_task_;
    std::exception_ptr exception_;
    intrusive_list<done_waiter> waiters_;
    boost::asio::cancellation_signal signal_;
    std::uint64_t id_ = 0;
    std::unique_ptr<std::string> name_;
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
    if (start_tail_ != nullptr) {
        start_tail_->next_start_ = &s;
    } else {
        start_head_ = &s;
    }
    start_tail_ = &s;
    if (!start_posted_) {
        start_posted_ = true;
        boost::asio::post(*ctx_, [this] { start_queued(); });
    }
}

template <class F>
void loop_core::take_queued(F&& each) {
    start_posted_ = false;
    state_base* next = std::exchange(start_head_, nullptr);
    start_tail_ = nullptr;
    while (next != nullptr) {
        state_base* s = next;
        next = std::exchange(s->next_start_, nullptr);
        each(*s);
    }
}

inline void loop_core::start_queued() {
    take_queued([](state_base& s) { s.start(); });
}

inline void loop_core::discard_queued() noexcept {
    take_queued([](state_base& s) { s.release(); });
}

inline void loop_core::detach_all() noexcept {
    report_unretrieved();
    while (state_base* s = tasks_.pop_front()) {
        s->loop_ = nullptr;
    }
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
        if (!self->done()) {
            self->signal_.emit(boost::asio::cancellation_type::terminal);
        }
    });
}

} // namespace aio::detail

// aio/detail/loop_core.hpp - one event loop's state: its io_context, ready queue, deadlines,
// tasks, signal handlers, executor jobs and reporter; and which loop runs on this thread.
#pragma once

#include <aio/detail/deadline_queue.hpp>
#include <aio/detail/intrusive_list.hpp>
#include <aio/detail/reporting.hpp>
#include <aio/detail/signals.hpp>
#include <aio/detail/suspend.hpp>
#include <aio/exception_handler.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace aio::detail {

class state_base;

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

class loop_core;

/// A loop running in debug mode, with its thread, as debug_threads lists it (the loop's own
/// member: registering allocates nothing).
struct debug_thread_entry {
    const loop_core* loop = nullptr;
    std::uint64_t id = 0;
    std::thread::id thread;
    debug_thread_entry* next = nullptr;
};

/// One event loop: an io_context run by one thread, the tasks on it, its default thread pool
/// for to_thread, and the reporter of lost errors. Owned by aio::loop handles (aio::runner and
/// aio::new_event_loop make one); shared so that other threads can still ask whether it is open.
class loop_core final : public reporter,
                        public step_timer,
                        public std::enable_shared_from_this<loop_core> {
public:
    loop_core()
        : ctx_(std::make_unique<boost::asio::io_context>(1)), ready_(*ctx_),
          deadlines_(*ctx_, ready_), signals_(*ctx_, *this), open_ctx_(ctx_.get()),
          work_(ctx_->get_executor()), id_(next_loop_id()) {
        if (debug_from_environment()) {
            set_debug(true);
        }
    }
    /// A loop dropped without close() is closed as loop.close() closes it.
    [[gnu::cold]] ~loop_core();
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
    /// How many tasks were created on this loop so far (the last id given).
    std::uint64_t tasks_created() const noexcept { return next_task_id_ - 1; }
    void add_unretrieved(state_base& s) noexcept;

    // --- reporting (loop thread only; report and call_reporting come from reporter) ---
    /// Reports every error still unretrieved and detaches those states from this loop.
    [[gnu::cold]] void report_unretrieved() noexcept;

    // --- any thread ---
    /// Posts f to the loop; false (f dropped) once the loop is closed.
    template <class F>
    bool post_threadsafe(F&& f) {
        std::lock_guard lock(mutex_);
        if (open_ctx_ == nullptr) {
            return false;
        }
        post_plain(open_ctx_->get_executor(), std::forward<F>(f));
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
            post_plain(open_ctx_->get_executor(), [this] { run_handed_over(); });
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
                post_plain(open_ctx_->get_executor(), [] {}); // a shutdown runs the loop until idle
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
    [[gnu::cold]] void release_pool(bool join) {
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
    /// Runs fn() on the loop each time signal `signum` arrives (see signal_handlers).
    void add_signal_handler(int signum, std::function<void()> fn, bool fallback = false) {
        signals_.add(signum, std::move(fn), fallback);
    }
    /// Removes the handler for `signum`: the signal does again what it did before aio handled
    /// it (for SIGINT and SIGTERM by default, end the process). False if there was none.
    bool remove_signal_handler(int signum) { return signals_.remove(signum); }
    /// Calls the handlers of the signals that arrived and were not answered yet, without
    /// waiting for the wake-up the signal thread posts; true if it called any.
    bool deliver_signals() { return signals_.deliver_arrived(); }

    // --- debug mode (loop thread only; see docs/diagnostics.md) ---
    bool debug() const noexcept { return debug_; }
    /// Turns the checks on or off: slow steps are timed from the ready queue's next batch on,
    /// and while the loop runs on this thread, other threads' loop-affine calls are checked.
    [[gnu::cold]] void set_debug(bool on);
    std::chrono::steady_clock::duration slow_callback_duration() const noexcept {
        return slow_callback_duration_;
    }
    void set_slow_callback_duration(std::chrono::steady_clock::duration d) noexcept {
        slow_callback_duration_ = d;
    }
    /// How many steps and callbacks debug mode found slower than slow_callback_duration.
    std::uint64_t slow_steps() const noexcept { return slow_steps_; }
    /// Debug mode: runs a queued item (a task's step), reporting it if it is slow.
    void run_timed(ready_item& item) override;
    /// Debug mode: runs a callback (call_soon and the like) as call_reporting does, timed.
    template <class F>
    [[gnu::cold]] void call_timed(F& fn) noexcept {
        auto start = std::chrono::steady_clock::now();
        call_reporting("exception in a callback", fn);
        auto took = std::chrono::steady_clock::now() - start;
        if (took > slow_callback_duration_) {
            report_slow(nullptr, took);
        }
    }
    /// AIO_DEBUG set to anything but empty or "0" (asyncio's PYTHONASYNCIODEBUG).
    [[gnu::cold]] static bool debug_from_environment() noexcept {
        const char* v = std::getenv("AIO_DEBUG");
        return v != nullptr && *v != '\0' && std::string_view(v) != "0";
    }
    /// Debug mode: `obj` (a stream's transport) must be closed before run ends;
    /// is_open(obj) tells whether it still is, describe(obj) names it in the report.
    struct open_resource {
        const void* obj;
        bool (*is_open)(const void*) noexcept;
        std::string (*describe)(const void*);
    };
    [[gnu::cold]] void track(open_resource r) {
        open_resources_.push_back(r);
        report_unclosed_ = [](loop_core& loop) noexcept { loop.report_unclosed(); };
    }
    /// Forgets `obj` (destroyed); a no-op for one not tracked.
    [[gnu::cold]] void untrack(const void* obj) noexcept {
        for (auto it = open_resources_.begin(); it != open_resources_.end(); ++it) {
            if (it->obj == obj) {
                open_resources_.erase(it);
                return;
            }
        }
    }
    /// Reports what track() was given and is still open (asyncio's ResourceWarning "unclosed
    /// transport"), then forgets it. Through a pointer that track() sets, so that only the
    /// files that open streams compile the report.
    void report_unclosed_resources() noexcept {
        if (report_unclosed_ != nullptr) {
            report_unclosed_(*this);
        }
    }
    /// What report_unclosed_resources calls.
    [[gnu::cold]] void report_unclosed() noexcept {
        // Described first: the exception handler may then close or destroy any of them.
        std::vector<std::string> open;
        try {
            for (const open_resource& r : open_resources_) {
                if (r.is_open(r.obj)) {
                    open.push_back(r.describe(r.obj) + " still open when the run ended");
                }
            }
        } catch (...) { // out of memory: what was described is reported
        }
        open_resources_.clear();
        for (std::string& message : open) {
            report({std::move(message), nullptr, {}});
        }
    }
    /// The running scope of this loop starts and ends on this thread (see running_scope).
    void enter_thread();
    void leave_thread() noexcept;

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
            post_plain(ctx_->get_executor(), [this, run = runs_] {
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
    [[gnu::cold]] void close_now() noexcept;
    /// Loop thread: the loop no longer takes work from other threads.
    /// What every way of closing starts with, once: the loop takes no more work from other
    /// threads or signals, and the pool is joined (no job runs) or left to finish. False if the
    /// loop was closed already.
    [[gnu::cold]] bool begin_close() noexcept {
        if (ctx_closed_) {
            return false;
        }
        ctx_closed_ = true;
        release_pool(running_jobs() == 0);
        mark_closed();
        signals_.clear();
        work_.reset();
        return true;
    }
    void mark_closed() {
        std::lock_guard lock(mutex_);
        open_ctx_ = nullptr;
    }
    /// Closes a loop whose tasks have all ended: drops what is still queued (never run), frees
    /// the io_context and reports errors no one retrieved. Idempotent.
    [[gnu::cold]] void close_finished() noexcept;
    /// Closes a loop that still has tasks parked (a hard stop, or tasks that outlived the
    /// shutdown timeout): nothing more runs, and nothing is destroyed. Destroying parked
    /// coroutines in no particular order would run destructors against objects that other
    /// coroutines' frames already freed; so the loop, its io_context and every frame parked in
    /// it are kept, unreachable to the program but reachable (no leak is reported), until the
    /// process exits. Done callbacks are dropped, so that a std::future waiting on a task (see
    /// run_coroutine_threadsafe) gets broken_promise instead of waiting forever.
    [[gnu::cold]] void abandon() noexcept;
    /// close_finished() if every task has ended, abandon() otherwise.
    [[gnu::cold]] void abandon_or_close() noexcept {
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
    [[gnu::cold]] static void keep_forever(std::shared_ptr<void> p) {
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
    [[gnu::cold]] void discard_handed_over() noexcept {
        handed_over* batch = take_handed_over();
        while (handed_over* item = batch) {
            batch = std::exchange(item->next_handed_, nullptr);
            item->discard();
        }
    }

    /// Lists this loop and its thread in debug_threads, unless it is listed; unlists it.
    [[gnu::cold]] void list_thread() noexcept;
    void unlist_thread() noexcept;

    /// Reports a step or callback that held the loop for `took` (debug mode).
    [[gnu::cold]] void report_slow(state_base* task, std::chrono::steady_clock::duration took);

    static std::uint64_t next_loop_id() noexcept {
        static std::atomic<std::uint64_t> next{1};
        return next.fetch_add(1, std::memory_order_relaxed);
    }

    std::unique_ptr<boost::asio::io_context> ctx_;
    ready_queue ready_;
    deadline_queue deadlines_;
    signal_handlers signals_;
    intrusive_list<state_base> tasks_;
    intrusive_list<state_base> unretrieved_;
    std::uint64_t next_task_id_ = 1;

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
    bool debug_ = false;
    debug_thread_entry registered_; // in debug_threads while its loop is set
    std::thread::id thread_;
    std::chrono::steady_clock::duration slow_callback_duration_ = std::chrono::milliseconds(100);
    std::uint64_t slow_steps_ = 0;
    std::vector<open_resource> open_resources_;              // debug mode only
    void (*report_unclosed_)(loop_core&) noexcept = nullptr; // set by the first track()
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
        : core_(core), previous_(running_loop), previous_ready_(current_ready_queue) {
        if (previous_ != nullptr && previous_ != &core) {
            throw std::logic_error("aio: another loop is already running on this thread");
        }
        running_loop = &core;
        current_ready_queue = &core.ready();
        if (previous_ == nullptr) {
            core.enter_thread();
        }
    }
    ~running_scope() {
        if (previous_ == nullptr) {
            core_.leave_thread();
        }
        running_loop = previous_;
        current_ready_queue = previous_ready_;
    }
    running_scope(const running_scope&) = delete;
    running_scope& operator=(const running_scope&) = delete;

private:
    loop_core& core_;
    loop_core* previous_;
    ready_queue* previous_ready_;
};

/// Throws std::logic_error("aio: " + what + rest): a failed loop check, its message built
/// only then.
[[gnu::cold, noreturn]] inline void throw_loop_error(const char* what, const char* rest) {
    throw std::logic_error(std::string("aio: ") + what + rest);
}

/// What a loop-affine object (a task, a queue, a lock...) checks before touching its state: that
/// no other loop than its own runs on this thread. Used from another loop's thread it would race
/// on reference counts and waiter lists; used from a new loop after its own ended it would touch
/// waiters that are gone. (With no loop running on this thread - a loop driven by hand, between
/// two run_until_complete calls - there is nothing to compare with, and the call goes ahead.)
/// `what` names the object in the message.
inline void require_loop(const loop_core* owner, const char* what) {
    if (owner != nullptr && running_loop != nullptr && owner != running_loop) {
        throw_loop_error(what, " belongs to another event loop; cross loops and threads with "
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
            throw_loop_error(what, " is bound to another event loop (the first loop that used "
                                   "it); make one per loop, or cross loops with thread_queue");
        }
    }

    /// The id of the loop it is bound to, 0 before its first use on a loop.
    std::uint64_t loop_id() const noexcept { return id_; }

private:
    std::uint64_t id_ = 0;
};

/// The loops running in debug mode now, each with its thread: what check_thread compares the
/// calling thread with. Written when such a loop starts or stops running (or its debug mode
/// changes while it runs); read only while at least one is registered.
class debug_threads {
public:
    /// True while some loop runs in debug mode: one relaxed load, the only cost of the checks
    /// when debug mode is off everywhere.
    static bool any() noexcept { return count_.load(std::memory_order_relaxed) != 0; }
    /// Registers `e` (a loop's own entry: no allocation) until remove(e).
    [[gnu::cold]] static void add(debug_thread_entry& e) noexcept {
        std::lock_guard lock(mutex_);
        e.next = head_;
        head_ = &e;
        count_.fetch_add(1, std::memory_order_relaxed);
    }
    [[gnu::cold]] static void remove(debug_thread_entry& e) noexcept {
        std::lock_guard lock(mutex_);
        for (debug_thread_entry** p = &head_; *p != nullptr; p = &(*p)->next) {
            if (*p == &e) {
                *p = e.next;
                count_.fetch_sub(1, std::memory_order_relaxed);
                return;
            }
        }
    }
    /// The thread of the debug-mode loop `loop` (or, when it is null, of the loop numbered
    /// `id`), if it runs now.
    [[gnu::cold]] static std::optional<std::thread::id> thread_of(const loop_core* loop,
                                                                  std::uint64_t id) {
        std::lock_guard lock(mutex_);
        for (const debug_thread_entry* e = head_; e != nullptr; e = e->next) {
            if (loop != nullptr ? e->loop == loop : e->id == id) {
                return e->thread;
            }
        }
        return std::nullopt;
    }

private:
    inline static std::atomic<int> count_{0};
    inline static std::mutex mutex_;
    inline static debug_thread_entry* head_ = nullptr;
};

[[gnu::cold, noreturn]] inline void throw_wrong_thread(const char* what, std::thread::id loop) {
    std::ostringstream msg;
    msg << "aio: " << what << " called from thread " << std::this_thread::get_id()
        << ", but its loop runs on thread " << loop
        << " (debug mode's check; from another thread use call_soon_threadsafe, "
           "run_coroutine_threadsafe or thread_queue)";
    throw std::logic_error(msg.str());
}
[[gnu::cold]] inline void check_thread_now(const loop_core* loop, std::uint64_t id,
                                           const char* what) {
    std::optional<std::thread::id> t = debug_threads::thread_of(loop, id);
    if (t && *t != std::this_thread::get_id()) {
        throw_wrong_thread(what, *t);
    }
}

/// Debug mode's check of a loop-affine call (`what`, e.g. "aio::event::set"): throws
/// std::logic_error naming the call and both threads when the object's loop runs in debug mode
/// on another thread. A loop that does not run, or runs without debug mode, is not checked.
/// With no loop in debug mode anywhere, one predictable branch.
inline void check_thread(const loop_core* owner, const char* what) {
    if (debug_threads::any() && owner != nullptr) [[unlikely]] {
        check_thread_now(owner, 0, what);
    }
}
/// The same for a primitive bound to the first loop that used it (unbound: not checked).
inline void check_thread(const loop_binding& binding, const char* what) {
    if (debug_threads::any() && binding.loop_id() != 0) [[unlikely]] {
        check_thread_now(nullptr, binding.loop_id(), what);
    }
}

inline void loop_core::list_thread() noexcept {
    if (registered_.loop == nullptr) {
        registered_ = {this, id_, thread_, nullptr};
        debug_threads::add(registered_);
    }
}
inline void loop_core::unlist_thread() noexcept {
    if (registered_.loop != nullptr) [[unlikely]] {
        debug_threads::remove(registered_);
        registered_ = {};
    }
}
inline void loop_core::enter_thread() {
    thread_ = std::this_thread::get_id();
    if (debug_) [[unlikely]] {
        list_thread();
    }
}
inline void loop_core::leave_thread() noexcept {
    unlist_thread();
    thread_ = std::thread::id();
}
inline void loop_core::set_debug(bool on) {
    debug_ = on;
    ready_.set_timer(on ? this : nullptr);
    if (!on) {
        unlist_thread();
    } else if (thread_ != std::thread::id()) {
        list_thread();
    }
}

/// Wraps a callback for the loop: an exception it throws is reported, and the loop goes on
/// (asyncio's "Exception in callback"). In debug mode it is timed (see run_timed).
template <class F>
auto reporting(loop_core& loop, F&& fn) {
    return [core = loop.shared_from_this(), fn = std::forward<F>(fn)]() mutable {
        if (core->debug()) [[unlikely]] {
            core->call_timed(fn);
            return;
        }
        core->call_reporting("exception in a callback", fn);
    };
}

} // namespace aio::detail

// loop_core's members that walk its task states are defined with the states.
#include <aio/detail/state.hpp>

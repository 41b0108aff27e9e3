// aio/detail/state.hpp - the shared state behind task<T> and future<T>, the waiters told when
// one finishes, and loop_core's members that walk the states of its tasks.
#pragma once

#include <aio/detail/intrusive_list.hpp>
#include <aio/detail/loop_core.hpp>
#include <aio/detail/ref.hpp>
#include <aio/detail/source_location.hpp>
#include <aio/detail/suspend.hpp>
#include <aio/detail/task_executor.hpp>
#include <aio/error.hpp>
#include <aio/exception_handler.hpp>
#include <aio/outcome.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace aio::detail {

/// Told, on the loop and synchronously, when a task or future finishes. Implementations only
/// record or post: they never resume a coroutine inline.
class done_waiter : public list_hook {
public:
    virtual void on_done(state_base& finished) = 0;
    /// Frees a node that owns itself (a done callback) when it is removed unrun.
    virtual void dispose() noexcept {}
    /// The task that waits through this node (it awaits the state the node is linked in), or
    /// nullptr (a done callback, or a wait not parked in a task now). For diagnostics.
    virtual state_base* awaiting_task() const noexcept { return nullptr; }
    /// Non-zero for callbacks added by add_done_callback (the id remove_done_callback takes).
    std::uint64_t callback_id_ = 0;

protected:
    ~done_waiter() = default;
};

enum class status : std::uint8_t { pending, value, error, cancelled };
/// What task<T> and future<T> share: status, exception, waiters, reference count, and for
/// tasks the cancellation signal bound to the coroutine and a name. Loop-affine.
class state_base : public list_hook, public ready_item, public parking_spot {
public:
    state_base(loop_core* loop, bool is_task) noexcept : is_task_(is_task), loop_(loop) {}
    state_base(const state_base&) = delete;
    state_base& operator=(const state_base&) = delete;

    void add_ref() noexcept { ++refs_; }
    void release() noexcept {
        if (--refs_ == 0) {
            if (linked() && st_ == status::error && !retrieved_ && loop_ != nullptr) {
                report_unretrieved_now();
            } else if (st_ == status::pending && is_task_ && loop_ != nullptr && loop_->debug())
                [[unlikely]] {
                loop_->report(
                    {"Task was destroyed but it is pending", nullptr, name(), created_at_});
            }
            delete this;
        }
    }

    bool done() const noexcept { return st_ != status::pending; }
    bool is_cancelled() const noexcept { return st_ == status::cancelled; }
    bool is_task() const noexcept { return is_task_; }
    status result_status() const noexcept { return st_; }
    loop_core* loop() const noexcept { return loop_; }

    /// Requests cancellation. A task parked in an aio await is told now; otherwise (it is
    /// running - cancelling itself - or parked in an Asio operation) the signal goes out at the
    /// loop's next turn, when it is parked (see defer_cancel). A future: it becomes cancelled
    /// now.
    bool cancel() {
        if (done()) {
            return false;
        }
        if (is_task_) {
            ++cancel_requests_;
            if (emitting_) {
                return true; // a cycle of awaits led back here: the emission under way suffices
            }
            if (parked() == nullptr) {
                defer_cancel(); // running (it cancels itself), or in an Asio operation
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

    [[gnu::cold]] std::string name() const {
        if (name_) {
            return *name_;
        }
        return (is_task_ ? "Task-" : "Future-") + std::to_string(id_);
    }
    void set_name(std::string n) { name_ = std::make_unique<std::string>(std::move(n)); }
    void set_id(std::uint64_t id) noexcept { id_ = id; }
    std::uint64_t id() const noexcept { return id_; }

    /// Where the task was created (create_task's caller); empty for futures.
    aio::source_location created_at() const noexcept { return created_at_; }
    void set_created_at(aio::source_location where) noexcept { created_at_ = where; }

    bool started() const noexcept { return started_; }
    /// True while a step of the task runs (on this thread: a loop runs one step at a time).
    bool running() const noexcept { return stack_ != nullptr && !done() && stack_running(*stack_); }
    /// The number of coroutine frames on the task's stack (0 before it starts or once done).
    std::size_t stack_frames() const noexcept {
        return stack_ != nullptr && !done() ? stack_depth(*stack_) : 0;
    }

    /// Calls fn(waiter) for each done waiter (diagnostics walk who awaits this state).
    template <class Fn>
    void for_each_waiter(Fn fn) {
        waiters_.for_each([&](done_waiter& w) { fn(static_cast<const done_waiter&>(w)); });
    }

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
    /// A task is in its loop's ready queue first to start, later (at most once at a time) to
    /// deliver a deferred cancellation (see defer_cancel).
    void run_ready() final {
        if (!started_) {
            started_ = true;
            start();
            return;
        }
        ref<state_base> self = ref<state_base>::adopt(this); // what defer_cancel added
        cancel_deferred_ = false;
        if (!done() && cancel_requests_ > 0) { // not withdrawn by uncancel meanwhile
            emit_cancel();
        }
    }
    /// The loop closed before the item ran: the queue's reference goes.
    void discard_ready() noexcept final { release(); }
    parking_spot* stepping_task() noexcept final { return is_task_ ? this : nullptr; }

    /// Records the promise of the task's bottom coroutine frame, before its first step.
    /// Diagnostics read the stack through it while the task is pending (running, stack_frames);
    /// it also keeps the frame (and the stack above it) reachable for leak checkers when a loop
    /// abandoned with the task parked keeps this state (see loop_core::abandon).
    void set_stack(const stack_bottom* bottom) noexcept { stack_ = bottom; }

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
    [[gnu::cold]] exception_context unretrieved_report() const {
        return {is_task_ ? "Task exception was never retrieved"
                         : "Future exception was never retrieved",
                exception_, name(), created_at_};
    }
    [[gnu::cold]] void report_unretrieved_now() noexcept {
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
    bool started_ = false;
    bool cancel_deferred_ = false;
    bool emitting_ = false;
    bool is_task_;
    std::uint32_t cancel_requests_ = 0;
    loop_core* loop_;
    std::exception_ptr exception_;
    intrusive_list<done_waiter> waiters_;
    boost::asio::cancellation_signal signal_;
    std::uint64_t id_ = 0;
    std::unique_ptr<std::string> name_;
    const stack_bottom* stack_ = nullptr;
    aio::source_location created_at_;
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
    /// Stores the value without finishing: the task's bottom frame keeps it while it frees the
    /// body, then finishes.
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

inline void loop_core::run_timed(ready_item& item) {
    ref<state_base> task; // named in the report, so kept until then
    if (parking_spot* spot = item.stepping_task()) {
        task = ref<state_base>(static_cast<state_base*>(spot));
    }
    auto start = std::chrono::steady_clock::now();
    item.run_ready();
    auto took = std::chrono::steady_clock::now() - start;
    if (took > slow_callback_duration_) [[unlikely]] {
        report_slow(task.get(), took);
    }
}

inline void loop_core::report_slow(state_base* task, std::chrono::steady_clock::duration took) {
    ++slow_steps_;
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.3f", std::chrono::duration<double>(took).count());
    std::string what = "<callback>";
    exception_context ctx;
    if (task != nullptr) {
        ctx.task_name = task->name();
        ctx.created_at = task->created_at();
        what = "<Task name='" + ctx.task_name + "' id=" + std::to_string(task->id()) + ">";
    }
    ctx.message = "Executing " + what + " took " + seconds + " seconds";
    report(ctx);
}

inline void loop_core::schedule_start(state_base& s) {
    ready_.push(s);
}

inline void loop_core::close_finished() noexcept {
    if (!begin_close()) {
        return;
    }
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
        report(
            {"Task was abandoned pending when its loop closed", nullptr, s.name(), s.created_at()});
    });
    abandon_or_close();
}

inline void loop_core::abandon() noexcept {
    if (!begin_close()) {
        return;
    }
    tasks_.for_each([](state_base& s) { s.drop_callbacks(); });
    report_unretrieved();
    keep_forever(shared_from_this());
}

inline loop_core::~loop_core() {
    if (tasks_.empty()) {
        close_finished(); // a no-op if closed already
        return;
    }
    if (!begin_close()) {
        return;
    }
    // As close_now(), but this loop cannot keep itself: what stays parked is kept without it.
    struct kept {
        std::unique_ptr<boost::asio::io_context> ctx;
        std::vector<ref<state_base>> tasks;
    };
    auto frozen = std::make_shared<kept>();
    frozen->ctx = std::move(ctx_);
    while (state_base* s = tasks_.pop_front()) {
        report({"Task was abandoned pending when its loop closed", nullptr, s->name(),
                s->created_at()});
        s->drop_callbacks();
        s->loop_ = nullptr;
        frozen->tasks.emplace_back(s);
    }
    report_unretrieved();
    keep_forever(std::move(frozen));
}

/// cancel() called while the task is not parked in an aio await: it is running (cancelling
/// itself, or calling code that cancels every task) or parked in an Asio operation, and the two
/// cannot be told apart. Emitted now to a running task, the cancellation would only be
/// recorded, and the task's next await would throw Asio's operation_aborted as it starts, not
/// aio's cancelled_error once parked. So the emission goes through the loop's ready queue, behind
/// what the step itself queues (its next await, a sleep(0)): when it runs, the task is parked
/// (its await then throws cancelled_error, an Asio operation completes with operation_aborted)
/// or done. A task not started yet needs none: its start sees the request.
inline void state_base::defer_cancel() {
    if (cancel_deferred_ || loop_ == nullptr || !started_) {
        return;
    }
    cancel_deferred_ = true;
    add_ref(); // the queue's, adopted by run_ready or released by discard_ready
    loop_->ready().push(*this);
}

} // namespace aio::detail

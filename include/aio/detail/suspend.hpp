// aio/detail/suspend.hpp - parking an aio await until something wakes it, and the loop's ready
// queue that resumes woken awaits in batches.
#pragma once

#include <aio/detail/asio_compat.hpp>
#include <aio/detail/source_location.hpp>
#include <aio/detail/task_executor.hpp>
#include <aio/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/query.hpp>

#include <cstddef>
#include <exception>
#include <new>
#include <type_traits>
#include <utility>

namespace aio::detail {

/// Something the loop runs soon, in the order it was queued (asyncio's ready queue).
class ready_item {
public:
    ready_item() = default;
    ready_item(const ready_item&) = delete;
    ready_item& operator=(const ready_item&) = delete;

    /// Runs the item; the ready queue calls it once.
    virtual void run_ready() = 0;
    /// The loop closes before the item ran: release what it holds without running it.
    virtual void discard_ready() noexcept = 0;
    /// The task whose step run_ready runs, or nullptr (debug mode names it when it is slow).
    virtual parking_spot* stepping_task() noexcept { return nullptr; }

protected:
    ~ready_item() = default;

private:
    friend class ready_queue;
    ready_item* next_ready_ = nullptr;
};

/// Runs a ready item and times it: debug mode's check for slow steps (see loop_core).
class step_timer {
public:
    virtual void run_timed(ready_item& item) = 0;

protected:
    ~step_timer() = default;
};

/// A loop's queue of woken awaits and starting tasks. One handler posted to the io_context runs
/// every item queued before it runs, in order; items queued while it runs wait for the next
/// one (so I/O handlers still get their turn). Waking n parked awaits costs one post instead of
/// n, and each resumes inside that handler without another trip through the io_context.
/// Loop thread only.
class ready_queue {
public:
    explicit ready_queue(boost::asio::io_context& ctx) noexcept : ctx_(&ctx) {}
    ready_queue(const ready_queue&) = delete;
    ready_queue& operator=(const ready_queue&) = delete;

    boost::asio::io_context& context() const noexcept { return *ctx_; }

    /// Queues `item` to run at the loop's next turn.
    void push(ready_item& item) {
        if (tail_ != nullptr) {
            tail_->next_ready_ = &item;
        } else {
            head_ = &item;
        }
        tail_ = &item;
        post_drain();
    }

    /// Runs the items queued so far. If one throws (only a coroutine that is not an aio task
    /// can: its stack rethrows what its bottom frame let out, as Asio's run() does), the
    /// items after it stay queued for the next turn and the exception leaves run().
    void drain() {
        posted_ = false;
        ready_item* batch = std::exchange(head_, nullptr);
        tail_ = nullptr;
        step_timer* timer = timer_; // null unless the loop is in debug mode
        while (batch != nullptr) {
            ready_item* item = batch;
            batch = std::exchange(item->next_ready_, nullptr);
            try {
                if (timer == nullptr) [[likely]] {
                    item->run_ready();
                } else {
                    timer->run_timed(*item);
                }
            } catch (...) {
                requeue_front(batch);
                throw;
            }
        }
    }

    /// Items run through `timer` from the next batch on (debug mode), or directly (nullptr).
    void set_timer(step_timer* timer) noexcept { timer_ = timer; }
    step_timer* timer() const noexcept { return timer_; }

    /// Discards every queued item without running it (the loop closes).
    void discard_all() noexcept {
        while (ready_item* item = head_) {
            head_ = std::exchange(item->next_ready_, nullptr);
            item->discard_ready();
        }
        tail_ = nullptr;
    }

private:
    void post_drain() {
        if (!posted_) {
            posted_ = true;
            post_plain(ctx_->get_executor(), [this] { drain(); });
        }
    }
    void requeue_front(ready_item* rest) {
        if (rest == nullptr) {
            return;
        }
        ready_item* last = rest;
        while (last->next_ready_ != nullptr) {
            last = last->next_ready_;
        }
        last->next_ready_ = head_;
        if (head_ == nullptr) {
            tail_ = last;
        }
        head_ = rest;
        post_drain();
    }

    boost::asio::io_context* ctx_;
    ready_item* head_ = nullptr;
    ready_item* tail_ = nullptr;
    step_timer* timer_ = nullptr;
    bool posted_ = false;
};

/// The ready queue of the loop running on this thread, or nullptr (set with the running loop).
inline thread_local ready_queue* current_ready_queue = nullptr;

/// The part of an aio await that lives in the awaiting coroutine's frame while it is parked:
/// it holds the coroutine's completion handler in place (parking allocates nothing). wake()
/// resumes it; on_cancel() is called (on the loop, synchronously inside task::cancel) when the
/// awaiting task is cancelled while parked here.
class waiter : public ready_item {
public:
    waiter() = default;

    /// Schedules the parked coroutine to continue: through its loop's ready queue when called
    /// on that loop's thread, else posted to its executor (another thread waking it). Never
    /// inline. A no-op if it is not parked or already woken.
    void wake() noexcept {
        if (state_ != phase::parked) {
            return;
        }
        state_ = phase::woken;
        if (!in_spot_) {
            act_(*this, action::clear_slot);
        }
        if (queue_ != nullptr && queue_ == current_ready_queue) {
            queue_->push(*this);
        } else {
            act_(*this, action::post);
        }
    }

    /// Resumes the parked coroutine now, inside this call, as Asio resumes a coroutine from an
    /// operation's completion: for I/O completion handlers, which run at the top of the loop's
    /// stack. Never from inside a coroutine (it would nest the two stacks): use wake() there.
    /// A no-op if it is not parked or already woken.
    void resume_now() {
        if (state_ != phase::parked) {
            return;
        }
        state_ = phase::woken;
        if (!in_spot_) {
            act_(*this, action::clear_slot);
        }
        step_timer* timer = queue_ != nullptr ? queue_->timer() : nullptr;
        if (timer == nullptr) [[likely]] {
            act_(*this, action::resume);
        } else {
            timer->run_timed(*this); // debug mode: the step is timed as the ready queue's are
        }
    }

    /// What cancellation of the awaiting task does; by default, stop waiting. The await then
    /// resumes and reports the cancellation (see park).
    virtual void on_cancel() { wake(); }
    /// Called once the coroutine is parked, by a park that asks for it (park_operation's
    /// tell_parked): to start what will wake it when that may complete on another thread, which
    /// must not find the waiter still idle.
    virtual void on_parked() {}

    /// What the coroutine parked here waits for, in a few words ("aio::sleep"). For
    /// diagnostics: each kind of await names itself.
    virtual const char* what() const noexcept = 0;

    /// Where the aio await parked here was called (the caller's `where` argument), or an empty
    /// site (line 0) for an await that does not take one. For diagnostics: a task's call stack.
    aio::source_location site() const noexcept { return site_; }
    void set_site(aio::source_location where) noexcept { site_ = where; }

    /// The task whose coroutine is parked here (in its own stack or another stack running on
    /// its executor), or nullptr when not parked or parked outside any task.
    parking_spot* parked_task() const noexcept { return state_ == phase::idle ? nullptr : spot_; }

    /// The task parked here was cancelled (its parking spot found this waiter): on_cancel(),
    /// if the cancellation got through the coroutine's filters; once woken, the resumption
    /// will look for it.
    void cancel_if_recorded() {
        if (state_ == phase::woken) {
            maybe_cancelled_ = true;
        } else if (state_ == phase::parked && act_(*this, action::cancelled)) {
            maybe_cancelled_ = true;
            on_cancel();
        }
    }

    void run_ready() final { act_(*this, action::resume); }
    void discard_ready() noexcept final { act_(*this, action::discard); }
    parking_spot* stepping_task() noexcept final { return parked_task(); }

    /// True if a handler of type H is held inside the waiter (no allocation per park).
    template <class H>
    static constexpr bool fits = sizeof(H) <= sizeof(void*) * 2 && alignof(H) <= alignof(void*);

protected:
    ~waiter() = default;

private:
    enum class phase : unsigned char { idle, parked, woken };
    enum class action : unsigned char { clear_slot, cancelled, resume, post, discard };
    using act_fn = bool (*)(waiter&, action);

    friend struct park_initiation;

    /// Takes the parked coroutine's handler. Handlers that fit (Asio's awaitable handler is two
    /// pointers) are stored in place; a larger one (another Asio release) goes to the heap.
    template <class Handler>
    void hold(Handler&& h) {
        using H = std::decay_t<Handler>;
        if constexpr (fits<H>) {
            ::new (static_cast<void*>(storage_)) H(std::forward<Handler>(h));
            act_ = &act<H, true>;
        } else {
            ::new (static_cast<void*>(storage_)) H*(new H(std::forward<Handler>(h)));
            act_ = &act<H, false>;
        }
        H& held = handler<H, fits<H>>();
        auto ex = boost::asio::get_associated_executor(held);
        auto slot = boost::asio::get_associated_cancellation_slot(held);
        queue_ = nullptr;
        spot_ = nullptr;
        in_spot_ = false;
        ready_queue* q = current_ready_queue;
        if (const auto* te = ex.template target<task_executor>()) {
            if (q != nullptr && &te->context() == &q->context()) {
                queue_ = q;
            }
            parking_spot* spot = boost::asio::query(*te, boost::asio::execution::allocator).task();
            spot_ = spot;
            if (spot != nullptr && slot.is_connected() && slot == spot->own_slot()) {
                // The task's own stack: cancel() finds this waiter there, from now until it
                // resumes, so the resumption reads the cancellation state (a cache miss per
                // await when n of them resume) only if it was cancelled before or since.
                in_spot_ = true;
                spot->set_parked(this);
                maybe_cancelled_ = stack_cancellation_state(held).cancelled() !=
                                   boost::asio::cancellation_type::none;
            }
        } else if (q != nullptr &&
                   &boost::asio::query(ex, boost::asio::execution::context) == &q->context()) {
            queue_ = q;
        }
        state_ = phase::parked;
        if (!in_spot_) {
            maybe_cancelled_ = true;
            if (slot.is_connected()) {
                slot.template emplace<cancel_forwarder>(cancel_forwarder{this});
            }
        }
    }

    template <class H, bool InPlace>
    H& handler() noexcept {
        if constexpr (InPlace) {
            return *std::launder(reinterpret_cast<H*>(storage_));
        } else {
            return **std::launder(reinterpret_cast<H**>(storage_));
        }
    }

    /// Moves the handler out of the waiter (whose frame it owns) and leaves the waiter idle.
    template <class H, bool InPlace>
    H take() noexcept {
        if (in_spot_) {
            if (spot_->parked() == this) {
                spot_->set_parked(nullptr);
            }
            in_spot_ = false;
        }
        spot_ = nullptr;
        H& held = handler<H, InPlace>();
        H h(std::move(held));
        if constexpr (InPlace) {
            held.~H();
        } else {
            delete &held;
        }
        state_ = phase::idle;
        return h;
    }

    /// Reads and clears the coroutine's cancellation: Asio's is sticky, aio delivers it once.
    template <class H>
    static bool take_cancellation(H& h) noexcept {
        boost::asio::cancellation_state cs = stack_cancellation_state(h);
        if (cs.cancelled() != boost::asio::cancellation_type::none) {
            cs.clear();
            return true;
        }
        return false;
    }

    template <class H, bool InPlace>
    static bool act(waiter& w, action a) {
        switch (a) {
        case action::clear_slot: {
            auto slot = boost::asio::get_associated_cancellation_slot(w.handler<H, InPlace>());
            if (slot.is_connected()) {
                slot.clear();
            }
            return false;
        }
        case action::cancelled:
            return stack_cancellation_state(w.handler<H, InPlace>()).cancelled() !=
                   boost::asio::cancellation_type::none;
        case action::resume: {
            bool maybe = w.maybe_cancelled_;
            H h = w.take<H, InPlace>(); // resuming may destroy the frame that holds `w`
            bool cancelled = maybe && take_cancellation(h);
            std::move(h)(cancelled);
            return false;
        }
        case action::post: {
            H h = w.take<H, InPlace>();
            auto ex = boost::asio::get_associated_executor(h);
            post_plain(ex, [h = std::move(h)]() mutable {
                bool cancelled = take_cancellation(h);
                std::move(h)(cancelled);
            });
            return false;
        }
        case action::discard: {
            H h = w.take<H, InPlace>(); // destroyed here, with the coroutine stack it owns
            return false;
        }
        }
        return false;
    }

    /// Forwards a cancellation emitted into the parked operation's slot to its waiter.
    struct cancel_forwarder {
        waiter* target;
        void operator()(boost::asio::cancellation_type_t type) const {
            if (type != boost::asio::cancellation_type::none) {
                target->on_cancel();
            }
        }
    };

    alignas(void*) unsigned char storage_[sizeof(void*) * 2];
    act_fn act_ = nullptr;
    aio::source_location site_;
    ready_queue* queue_ = nullptr;
    parking_spot* spot_ = nullptr; // the task running the parked coroutine, if any
    phase state_ = phase::idle;
    bool maybe_cancelled_ = true;
    bool in_spot_ = false; // registered in spot_ (the task's own stack): cancel() finds it there
};

struct park_initiation {
    template <class Handler>
    void operator()(Handler&& handler, waiter* w, bool wake_at_once, bool tell_parked) const {
        w->hold(std::forward<Handler>(handler));
        if (wake_at_once) {
            w->wake();
        } else if (tell_parked) {
            w->on_parked();
        }
    }
};

/// The operation park() returns: co_awaited directly (Asio's operation path), so parking
/// creates no coroutine frame and allocates nothing. With `tell_parked`, the waiter's
/// on_parked() is called once the coroutine is parked.
struct park_operation {
    waiter* target;
    bool wake_at_once;
    bool tell_parked = false; // in the padding: parking frames keep their size

    template <boost::asio::completion_token_for<void(bool)> Token>
    auto operator()(Token&& token) && {
        return boost::asio::async_initiate<Token, void(bool)>(park_initiation{}, token, target,
                                                              wake_at_once, tell_parked);
    }
};

/// Parks the calling coroutine until w.wake(): `bool cancelled = co_await park(w);`. Gives
/// true if the awaiting task's cancellation was recorded by the time it resumed (while parked,
/// or after the wake but before it ran), and clears it: Asio's cancellation is sticky, aio
/// delivers it once, so the caller throws cancelled_error (or undoes what it was granted first)
/// and later awaits, e.g. cleanup, run normally.
inline park_operation park(waiter& w) {
    return park_operation{&w, false};
}

/// A waiter that only yields.
class yield_waiter final : public waiter {
public:
    const char* what() const noexcept override { return "aio::sleep(0)"; }
};

/// Yields to the loop once: the caller goes to the back of the ready queue (everything woken
/// before it runs first; asyncio's sleep(0)), or is posted to its executor off the loop.
/// `bool cancelled = co_await yield_now(w);`, as park.
inline park_operation yield_now(yield_waiter& w) {
    return park_operation{&w, true};
}

/// Delivers a recorded cancellation once: if the running coroutine's cancellation state says
/// cancelled, clears it (so later awaits, e.g. cleanup, run normally) and throws
/// cancelled_error. For awaits that do not park (park reports it itself).
///   auto cs = co_await boost::asio::this_coro::cancellation_state;
///   detail::check_cancelled(cs);
inline void check_cancelled(boost::asio::cancellation_state cs) {
    if (cs.cancelled() != boost::asio::cancellation_type::none) {
        cs.clear();
        throw cancelled_error();
    }
}

} // namespace aio::detail

// aio/detail/queue_waiter.hpp - the gets, puts and joins parked on an aio queue, and the FIFO
// line that promises items or slots to them.
#pragma once

#include <aio/detail/intrusive_list.hpp>
#include <aio/detail/suspend.hpp>

#include <cstddef>
#include <cstdint>

namespace aio::detail {

/// Why a parked queue await was woken; `parked` until it is.
enum class queue_wake : std::uint8_t { parked, granted, cancelled, shut_down };

/// One get, put or join parked on a queue. Lives in the awaiting coroutine's frame, so parking
/// allocates nothing; a frame destroyed while parked unlinks itself (list_hook).
class queue_waiter final : public list_hook, public waiter {
public:
    queue_wake reason() const noexcept { return reason_; }

    /// Leaves whatever list holds it, records why, and resumes the coroutine (posted). A
    /// waiter already woken keeps its scheduled resumption and only changes its reason.
    void wake_for(queue_wake reason) noexcept {
        unlink();
        reason_ = reason;
        wake();
    }

    /// Called when the awaiting task is cancelled while parked: leave the line at once. A
    /// waiter granted before the cancellation is no longer parked (its coroutine is already
    /// scheduled); the await sees the task's recorded cancellation when it resumes.
    void on_cancel() override {
        if (reason_ == queue_wake::parked) {
            wake_for(queue_wake::cancelled);
        }
    }
    const char* what() const noexcept override { return "aio::queue (get, put or join)"; }

private:
    queue_wake reason_ = queue_wake::parked;
};

/// One side of a queue, its getters or its putters: the waiters parked in FIFO order, and the
/// ones woken with an item (or a slot) promised to them that have not resumed yet to take it.
/// A promise is kept until its waiter resumes, so nobody else can take what it was woken for.
class queue_line {
public:
    bool has_waiting() const noexcept { return !waiting_.empty(); }
    /// How many items (or slots) are promised to woken waiters.
    std::size_t promised() const noexcept { return promised_; }

    /// Parks `w` at the end of the line.
    void enter(queue_waiter& w) noexcept { waiting_.push_back(w); }

    /// Wakes the longest-waiting waiter with one item (or slot) promised to it.
    void grant_first() noexcept {
        queue_waiter* w = waiting_.pop_front();
        w->wake_for(queue_wake::granted);
        granted_.push_back(*w);
        ++promised_;
    }

    /// A granted waiter has resumed: its promise is used (or, if it was cancelled, given back).
    void settle(queue_waiter& w) noexcept {
        w.unlink();
        --promised_;
    }

    /// Wakes every parked waiter with queue_shut_down.
    void shut_down_parked() noexcept {
        while (queue_waiter* w = waiting_.pop_front()) {
            w->wake_for(queue_wake::shut_down);
        }
    }

    /// The same, and withdraws every promise: granted waiters resume to queue_shut_down too.
    void shut_down_all() noexcept {
        shut_down_parked();
        while (queue_waiter* w = granted_.pop_front()) {
            w->wake_for(queue_wake::shut_down);
        }
        promised_ = 0;
    }

private:
    intrusive_list<queue_waiter> waiting_;
    intrusive_list<queue_waiter> granted_;
    std::size_t promised_ = 0;
};

} // namespace aio::detail

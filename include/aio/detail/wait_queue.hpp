// aio/detail/wait_queue.hpp - the FIFO of parked awaits that event, lock, semaphore, condition
// and barrier share.
#pragma once

#include <aio/detail/intrusive_list.hpp>
#include <aio/detail/state.hpp>
#include <aio/detail/suspend.hpp>
#include <aio/error.hpp>

#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/cancellation_type.hpp>

#include <cstddef>
#include <utility>

namespace aio::detail {

class wait_queue;

/// One await parked in a wait_queue. It lives in the awaiting coroutine's frame: constructing it
/// joins the back of the queue, `co_await park(w)` parks the coroutine, and once the
/// coroutine runs again the waiter says why it was woken:
/// - granted(): the primitive chose it and handed it what it waited for (the lock, a permit, a
///   notification, the set event, a barrier's trip) - possibly with a number, grant_value();
/// - refused(): the primitive turned it away (a barrier aborted or reset);
/// - neither: its task was cancelled while it was parked; on_cancel took it out of the queue.
/// A grant or a refusal takes the waiter out of the queue at once, before its resumption (which
/// is posted) runs, so what was granted is never granted twice.
class queued_waiter final : public waiter, public list_hook {
public:
    /// Throws std::logic_error if the queue belongs to another loop (nothing is queued then).
    explicit queued_waiter(wait_queue& queue);
    /// A frame destroyed while still queued (its await threw before parking, or the loop went
    /// away) leaves the queue.
    ~queued_waiter();

    bool granted() const noexcept { return outcome_ == outcome::granted; }
    bool refused() const noexcept { return outcome_ == outcome::refused; }
    /// The number the grant carried (a barrier's arrival index); 0 unless the primitive set one.
    std::size_t grant_value() const noexcept { return grant_value_; }

    /// Cancellation while queued: leave the queue and wake. Once granted, the waiter is no
    /// longer queued and this does nothing: the await finds the cancellation recorded when it
    /// resumes and gives the grant back (see settle_wait below). Declared inline here: a
    /// virtual function not inline where the class is defined is the class's key function, and
    /// GCC then emits the vtable, and everything the virtuals call, in every file that includes
    /// this header, used or not.
    inline void on_cancel() override;
    /// The await's name, the one its queue was given.
    inline const char* what() const noexcept override;

private:
    friend class wait_queue;
    enum class outcome : unsigned char { waiting, granted, refused };

    wait_queue* queue_;
    std::size_t grant_value_ = 0;
    outcome outcome_ = outcome::waiting;
};

/// Waiters in arrival order. Loop-affine: no mutex, no atomics. Queueing, leaving (cancellation)
/// and granting one waiter are O(1); granting or refusing all of them is O(n); none allocates
/// (the nodes live in the waiting coroutines' frames).
class wait_queue {
public:
    /// `what` names the await of the primitive that owns the queue ("aio::event.wait"), for
    /// diagnostics.
    explicit wait_queue(const char* what) noexcept : what_(what) {}
    const char* what() const noexcept { return what_; }

    bool empty() const noexcept { return size_ == 0; }
    std::size_t size() const noexcept { return size_; }

    /// Grants the first waiter (with `value`), takes it out and schedules its resumption.
    /// Returns false if nobody waits.
    bool grant_first(std::size_t value = 0) {
        use();
        queued_waiter* w = pop_front();
        if (w == nullptr) {
            return false;
        }
        settle(*w, queued_waiter::outcome::granted, value);
        return true;
    }

    /// Grants every waiter, each with its position in arrival order (0, 1, ...) as value, and
    /// schedules their resumptions in that order. Returns how many there were.
    std::size_t grant_all() {
        use();
        std::size_t position = 0;
        while (queued_waiter* w = pop_front()) {
            settle(*w, queued_waiter::outcome::granted, position++);
        }
        return position;
    }

    /// Refuses every waiter: each is taken out and woken with refused().
    void refuse_all() {
        use();
        while (queued_waiter* w = pop_front()) {
            settle(*w, queued_waiter::outcome::refused, 0);
        }
    }

    /// Binds the primitive to the running loop, or throws std::logic_error if it belongs to
    /// another (see loop_binding). Every park, grant and refusal goes through it.
    void use() { binding_.use("an aio synchronization primitive (event, lock, semaphore...)"); }
    /// Debug mode's check that `what` is called on the thread of the loop the queue is bound to.
    void check_thread(const char* what) const { detail::check_thread(binding_, what); }

private:
    friend class queued_waiter;

    void push_back(queued_waiter& w) noexcept {
        waiters_.push_back(w);
        ++size_;
    }
    void remove(queued_waiter& w) noexcept {
        w.unlink();
        --size_;
    }
    queued_waiter* pop_front() noexcept {
        queued_waiter* w = waiters_.pop_front();
        if (w != nullptr) {
            --size_;
        }
        return w;
    }
    static void settle(queued_waiter& w, queued_waiter::outcome o, std::size_t value) noexcept {
        w.outcome_ = o;
        w.grant_value_ = value;
        w.wake();
    }

    intrusive_list<queued_waiter> waiters_;
    std::size_t size_ = 0;
    loop_binding binding_;
    const char* what_;
};

inline queued_waiter::queued_waiter(wait_queue& queue) : queue_(&queue) {
    queue.use();
    queue.push_back(*this);
}

inline queued_waiter::~queued_waiter() {
    if (linked()) {
        queue_->remove(*this);
    }
}

inline const char* queued_waiter::what() const noexcept {
    return queue_->what();
}

inline void queued_waiter::on_cancel() {
    if (linked()) {
        queue_->remove(*this);
        wake();
    }
}

/// What every await parked on a wait_queue does as soon as it runs again, given what park()
/// said. If its task was cancelled - while parked, or after the grant but before the coroutine
/// ran again (the cancellation was then only recorded) - it calls give_back() if the waiter had
/// been granted, so that the lock, permit or notification passes on instead of leaking, and
/// throws cancelled_error. Otherwise it returns, and the waiter is granted() or refused().
template <class GiveBack>
void settle_wait(bool cancelled, const queued_waiter& w, GiveBack&& give_back) {
    if (!cancelled && (w.granted() || w.refused())) {
        return;
    }
    if (w.granted()) {
        std::forward<GiveBack>(give_back)();
    }
    throw cancelled_error();
}

} // namespace aio::detail

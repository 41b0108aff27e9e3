// aio/event.hpp - event: a flag tasks can wait for (asyncio.Event).
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/suspend.hpp>
#include <aio/detail/wait_queue.hpp>

#include <boost/asio/this_coro.hpp>

namespace aio {

/// asyncio.Event: a flag, initially false. set() makes it true and wakes every waiting task;
/// clear() makes it false again; wait() returns once it is true. Loop-affine (no mutex, no
/// atomics); must outlive the tasks that wait on it.
class event {
public:
    event() noexcept = default;
    event(const event&) = delete;
    event& operator=(const event&) = delete;

    /// Sets the flag and wakes every waiting task, in the order they started waiting (their
    /// resumptions are posted: set never suspends or runs a waiter inline). O(number of
    /// waiters), no allocation. A clear() right after does not take the wake-up back from them,
    /// as in asyncio. Setting a set event does nothing.
    void set() {
        waiters_.check_thread("aio::event::set");
        waiters_.use();
        set_ = true;
        waiters_.grant_all();
    }

    /// Makes the flag false: later wait() calls wait for the next set().
    /// In debug mode, throws std::logic_error when called on another thread than its loop's.
    void clear() {
        waiters_.check_thread("aio::event::clear");
        set_ = false;
    }

    /// True while the flag is set (asyncio Event.is_set).
    bool is_set() const noexcept { return set_; }

    /// Waits until the flag is set (asyncio Event.wait; returns nothing instead of True). A set
    /// event returns at once, without suspending. Otherwise the caller is resumed (posted to
    /// its executor) by the next set().
    /// Cancellation: throws cancelled_error, also when set() had already woken this waiter but
    /// it had not run again yet (asyncio behaves the same); the other waiters are unaffected.
    /// `where` is the caller's site, shown in the task's call stack while it waits (leave it to
    /// its default; every aio await that takes one does the same).
    awaitable<void> wait(aio::source_location where = aio::source_location::current()) {
        if (set_) {
            co_return;
        }
        detail::queued_waiter w(waiters_);
        w.set_site(where);
        bool cancelled = co_await detail::park(w);
        detail::settle_wait(cancelled, w, [] {});
    }

private:
    bool set_ = false;
    detail::wait_queue waiters_{"aio::event.wait"};
};

} // namespace aio

// aio/condition.hpp - condition: wait for a notification while holding a lock
// (asyncio.Condition).
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/suspend.hpp>
#include <aio/detail/wait_queue.hpp>
#include <aio/error.hpp>
#include <aio/lock.hpp>

#include <boost/asio/this_coro.hpp>

#include <concepts>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace aio {

namespace detail {
/// What condition::wait_for accepts: callable without arguments, with a result that tests as
/// a bool (and is returned, as asyncio returns the predicate's result).
template <class P>
concept wait_predicate =
    std::invocable<P&> && std::constructible_from<bool, std::invoke_result_t<P&>>;
} // namespace detail

/// asyncio.Condition: tasks that hold its lock wait() until another task notify()s them.
/// Tied to a lock, its own or one shared with other conditions (asyncio's Condition(lock)).
/// acquire(), release(), locked() and scoped() act on that lock.
///
/// The caller must hold the lock for wait(), wait_for(), notify() and notify_all(); without
/// it they throw std::logic_error (asyncio raises RuntimeError). Like asyncio, aio checks that
/// the lock is locked, not which task holds it.
///
/// Notified tasks wake in the order they started waiting, and each takes the lock again
/// before its wait() returns, queueing for it behind tasks already waiting for the lock.
/// Loop-affine (no mutex, no atomics); must outlive the tasks that wait on it.
///
///   auto held = co_await cond.scoped();
///   co_await cond.wait_for([&] { return !items.empty(); });
class condition {
public:
    /// A condition with a lock of its own.
    condition() : lock_(own_lock_.emplace()) {}
    /// A condition on `shared` (which must outlive it), as asyncio's Condition(lock).
    explicit condition(lock& shared) noexcept : lock_(shared) {}
    condition(const condition&) = delete;
    condition& operator=(const condition&) = delete;

    /// The lock's acquire (see lock::acquire).
    awaitable<void> acquire(aio::source_location where = aio::source_location::current()) {
        return lock_.acquire(where);
    }
    /// The lock's scoped (see lock::scoped): a guard that releases the lock.
    awaitable<lock::guard> scoped(aio::source_location where = aio::source_location::current()) {
        return lock_.scoped(where);
    }
    /// The lock's release (see lock::release).
    void release() { lock_.release(); }
    /// The lock's locked (see lock::locked).
    bool locked() const noexcept { return lock_.locked(); }

    /// Releases the lock, waits until notified, then takes the lock again and returns
    /// (asyncio Condition.wait; returns nothing instead of True). The lock is held again
    /// whenever wait() ends, by return or by exception.
    /// Cancellation: the caller still re-acquires the lock (as asyncio does; a further
    /// cancellation while it queues for the lock does not stop it), then throws
    /// cancelled_error. A waiter cancelled after it was notified, before it ran again, passes
    /// the notification to the next waiter (as asyncio 3.13 does), so no notification is
    /// lost.
    /// Throws std::logic_error at once if the lock is not held.
    /// `where`: the caller's site, for the task's call stack (see event::wait).
    awaitable<void> wait(aio::source_location where = aio::source_location::current()) {
        require_locked("wait");
        bool cancelled = false;
        {
            detail::queued_waiter w(waiters_);
            w.set_site(where);
            lock_.release();
            bool cancelled_here = co_await detail::park(w);
            try {
                detail::settle_wait(cancelled_here, w, [this] { waiters_.grant_first(); });
            } catch (const cancelled_error&) {
                cancelled = true;
            }
        }
        for (;;) {
            try {
                co_await lock_.acquire(where);
                break;
            } catch (const cancelled_error&) {
                cancelled = true;
            }
        }
        if (cancelled) {
            throw cancelled_error();
        }
    }

    /// Waits until `predicate()` is true (asyncio Condition.wait_for): tests it first, then
    /// after each notification, always with the lock held. Returns the predicate's last
    /// result. Cancellation and a missing lock: as wait(). An exception from the predicate
    /// propagates, with the lock held.
    /// GCC 12: bind a predicate lambda with non-trivial captures to a variable before passing
    /// it inside a co_await expression (see README).
    template <detail::wait_predicate Predicate>
    awaitable<std::decay_t<std::invoke_result_t<Predicate&>>>
    wait_for(Predicate predicate, aio::source_location where = aio::source_location::current()) {
        require_locked("wait_for");
        auto result = predicate();
        while (!static_cast<bool>(result)) {
            co_await wait(where);
            result = predicate();
        }
        co_return result;
    }

    /// Wakes up to `n` waiting tasks, the longest-waiting first (asyncio Condition.notify).
    /// Each returns from wait() once it has the lock again, so not before the notifier
    /// releases it. Never suspends. Throws std::logic_error if the lock is not held.
    void notify(std::size_t n = 1) {
        require_locked("notify");
        while (n > 0 && waiters_.grant_first()) {
            --n;
        }
    }

    /// Wakes every waiting task (asyncio Condition.notify_all). Throws std::logic_error if the
    /// lock is not held.
    void notify_all() {
        require_locked("notify_all");
        waiters_.grant_all();
    }

private:
    void require_locked(const char* operation) const {
        if (!lock_.locked()) {
            throw std::logic_error(std::string("aio::condition::") + operation +
                                   ": the lock is not acquired");
        }
    }

    std::optional<lock> own_lock_;
    lock& lock_;
    detail::wait_queue waiters_{"aio::condition.wait"};
};

} // namespace aio

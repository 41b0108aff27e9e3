// aio/lock.hpp - lock: a mutual exclusion lock for tasks (asyncio.Lock).
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/release_guard.hpp>
#include <aio/semaphore.hpp>

#include <stdexcept>

namespace aio {

/// asyncio.Lock: at most one holder at a time; the others wait in arrival order. Loop-affine
/// (no mutex, no atomics): use it from tasks of one loop.
///
/// Fair: release() hands the lock directly to the first waiter, so the lock stays locked until
/// that waiter runs, and a task that comes along meanwhile queues behind it instead of taking
/// the lock first (asyncio also makes newcomers wait, by a different route).
///
/// Not owned: as in asyncio, any task may release it; the lock does not know who holds it.
/// Must outlive the tasks that wait on it.
///
///   auto held = co_await lk.scoped(); // `async with lk:`
class lock {
public:
    /// Owns one acquisition and releases it when destroyed (see detail::release_guard:
    /// release(), owns(), movable).
    using guard = detail::release_guard<lock>;

    lock() noexcept = default;
    lock(const lock&) = delete;
    lock& operator=(const lock&) = delete;

    /// Acquires the lock (asyncio Lock.acquire; returns nothing instead of True). A free lock is
    /// taken at once, without suspending. Otherwise the caller waits behind earlier waiters and
    /// is resumed (posted to its executor) after a release() handed it the lock.
    /// Cancellation: throws cancelled_error and does not hold the lock. That includes a waiter
    /// that had just been handed the lock and was cancelled before it ran again: it passes the
    /// lock on to the next waiter (or frees it) before throwing, so a cancellation never leaks
    /// the lock. `where`: the caller's site, for the task's call stack (see event::wait).
    awaitable<void> acquire(aio::source_location where = aio::source_location::current()) {
        return permit_.acquire(where);
    }

    /// Acquires like acquire() and returns a guard that releases the lock when it goes out of
    /// scope (the C++ form of `async with lock:`): on return, on exception and on cancellation
    /// alike. Cancellation while waiting: throws cancelled_error, no guard, lock not held.
    awaitable<guard> scoped(aio::source_location where = aio::source_location::current()) {
        co_await acquire(where);
        co_return guard(*this);
    }

    /// Releases the lock (asyncio Lock.release): the first waiter, if any, gets it (its
    /// resumption is posted; release never suspends or runs a waiter inline). Throws
    /// std::logic_error if the lock is not locked (asyncio raises RuntimeError).
    void release() {
        if (!locked()) {
            throw std::logic_error("aio::lock::release: the lock is not acquired");
        }
        permit_.release_as("aio::lock::release");
    }

    /// True while some task holds the lock, or it has been handed to a waiter that has not run
    /// yet (asyncio Lock.locked).
    bool locked() const noexcept { return permit_.locked(); }

private:
    // A lock is a semaphore with one permit: its queue, hand-over and give-back on cancellation
    // are the semaphore's.
    bounded_semaphore permit_{1};
};

} // namespace aio

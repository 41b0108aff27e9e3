// aio/semaphore.hpp - semaphore and bounded_semaphore: counted permits for tasks
// (asyncio.Semaphore, asyncio.BoundedSemaphore).
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/release_guard.hpp>
#include <aio/detail/suspend.hpp>
#include <aio/detail/wait_queue.hpp>

#include <boost/asio/this_coro.hpp>

#include <cstddef>
#include <limits>
#include <stdexcept>

namespace aio {

/// asyncio.Semaphore: a counter of free permits; acquire() takes one, waiting while there is
/// none, release() gives one back. Loop-affine (no mutex, no atomics); must outlive the tasks
/// that wait on it.
///
/// Fair: a release() with tasks waiting hands its permit directly to the first of them, so a
/// task that arrives meanwhile queues behind them instead of taking the permit first.
///
///   auto permit = co_await sem.scoped(); // `async with sem:`
class semaphore {
public:
    /// Owns one permit and releases it when destroyed (see detail::release_guard: release(),
    /// owns(), movable).
    using guard = detail::release_guard<semaphore>;

    /// A semaphore with `value` free permits. Throws std::invalid_argument if value < 0
    /// (asyncio raises ValueError).
    explicit semaphore(std::ptrdiff_t value = 1)
        : semaphore(value, std::numeric_limits<std::size_t>::max()) {}
    semaphore(const semaphore&) = delete;
    semaphore& operator=(const semaphore&) = delete;

    /// Takes a permit (asyncio Semaphore.acquire; returns nothing instead of True). With a free
    /// permit, at once and without suspending. Otherwise the caller waits behind earlier
    /// waiters and is resumed (posted to its executor) when a release() handed it a permit.
    /// Cancellation: throws cancelled_error and holds no permit. A waiter that had just been
    /// handed a permit and was cancelled before it ran again passes the permit on to the next
    /// waiter (or back to the count) before throwing: a cancellation never leaks a permit.
    /// `where`: the caller's site, for the task's call stack (see event::wait).
    awaitable<void> acquire(aio::source_location where = aio::source_location::current()) {
        if (value_ > 0) {
            --value_;
            co_return;
        }
        detail::queued_waiter w(waiters_);
        w.set_site(where);
        bool cancelled = co_await detail::park(w);
        detail::settle_wait(cancelled, w, [this] { release(); });
    }

    /// Acquires like acquire() and returns a guard that releases the permit when it goes out of
    /// scope (`async with sem:`): on return, on exception and on cancellation alike.
    /// Cancellation while waiting: throws cancelled_error, no guard, no permit held.
    awaitable<guard> scoped(aio::source_location where = aio::source_location::current()) {
        co_await acquire(where);
        co_return guard(*this);
    }

    /// Gives a permit back (asyncio Semaphore.release): to the first waiter if there is one
    /// (its resumption is posted; release never suspends), else to the count. A plain semaphore
    /// accepts more releases than acquisitions, as asyncio's does; a bounded_semaphore throws
    /// std::logic_error then (see there). In debug mode, throws std::logic_error when called on
    /// another thread than its loop's.
    void release() { release_as("aio::semaphore::release"); }

    /// True if acquire() would wait: no free permit (asyncio Semaphore.locked).
    bool locked() const noexcept { return value_ == 0; }

protected:
    semaphore(std::ptrdiff_t value, std::size_t bound) : value_(checked(value)), bound_(bound) {}

private:
    friend class lock;
    /// release(), `what` naming it in debug mode's thread check.
    void release_as(const char* what) {
        waiters_.check_thread(what);
        if (value_ >= bound_) {
            throw std::logic_error("aio::bounded_semaphore::release: released too many times");
        }
        if (!waiters_.grant_first()) {
            ++value_;
        }
    }

    static std::size_t checked(std::ptrdiff_t value) {
        if (value < 0) {
            throw std::invalid_argument("aio::semaphore: the initial value must be >= 0");
        }
        return static_cast<std::size_t>(value);
    }

    // Invariant: tasks wait only while no permit is free (a release with waiters hands its
    // permit over instead of counting it), so value_ > 0 alone means "take one now".
    std::size_t value_;
    std::size_t bound_;
    detail::wait_queue waiters_{"aio::semaphore (or aio::lock) acquire"};
};

/// asyncio.BoundedSemaphore: a semaphore whose release() throws std::logic_error (asyncio
/// raises ValueError) when it would make more permits free than the initial value - a release
/// without a matching acquire. The failed release changes nothing. Like asyncio's, it cannot
/// tell who holds a permit: the check is on the count, so an extra release made while every
/// permit is taken is caught by the next release that finds the count full.
class bounded_semaphore : public semaphore {
public:
    /// A bounded semaphore with `value` free permits, at most `value` free at any time. Throws
    /// std::invalid_argument if value < 0.
    explicit bounded_semaphore(std::ptrdiff_t value = 1)
        : semaphore(value, static_cast<std::size_t>(value < 0 ? 0 : value)) {}
};

} // namespace aio

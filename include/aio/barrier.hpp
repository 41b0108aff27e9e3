// aio/barrier.hpp - barrier: tasks wait until a number of them have arrived (asyncio.Barrier).
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/suspend.hpp>
#include <aio/detail/wait_queue.hpp>

#include <boost/asio/this_coro.hpp>

#include <cstddef>
#include <stdexcept>

namespace aio {

/// Thrown by barrier::wait when the barrier is broken: aborted, or reset while the task was
/// waiting (asyncio.BrokenBarrierError, which is a RuntimeError).
class broken_barrier_error : public std::runtime_error {
public:
    broken_barrier_error() : std::runtime_error("aio: the barrier is broken") {}
};

/// asyncio.Barrier: wait() blocks until `parties` tasks are waiting, then lets all of them
/// through at once, and the barrier is ready for the next round. Loop-affine (no mutex, no
/// atomics); must outlive the tasks that wait on it.
class barrier {
public:
    /// A barrier for `parties` tasks. Throws std::invalid_argument if parties is 0 (asyncio
    /// raises ValueError).
    explicit barrier(std::size_t parties) : parties_(checked(parties)) {}
    barrier(const barrier&) = delete;
    barrier& operator=(const barrier&) = delete;

    /// Waits until `parties` tasks have called wait() in this round and returns this task's
    /// arrival index, 0 for the first to arrive up to parties - 1 for the last (asyncio
    /// Barrier.wait). The last to arrive returns at once, without suspending, and starts the
    /// next round; the others are resumed (posted) in arrival order. The indices of a round
    /// are always distinct: a task that left by cancellation gives up its place (asyncio can
    /// hand out an index twice then).
    /// Cancellation: a waiting task leaves the round (n_waiting() drops; the barrier is not
    /// broken) and gets cancelled_error. A task cancelled after the round completed but before
    /// it ran again gets cancelled_error too; the round still counted it.
    /// Errors: broken_barrier_error if the barrier is broken on arrival, or aborted or reset
    /// while the task waits. `where`: the caller's site, for the task's call stack (see
    /// event::wait).
    awaitable<std::size_t> wait(aio::source_location where = aio::source_location::current()) {
        if (broken_) {
            throw broken_barrier_error();
        }
        if (waiters_.size() + 1 == parties_) {
            // The waiters get 0 .. n-1 in arrival order; this last arrival is n.
            co_return waiters_.grant_all();
        }
        detail::queued_waiter w(waiters_);
        w.set_site(where);
        bool cancelled = co_await detail::park(w);
        detail::settle_wait(cancelled, w, [] {});
        if (w.refused()) {
            throw broken_barrier_error();
        }
        co_return w.grant_value();
    }

    /// Returns the barrier to its initial, empty state (asyncio Barrier.reset, which is a
    /// coroutine; here a plain call): tasks waiting now get broken_barrier_error, a broken
    /// barrier becomes usable again. Never suspends.
    void reset() {
        broken_ = false;
        waiters_.refuse_all();
    }

    /// Breaks the barrier (asyncio Barrier.abort, a coroutine there): tasks waiting now, and
    /// every later wait() until reset(), get broken_barrier_error. Never suspends.
    void abort() {
        broken_ = true;
        waiters_.refuse_all();
    }

    /// The number of tasks the barrier waits for (asyncio Barrier.parties).
    std::size_t parties() const noexcept { return parties_; }
    /// The number of tasks waiting in the current round (asyncio Barrier.n_waiting).
    std::size_t n_waiting() const noexcept { return waiters_.size(); }
    /// True once aborted, until reset (asyncio Barrier.broken).
    bool broken() const noexcept { return broken_; }

private:
    static std::size_t checked(std::size_t parties) {
        if (parties == 0) {
            throw std::invalid_argument("aio::barrier: parties must be at least 1");
        }
        return parties;
    }

    std::size_t parties_;
    bool broken_ = false;
    detail::wait_queue waiters_{"aio::barrier.wait"};
};

} // namespace aio

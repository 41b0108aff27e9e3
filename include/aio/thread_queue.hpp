// aio/thread_queue.hpp - thread_queue<T>: one FIFO buffer with a blocking side for threads and
// an awaitable side for the coroutines of one loop (the janus queue).
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/thread_queue_state.hpp>
#include <aio/loop.hpp>
#include <aio/queue_error.hpp>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <memory>
#include <utility>

namespace aio {

/// janus.Queue: a bridge between plain threads and the coroutines of one loop. One FIFO buffer,
/// two ways in and out of it:
///   - sync(): for threads. put/get block (optionally with a timeout, like queue.Queue);
///   - async(): for coroutines of the loop. `co_await q.async().put(v)`, `co_await
///     q.async().get()`; they park the task, never the loop's thread.
/// Both have put_nowait/get_nowait, size/empty/full/maxsize.
///
///   aio::thread_queue<int> q;                         // on the loop; unbounded
///   std::thread producer([&] { q.sync().put(42); });  // any thread
///   int v = co_await q.async().get();                 // a task on the loop
///
/// The loop. The async side belongs to one loop, fixed at construction: the running loop (as
/// janus binds to the running loop), or the one passed in. Its awaits throw std::logic_error in
/// a coroutine of another loop. A parked await is always resumed on that loop's thread, never
/// on the producer's thread: a thread's put posts the wake-up to the loop.
///
/// Waking is fair per side only loosely: every put (or get) wakes one waiting getter (putter)
/// of each side, in FIFO order within a side; a call that finds an item (a slot) at once takes
/// it, even if others are parked, as with asyncio.Queue and queue.Queue.
///
/// Closing. close() (any thread) makes every put fail at once, on both sides, with
/// queue_shut_down, and wakes every blocked or parked call. Items put before close are never
/// lost: get on either side keeps returning them, and throws queue_shut_down once the buffer is
/// empty. A blocked sync get or an async get parked on an empty queue is woken by close with
/// queue_shut_down. This is Python 3.13's Queue.shutdown() without `immediate`.
///
/// Lifetime. thread_queue must outlive every thread and coroutine that uses it: destroying it
/// while a thread is blocked in it or a task is parked in it is undefined behaviour (close it,
/// and join the threads or await the tasks, first). Items still in it are destroyed with it.
/// Wake-ups it posted to the loop keep only its internal state alive, never its users.
///
/// Differences from janus: no task_done()/join(); the constructor takes the loop (or uses the
/// running one) rather than creating internal tasks; wait_closed() waits for close(), since
/// there is nothing else to wind down.
template <class T>
class thread_queue {
    using state_type = detail::thread_queue_state<T>;

public:
    using value_type = T;

    /// What both sides offer: the calls that never block or park, and snapshots of the state.
    class side_base {
    public:
        /// put_nowait (queue.Queue's and asyncio.Queue's): appends `item` if there is a free
        /// slot, else throws queue_full; throws queue_shut_down once closed; on either error
        /// `item` is left untouched. Never blocks; any thread.
        template <class U = T>
        requires std::constructible_from<T, U&&>
        void put_nowait(U&& item) const { state_->put_nowait(std::forward<U>(item)); }

        /// get_nowait: the oldest item if there is one, else throws queue_empty
        /// (queue_shut_down if closed). Never blocks; any thread.
        T get_nowait() const { return state_->get_nowait(); }

        /// The number of items (a snapshot: other threads may change it at once).
        std::size_t size() const { return state_->size(); }
        bool empty() const { return size() == 0; }
        /// True if maxsize() > 0 and the queue holds maxsize() items (a snapshot).
        bool full() const { return state_->full(); }
        std::size_t maxsize() const noexcept { return state_->maxsize(); }
        bool closed() const { return state_->closed(); }

    protected:
        explicit side_base(state_type* s) noexcept : state_(s) {}
        state_type* state_;
    };

    /// The side for plain threads (janus's sync_q, the queue.Queue interface).
    ///
    /// put and get block the calling thread; called on the loop's own thread they throw
    /// std::logic_error instead (they would block the loop that has to unblock them: use
    /// async() or the nowait calls there). A cheap view: copy it freely while the queue lives.
    class sync_side : public side_base {
    public:
        /// queue.Queue.put(item): appends `item`, blocking while the queue is full. Throws
        /// queue_shut_down if the queue is (or, while blocked, becomes) closed; the item is
        /// then not added, and `item` is left untouched (a move-only item is not lost). Wakes
        /// one blocked getter of each side.
        template <class U = T>
        requires std::constructible_from<T, U&&>
        void put(U&& item) const {
            this->state_->put_blocking(std::forward<U>(item), std::nullopt);
        }

        /// queue.Queue.put(item, timeout=t): as put, but throws queue_full if no slot frees
        /// up within `timeout` (a zero or negative timeout does not wait).
        template <class U, class Rep, class Period>
        requires std::constructible_from<T, U&&>
        void put(U&& item, std::chrono::duration<Rep, Period> timeout) const {
            this->state_->put_blocking(std::forward<U>(item), detail::deadline_after(timeout));
        }

        /// queue.Queue.get(): removes and returns the oldest item, blocking while the queue is
        /// empty. Throws queue_shut_down if the queue is closed and empty (also when close()
        /// wakes the blocked call).
        T get() const { return this->state_->get_blocking(std::nullopt); }

        /// queue.Queue.get(timeout=t): as get, but throws queue_empty if no item arrives
        /// within `timeout` (a zero or negative timeout does not wait).
        template <class Rep, class Period>
        T get(std::chrono::duration<Rep, Period> timeout) const {
            return this->state_->get_blocking(detail::deadline_after(timeout));
        }

    private:
        friend class thread_queue;
        using side_base::side_base;
    };

    /// The side for coroutines on the queue's loop (janus's async_q, the asyncio.Queue
    /// interface). Its awaits throw std::logic_error when awaited by a coroutine of another
    /// loop. A cheap view: copy it freely while the queue lives.
    class async_side : public side_base {
    public:
        /// asyncio.Queue.put: appends `item`, parking the task while the queue is full. Returns
        /// without suspending when there is a free slot. Throws queue_shut_down if the queue is
        /// (or, while parked, becomes) closed. Cancellation while parked: throws
        /// cancelled_error, the item is not added and takes no slot (a slot this put was woken
        /// for goes to the next parked putter).
        awaitable<void> put(T item) const { return this->state_->put_async(std::move(item)); }

        /// asyncio.Queue.get: removes and returns the oldest item, parking the task while the
        /// queue is empty. Returns without suspending when an item is there. Throws
        /// queue_shut_down once the queue is closed and empty. Cancellation while parked:
        /// throws cancelled_error and takes no item (an item this get was woken for stays for
        /// the next getter, which is woken).
        awaitable<T> get() const { return this->state_->get_async(); }

    private:
        friend class thread_queue;
        using side_base::side_base;
    };

    /// A queue whose async side belongs to the running loop (janus.Queue()); `maxsize` 0 means
    /// unbounded. Throws std::logic_error when no loop runs on this thread.
    explicit thread_queue(std::size_t maxsize = 0) : thread_queue(get_running_loop(), maxsize) {}

    /// A queue whose async side belongs to `lp`; may be constructed on any thread.
    explicit thread_queue(const loop& lp, std::size_t maxsize = 0)
        : state_(std::make_shared<state_type>(lp.shared_core(), maxsize)) {}

    thread_queue(const thread_queue&) = delete;
    thread_queue& operator=(const thread_queue&) = delete;

    /// The blocking side, for threads (janus sync_q).
    sync_side sync() noexcept { return sync_side(state_.get()); }
    /// The awaitable side, for coroutines on the loop (janus async_q).
    async_side async() noexcept { return async_side(state_.get()); }

    /// 0 for an unbounded queue.
    std::size_t maxsize() const noexcept { return state_->maxsize(); }

    /// janus.Queue.close, from any thread: from now on put fails with queue_shut_down on both
    /// sides, get drains what is left and then fails with queue_shut_down; every blocked or
    /// parked call is woken to find out. Idempotent.
    void close() { state_->close(); }

    /// janus.Queue.closed: true once close() was called.
    bool closed() const { return state_->closed(); }

    /// janus.Queue.wait_closed: completes once close() has been called (at once if it was),
    /// on the queue's loop. Cancellation: throws cancelled_error; the queue is not affected.
    awaitable<void> wait_closed() const { return state_->wait_closed(); }

private:
    std::shared_ptr<state_type> state_;
};

} // namespace aio

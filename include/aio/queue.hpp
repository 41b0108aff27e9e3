// aio/queue.hpp - queue<T>, lifo_queue<T>, priority_queue<T, Compare>: asyncio's Queue,
// LifoQueue and PriorityQueue, one engine (basic_queue) over three orders.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/loop_core.hpp>
#include <aio/detail/queue_storage.hpp>
#include <aio/detail/queue_waiter.hpp>
#include <aio/detail/suspend.hpp>
#include <aio/error.hpp>
#include <aio/queue_error.hpp>

#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <functional>
#include <stdexcept>
#include <utility>

namespace aio {

/// What basic_queue needs from the container that decides its order (the role of the _put,
/// _get and _qsize methods that asyncio.Queue's subclasses override): push an item, pop the
/// next one (only called when size() > 0), count the items and discard them all.
template <class S>
concept queue_storage = std::move_constructible<S> &&
    requires(S& s, const S& cs, typename S::value_type&& item) {
    s.push(std::move(item));
    { s.pop() } -> std::same_as<typename S::value_type>;
    { cs.size() } -> std::same_as<std::size_t>;
    s.clear();
};

/// The engine of aio::queue, lifo_queue and priority_queue (asyncio.Queue and its
/// subclasses): items passed between the tasks of one loop, in the order Storage decides,
/// bounded by maxsize (0 = unbounded). T may be move-only.
///
///   aio::queue<std::string> lines(64);
///   co_await lines.put(line);                 // waits while 64 lines are queued
///   std::string next = co_await lines.get();  // waits while the queue is empty
///   lines.task_done();                        // join() returns once every line is done
///
/// Loop-affine: use a queue from its loop's thread only (no locks, no atomics); between
/// threads use aio::thread_queue. Not copyable or movable. Destroying a queue while tasks still
/// wait on it (say, workers parked in get() when the coroutine owning the queue returns) wakes
/// them with queue_shut_down, and they do not touch the queue again; the loop must still be
/// open then.
///
/// Fairness: parked getters are served in the order they parked, and so are parked putters.
/// A put that finds getters parked promises its item to the first of them and wakes it
/// (resumption is posted to the loop); the item stays in the queue, counted by size(), until
/// that getter resumes and takes it, and no other get (get_nowait included) can take it
/// meanwhile. Likewise a slot freed while putters are parked is promised to the first one.
/// asyncio instead lets get_nowait / put_nowait take what a woken waiter was woken for, and
/// sends that waiter to the back of the line.
///
/// Cancellation: a get or put cancelled while parked leaves the line and throws
/// cancelled_error. One cancelled after it was woken but before it resumed throws
/// cancelled_error too, and hands the item or slot promised to it to the next in line. So a
/// cancelled get never removes an item and a cancelled put never inserts one: nothing is lost,
/// no slot is taken.
///
/// Fast path: get with an item available and put with a free slot complete without suspending
/// (no trip through the loop), as in asyncio.
template <queue_storage Storage>
class basic_queue {
public:
    using value_type = typename Storage::value_type;

    /// A queue that holds at most `maxsize` items; 0 means unbounded (asyncio: maxsize <= 0).
    explicit basic_queue(std::size_t maxsize = 0, Storage storage = Storage())
        : storage_(std::move(storage)), maxsize_(maxsize) {}
    basic_queue(const basic_queue&) = delete;
    basic_queue& operator=(const basic_queue&) = delete;
    /// Wakes every get, put and join still waiting with queue_shut_down (see the class comment).
    ~basic_queue() {
        getters_.shut_down_all();
        putters_.shut_down_all();
        while (detail::queue_waiter* w = joiners_.pop_front()) {
            w->wake_for(detail::queue_wake::shut_down);
        }
    }

    /// asyncio Queue.get: removes and returns the next item, waiting while none is available.
    /// Returns at once, without suspending, when an item is available.
    /// Throws queue_shut_down once the queue is shut down and holds no item for this caller
    /// (at once, or by waking a parked get). Cancellation: throws cancelled_error and removes
    /// no item (see the class comment). `where`: the caller's site, for the task's call stack
    /// (see event::wait; the same for put and join).
    awaitable<value_type> get(aio::source_location where = aio::source_location::current()) {
        binding_.use("a queue");
        if (!item_available()) {
            if (shut_down_) {
                throw queue_shut_down();
            }
            co_await wait_in(getters_, where);
        }
        co_return take_item();
    }

    /// asyncio Queue.put: inserts `item`, waiting while the queue is full. Returns at once,
    /// without suspending, when a slot is free. Throws queue_shut_down if the queue is shut
    /// down, at once or by waking a parked put. Cancellation: throws cancelled_error and
    /// inserts nothing. On either error the item is destroyed with the coroutine.
    awaitable<void> put(value_type item,
                        aio::source_location where = aio::source_location::current()) {
        binding_.use("a queue");
        if (shut_down_) {
            throw queue_shut_down();
        }
        if (!slot_available()) {
            co_await wait_in(putters_, where);
        }
        insert(std::move(item));
    }

    /// asyncio Queue.get_nowait: removes and returns the next item. Throws queue_empty when
    /// no item is available (an item promised to a woken getter is not), or queue_shut_down
    /// instead when the queue is also shut down.
    value_type get_nowait() {
        detail::check_thread(binding_, "aio::queue::get_nowait");
        binding_.use("a queue");
        if (!item_available()) {
            if (shut_down_) {
                throw queue_shut_down();
            }
            throw queue_empty();
        }
        return take_item();
    }

    /// asyncio Queue.put_nowait: inserts the item built from `item`. Throws queue_shut_down if
    /// the queue is shut down, queue_full if no slot is free (a slot promised to a woken putter
    /// is not); on either error `item` is left untouched, so a move-only item is not lost.
    template <class U = value_type>
    requires std::constructible_from<value_type, U&&>
    void put_nowait(U&& item) {
        detail::check_thread(binding_, "aio::queue::put_nowait");
        binding_.use("a queue");
        if (shut_down_) {
            throw queue_shut_down();
        }
        if (!slot_available()) {
            throw queue_full();
        }
        insert(value_type(std::forward<U>(item)));
    }

    /// asyncio Queue.task_done: tells the queue that one item taken from it has been
    /// processed. When every item ever put has been, the tasks awaiting join() are woken.
    /// Throws std::logic_error if called more often than items were put (Python's ValueError).
    void task_done() {
        binding_.use("a queue");
        if (unfinished_ == 0) {
            throw std::logic_error("aio: queue::task_done() called too many times");
        }
        if (--unfinished_ == 0) {
            wake_joiners();
        }
    }

    /// asyncio Queue.join: waits until every item put has been marked done by task_done()
    /// (or discarded by shutdown(true)); returns at once, without suspending, if that is
    /// already so. A woken join returns even if new items are put before it resumes.
    /// Cancellation: throws cancelled_error. Throws queue_shut_down if the queue is destroyed
    /// while it waits (shutdown() alone does not end a join: items left still need task_done).
    awaitable<void> join(aio::source_location where = aio::source_location::current()) {
        binding_.use("a queue");
        if (unfinished_ == 0) {
            co_return;
        }
        detail::queue_waiter w;
        w.set_site(where);
        joiners_.push_back(w);
        bool cancelled = co_await detail::park(w);
        if (cancelled || w.reason() == detail::queue_wake::cancelled) {
            throw cancelled_error();
        }
        if (w.reason() == detail::queue_wake::shut_down) {
            throw queue_shut_down();
        }
    }

    /// asyncio Queue.shutdown (Python 3.13): from now on every put and put_nowait throws
    /// queue_shut_down, parked puts included (even one already woken for a slot). Gets go on
    /// taking the items left; once none is left for them they throw queue_shut_down, and the
    /// parked gets (which by then have nothing coming) are woken with it.
    /// With `immediate`, the items are discarded at once, each counting as done for join()
    /// (joiners are woken if that leaves nothing unfinished), and every get throws
    /// queue_shut_down, including one woken for an item that has not resumed yet.
    /// Calling it again is allowed (a later shutdown(true) still discards what is left).
    void shutdown(bool immediate = false) {
        binding_.use("a queue");
        shut_down_ = true;
        if (immediate) {
            std::size_t discarded = storage_.size();
            storage_.clear();
            unfinished_ -= std::min(discarded, unfinished_);
            getters_.shut_down_all();
            if (unfinished_ == 0) {
                wake_joiners();
            }
        } else {
            getters_.shut_down_parked();
        }
        putters_.shut_down_all();
    }

    /// asyncio Queue.qsize: the number of items in the queue, counting the ones promised to
    /// woken getters that have not resumed yet.
    std::size_t size() const noexcept { return storage_.size(); }
    /// asyncio Queue.empty: size() == 0.
    bool empty() const noexcept { return size() == 0; }
    /// asyncio Queue.full: size() >= maxsize() for a bounded queue; never for an unbounded one.
    bool full() const noexcept { return maxsize_ > 0 && size() >= maxsize_; }
    /// asyncio Queue.maxsize: the bound given at construction, 0 if unbounded.
    std::size_t maxsize() const noexcept { return maxsize_; }

private:
    bool item_available() const noexcept { return storage_.size() > getters_.promised(); }
    bool slot_available() const noexcept {
        return maxsize_ == 0 || storage_.size() + putters_.promised() < maxsize_;
    }

    value_type take_item() {
        value_type item = storage_.pop();
        grant_waiting();
        return item;
    }

    void insert(value_type&& item) {
        storage_.push(std::move(item));
        ++unfinished_;
        grant_waiting();
    }

    /// Promises the items and slots nobody holds yet to the parked getters and putters.
    void grant_waiting() {
        while (getters_.has_waiting() && item_available()) {
            getters_.grant_first();
        }
        while (putters_.has_waiting() && slot_available()) {
            putters_.grant_first();
        }
    }

    void wake_joiners() {
        while (detail::queue_waiter* w = joiners_.pop_front()) {
            w->wake_for(detail::queue_wake::granted);
        }
    }

    /// Parks the caller at the end of `line` until an item (or a slot) is promised to it.
    /// Throws queue_shut_down, or cancelled_error after handing a promise it got to the next
    /// in line. After resuming it touches the queue only if granted: a waiter woken by the
    /// queue's destructor, or cancelled after it, must not.
    awaitable<void> wait_in(detail::queue_line& line, aio::source_location where) {
        detail::queue_waiter w;
        w.set_site(where);
        line.enter(w);
        bool cancelled = co_await detail::park(w);
        cancelled = cancelled || w.reason() == detail::queue_wake::cancelled;
        if (w.reason() == detail::queue_wake::granted) {
            line.settle(w);
            if (cancelled) {
                grant_waiting();
            }
        }
        if (cancelled) {
            throw cancelled_error();
        }
        if (w.reason() == detail::queue_wake::shut_down) {
            throw queue_shut_down();
        }
    }

    Storage storage_;
    detail::loop_binding binding_;
    std::size_t maxsize_;
    std::size_t unfinished_ = 0;
    bool shut_down_ = false;
    detail::queue_line getters_;
    detail::queue_line putters_;
    detail::intrusive_list<detail::queue_waiter> joiners_;
};

/// asyncio.Queue: first in, first out. See basic_queue for every operation.
template <class T>
class queue final : public basic_queue<detail::fifo_ring<T>> {
public:
    /// A FIFO queue of at most `maxsize` items (0 = unbounded).
    explicit queue(std::size_t maxsize = 0) : basic_queue<detail::fifo_ring<T>>(maxsize) {}
};

/// asyncio.LifoQueue: last in, first out. See basic_queue for every operation.
template <class T>
class lifo_queue final : public basic_queue<detail::lifo_stack<T>> {
public:
    /// A LIFO queue of at most `maxsize` items (0 = unbounded).
    explicit lifo_queue(std::size_t maxsize = 0) : basic_queue<detail::lifo_stack<T>>(maxsize) {}
};

/// asyncio.PriorityQueue: the smallest item first. `Compare` is a strict weak order meaning
/// "a comes out before b", as std::sort's: with the default std::less the smallest item comes
/// out first, as from Python's heapq (the reverse of std::priority_queue, which pops the
/// largest). Items that compare equal come out in no particular order; as in Python, queue
/// (priority, sequence number, payload) tuples to keep them in insertion order.
/// See basic_queue for every operation.
template <class T, class Compare = std::less<T>>
class priority_queue final : public basic_queue<detail::priority_heap<T, Compare>> {
public:
    /// A priority queue of at most `maxsize` items (0 = unbounded), ordered by `compare`.
    explicit priority_queue(std::size_t maxsize = 0, Compare compare = Compare())
        : basic_queue<detail::priority_heap<T, Compare>>(
              maxsize, detail::priority_heap<T, Compare>(std::move(compare))) {}
};

} // namespace aio

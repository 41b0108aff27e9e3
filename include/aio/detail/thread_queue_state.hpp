// aio/detail/thread_queue_state.hpp - the buffer, the lock and the waiters that thread_queue's
// sync and async sides share.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/intrusive_list.hpp>
#include <aio/detail/queue_storage.hpp>
#include <aio/detail/state.hpp>
#include <aio/detail/suspend.hpp>
#include <aio/queue_error.hpp>

#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/this_coro.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

namespace aio::detail {

/// When a blocking call of thread_queue's sync side gives up; nullopt = never.
using blocking_deadline = std::optional<std::chrono::steady_clock::time_point>;

/// The deadline `timeout` from now; a timeout too long to represent means never.
template <class Rep, class Period>
blocking_deadline deadline_after(std::chrono::duration<Rep, Period> timeout) {
    using clock = std::chrono::steady_clock;
    const clock::time_point now = clock::now();
    if (timeout <= timeout.zero()) {
        return now;
    }
    using seconds = std::chrono::duration<double>;
    if (seconds(timeout) >= seconds(clock::time_point::max() - now)) {
        return std::nullopt;
    }
    return now + std::chrono::ceil<clock::duration>(timeout);
}

/// The state of one thread_queue. It is shared (shared_ptr) with the wake-up it posts to the
/// loop, so that a posted wake-up never outlives it. Its mutable members are guarded by mutex_.
///
/// Waking. Every change that lets waiters proceed (an item put, a slot freed) wakes one waiter
/// of each side: notify_one for blocked threads, and the first parked await for coroutines.
/// close() wakes all of them. A woken waiter that finds nothing to do (someone else got there
/// first) waits again; an await that resumes cancelled hands its turn to the next await of its
/// kind, so a cancellation never strands an item or a free slot.
///
/// Where awaits resume. A parked await is only ever resumed by code running on the loop thread
/// (waiter::wake touches the awaiting task's cancellation slot and posts to its executor). A
/// change made on the loop thread wakes the await there and then; a change made by another
/// thread moves the await to ready_ and posts one wake_ready() to the loop, which wakes
/// everything in ready_. Only the loop thread takes an await out of the lists for good (the
/// wake, on_cancel, the await's own destructor); other threads only move it from a wait list
/// to ready_. That is why `in_list_` can be read on the loop thread without the lock.
template <class T>
class thread_queue_state : public std::enable_shared_from_this<thread_queue_state<T>> {
public:
    thread_queue_state(std::shared_ptr<loop_core> loop, std::size_t maxsize)
        : loop_(std::move(loop)), maxsize_(maxsize) {}
    thread_queue_state(const thread_queue_state&) = delete;
    thread_queue_state& operator=(const thread_queue_state&) = delete;

    // --- any thread ---

    std::size_t maxsize() const noexcept { return maxsize_; }

    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return items_.size();
    }

    bool full() const {
        std::lock_guard lock(mutex_);
        return full_locked();
    }

    bool closed() const {
        std::lock_guard lock(mutex_);
        return closed_;
    }

    /// `item` is only moved from once it is accepted: on an error the caller still has it.
    template <class U>
    void put_nowait(U&& item) {
        std::lock_guard lock(mutex_);
        if (closed_) {
            throw queue_shut_down();
        }
        if (full_locked()) {
            throw queue_full();
        }
        push_locked(T(std::forward<U>(item)));
    }

    T get_nowait() {
        std::lock_guard lock(mutex_);
        if (items_.size() == 0) {
            if (closed_) {
                throw queue_shut_down();
            }
            throw queue_empty();
        }
        return take_locked();
    }

    void close() {
        std::lock_guard lock(mutex_);
        if (closed_) {
            return;
        }
        closed_ = true;
        not_empty_.notify_all();
        not_full_.notify_all();
        for (waiter_list* list : {&getters_, &putters_, &close_waiters_}) {
            while (async_waiter* w = list->pop_front()) {
                wake_locked(*w);
            }
        }
    }

    // --- threads other than the loop's ---

    /// As put_nowait, `item` is only moved from once it is accepted.
    template <class U>
    void put_blocking(U&& item, blocking_deadline deadline) {
        require_off_loop();
        std::unique_lock lock(mutex_);
        auto can_put = [this] { return closed_ || !full_locked(); };
        if (!block_until(not_full_, lock, deadline, can_put)) {
            throw queue_full();
        }
        if (closed_) {
            throw queue_shut_down();
        }
        push_locked(T(std::forward<U>(item)));
    }

    T get_blocking(blocking_deadline deadline) {
        require_off_loop();
        std::unique_lock lock(mutex_);
        auto can_get = [this] { return closed_ || items_.size() > 0; };
        if (!block_until(not_empty_, lock, deadline, can_get)) {
            throw queue_empty();
        }
        if (items_.size() == 0) {
            throw queue_shut_down();
        }
        return take_locked();
    }

    // --- coroutines on the loop ---

    awaitable<void> put_async(T item) {
        require_on_loop();
        auto cs = co_await boost::asio::this_coro::cancellation_state;
        for (;;) {
            async_waiter w(*this);
            {
                std::lock_guard lock(mutex_);
                if (closed_) {
                    throw queue_shut_down();
                }
                if (!full_locked()) {
                    push_locked(std::move(item));
                    co_return;
                }
                deliver_cancellation_before_parking(cs);
                park_locked(w, putters_);
            }
            bool cancelled = co_await park(w);
            if (cancelled) {
                std::lock_guard lock(mutex_);
                // This await may have been woken for a free slot: leave it to the next putter.
                if (!full_locked()) {
                    wake_first_locked(putters_);
                }
                throw cancelled_error();
            }
        }
    }

    awaitable<T> get_async() {
        require_on_loop();
        auto cs = co_await boost::asio::this_coro::cancellation_state;
        for (;;) {
            async_waiter w(*this);
            {
                std::lock_guard lock(mutex_);
                if (items_.size() > 0) {
                    co_return take_locked();
                }
                if (closed_) {
                    throw queue_shut_down();
                }
                deliver_cancellation_before_parking(cs);
                park_locked(w, getters_);
            }
            bool cancelled = co_await park(w);
            if (cancelled) {
                std::lock_guard lock(mutex_);
                // This await may have been woken for an item: leave it to the next getter.
                if (items_.size() > 0) {
                    wake_first_locked(getters_);
                }
                throw cancelled_error();
            }
        }
    }

    awaitable<void> wait_closed() {
        require_on_loop();
        auto cs = co_await boost::asio::this_coro::cancellation_state;
        async_waiter w(*this);
        {
            std::lock_guard lock(mutex_);
            if (closed_) {
                co_return;
            }
            deliver_cancellation_before_parking(cs);
            park_locked(w, close_waiters_);
        }
        bool cancelled = co_await park(w);
        if (cancelled) {
            throw cancelled_error();
        }
    }

private:
    /// An await of the async side, parked in one of the wait lists or in ready_. Lives in the
    /// awaiting coroutine's frame.
    class async_waiter final : public waiter, public list_hook {
    public:
        explicit async_waiter(thread_queue_state& owner) noexcept : owner_(owner) {}
        async_waiter(const async_waiter&) = delete;
        async_waiter& operator=(const async_waiter&) = delete;
        ~async_waiter() {
            if (in_list_) {
                std::lock_guard lock(owner_.mutex_);
                unlink();
            }
        }

        /// The awaiting task was cancelled while parked: stop waiting at once (the await then
        /// hands on a turn it may have been given, and throws cancelled_error).
        void on_cancel() override {
            {
                std::lock_guard lock(owner_.mutex_);
                unlink();
                in_list_ = false;
            }
            wake();
        }
        const char* what() const noexcept override { return "aio::thread_queue"; }

        /// Whether the waiter is in one of the owner's lists; read and written on the loop only.
        bool in_list_ = false;

    private:
        thread_queue_state& owner_;
    };
    using waiter_list = intrusive_list<async_waiter>;

    bool on_loop() const noexcept { return running_loop == loop_.get(); }

    void require_off_loop() const {
        if (on_loop()) {
            throw std::logic_error("aio: a blocking thread_queue call on its loop's thread would "
                                   "block the loop; use async() or the nowait calls there");
        }
    }

    void require_on_loop() const {
        if (!on_loop()) {
            throw std::logic_error("aio: thread_queue's async side awaited outside its loop");
        }
    }

    bool full_locked() const noexcept { return maxsize_ > 0 && items_.size() >= maxsize_; }

    void push_locked(T&& item) {
        items_.push(std::move(item));
        not_empty_.notify_one();
        wake_first_locked(getters_);
    }

    T take_locked() {
        T item = items_.pop();
        if (maxsize_ > 0) {
            not_full_.notify_one();
            wake_first_locked(putters_);
        }
        return item;
    }

    /// Blocks until ready() or the deadline; returns ready() (false: timed out).
    template <class Ready>
    static bool block_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                            const blocking_deadline& deadline, Ready ready) {
        if (!deadline) {
            cv.wait(lock, ready);
            return true;
        }
        return cv.wait_until(lock, *deadline, ready);
    }

    /// A cancellation recorded while the coroutine was not parked makes Asio throw at its next
    /// co_await, unless the coroutine turned that off (this_coro::throw_if_cancelled(false)).
    /// Then it is delivered here rather than parking: it was emitted already, so nothing would
    /// wake the parked await for it.
    static void deliver_cancellation_before_parking(boost::asio::cancellation_state cs) {
        check_cancelled(cs);
    }

    void park_locked(async_waiter& w, waiter_list& list) {
        list.push_back(w);
        w.in_list_ = true;
    }

    void wake_first_locked(waiter_list& list) {
        if (async_waiter* w = list.pop_front()) {
            wake_locked(*w);
        }
    }

    /// Resumes a parked await that has been taken out of its wait list: at once on the loop
    /// thread, otherwise through ready_ and one posted wake_ready().
    void wake_locked(async_waiter& w) {
        if (on_loop()) {
            w.in_list_ = false;
            w.wake();
            return;
        }
        ready_.push_back(w);
        if (!wake_posted_) {
            // A closed loop runs nothing any more, so nothing can be parked on it.
            wake_posted_ =
                loop_->post_threadsafe([self = this->shared_from_this()] { self->wake_ready(); });
        }
    }

    void wake_ready() {
        std::lock_guard lock(mutex_);
        wake_posted_ = false;
        while (async_waiter* w = ready_.pop_front()) {
            w->in_list_ = false;
            w->wake();
        }
    }

    const std::shared_ptr<loop_core> loop_;
    const std::size_t maxsize_;

    mutable std::mutex mutex_;
    fifo_ring<T> items_;
    bool closed_ = false;
    std::condition_variable not_empty_;
    std::condition_variable not_full_;
    waiter_list getters_;
    waiter_list putters_;
    waiter_list close_waiters_;
    waiter_list ready_;
    bool wake_posted_ = false;
};

} // namespace aio::detail

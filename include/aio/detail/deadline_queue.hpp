// aio/detail/deadline_queue.hpp - the loop's deadlines: one heap, one Asio timer.
#pragma once

#include <aio/detail/suspend.hpp>

#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/wait_traits.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

namespace aio::detail {

/// A steady timer bound to the loop's own executor type rather than any_io_executor: smaller,
/// and its wait completes without a type-erased executor call.
using loop_timer =
    boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                      boost::asio::wait_traits<std::chrono::steady_clock>,
                                      boost::asio::io_context::executor_type>;

/// A deadline in a deadline_queue. It lives inside whoever waits (a sleeping await's frame, a
/// timeout's state), so scheduling it allocates nothing; its owner removes it before it goes.
class timed_node {
public:
    using clock = std::chrono::steady_clock;

    timed_node() = default;
    timed_node(const timed_node&) = delete;
    timed_node& operator=(const timed_node&) = delete;

    /// Called on the loop, once, when the deadline has passed (the node is out of the queue by
    /// then). Must not throw: it runs inside the queue's timer handler.
    virtual void expire() noexcept = 0;

    bool scheduled() const noexcept { return place_ != place::none; }

protected:
    ~timed_node() = default;

private:
    friend class deadline_queue;
    enum class place : unsigned char { none, run, heap };

    /// Earlier: by deadline, then by the order the nodes were added.
    bool before(const timed_node& o) const noexcept {
        return when_ < o.when_ || (when_ == o.when_ && seq_ < o.seq_);
    }

    clock::time_point when_{};
    std::uint64_t seq_ = 0;
    timed_node* prev_ = nullptr; // in the run
    timed_node* next_ = nullptr;
    std::size_t index_ = 0; // in the heap
    place place_ = place::none;
};

/// The loop's deadlines behind one Asio timer, armed for the earliest. Deadlines mostly arrive
/// in order (every sleep of the same length added after the last one ends later), so they go
/// to a sorted run - a linked list appended at its end, taken from its front - in O(1); one
/// that arrives earlier than the run's last goes to a binary heap (O(log n)). Either way
/// removal (cancellation) needs no search. Asyncio keeps its timers in one heap. Against one
/// steady_timer per sleeper this saves, per deadline, the timer's wait operation (an
/// allocation), its cancellation handler and its place in the reactor's own heap. When the
/// timer fires, every node that is due expires, and the awaits that woke resume right there
/// (the ready queue is drained in the timer's handler, not in one more posted handler).
/// Loop thread only.
class deadline_queue {
public:
    using clock = timed_node::clock;

    deadline_queue(boost::asio::io_context& ctx, ready_queue& ready)
        : timer_(std::in_place, ctx), ready_(ready) {}
    deadline_queue(const deadline_queue&) = delete;
    deadline_queue& operator=(const deadline_queue&) = delete;

    /// Schedules `n` (not scheduled yet) to expire at `when`; a past deadline expires at the
    /// loop's next turn.
    void add(timed_node& n, clock::time_point when) {
        n.when_ = when;
        n.seq_ = next_seq_++;
        if (run_tail_ == nullptr || !n.before(*run_tail_)) {
            n.prev_ = run_tail_;
            n.next_ = nullptr;
            (run_tail_ != nullptr ? run_tail_->next_ : run_head_) = &n;
            run_tail_ = &n;
            n.place_ = timed_node::place::run;
        } else {
            heap_.push_back(&n);
            n.index_ = heap_.size() - 1;
            n.place_ = timed_node::place::heap;
            sift_up(n.index_);
        }
        if (earliest() == &n) {
            arm();
        }
        ++size_;
    }

    /// Takes `n` out unexpired; a no-op if it is not scheduled. The timer stays armed: if `n`
    /// was the earliest, the timer finds nothing due and re-arms for the next.
    void remove(timed_node& n) noexcept {
        switch (n.place_) {
        case timed_node::place::none:
            return;
        case timed_node::place::run:
            (n.prev_ != nullptr ? n.prev_->next_ : run_head_) = n.next_;
            (n.next_ != nullptr ? n.next_->prev_ : run_tail_) = n.prev_;
            n.prev_ = n.next_ = nullptr;
            break;
        case timed_node::place::heap:
            erase_from_heap(n.index_);
            break;
        }
        n.place_ = timed_node::place::none;
        --size_;
    }

    std::size_t size() const noexcept { return size_; }

    /// The loop closes: the timer goes before its io_context. Nodes still scheduled stay so
    /// until their owners remove them (frames destroyed with the io_context do).
    void close() noexcept { timer_.reset(); }

private:
    timed_node* earliest() const noexcept {
        if (heap_.empty()) {
            return run_head_;
        }
        if (run_head_ == nullptr || heap_.front()->before(*run_head_)) {
            return heap_.front();
        }
        return run_head_;
    }

    static std::size_t parent(std::size_t i) noexcept { return (i - 1) / 2; }
    void put(std::size_t i, timed_node* n) noexcept {
        heap_[i] = n;
        n->index_ = i;
    }
    void sift_up(std::size_t i) noexcept {
        timed_node* n = heap_[i];
        while (i > 0 && n->before(*heap_[parent(i)])) {
            put(i, heap_[parent(i)]);
            i = parent(i);
        }
        put(i, n);
    }
    void sift_down(std::size_t i) noexcept {
        timed_node* n = heap_[i];
        std::size_t size = heap_.size();
        for (;;) {
            std::size_t child = 2 * i + 1;
            if (child >= size) {
                break;
            }
            if (child + 1 < size && heap_[child + 1]->before(*heap_[child])) {
                ++child;
            }
            if (!heap_[child]->before(*n)) {
                break;
            }
            put(i, heap_[child]);
            i = child;
        }
        put(i, n);
    }
    void erase_from_heap(std::size_t i) noexcept {
        timed_node* last = heap_.back();
        heap_.pop_back();
        if (i == heap_.size()) {
            return;
        }
        put(i, last);
        if (i > 0 && last->before(*heap_[parent(i)])) {
            sift_up(i);
        } else {
            sift_down(i);
        }
    }

    /// Arms the timer for the earliest deadline unless a wait already ends no later.
    void arm() {
        timed_node* first = earliest();
        if (first == nullptr || !timer_) {
            return;
        }
        if (waits_ > 0 && armed_ <= first->when_) {
            return;
        }
        armed_ = first->when_;
        timer_->expires_at(armed_); // a wait for a later deadline completes as aborted
        ++waits_;
        timer_->async_wait([this](boost::system::error_code) { on_timer(); });
    }

    /// Expires every node that is due, earliest first, re-arms for the next one, and resumes
    /// the awaits that woke.
    void on_timer() {
        --waits_;
        if (!timer_) {
            return;
        }
        clock::time_point now = clock::now();
        while (timed_node* n = earliest()) {
            if (now < n->when_) {
                break;
            }
            remove(*n);
            n->expire(); // may add or remove other nodes
        }
        if (waits_ == 0) {
            arm();
        }
        ready_.drain();
    }

    timed_node* run_head_ = nullptr;
    timed_node* run_tail_ = nullptr;
    std::vector<timed_node*> heap_;
    std::size_t size_ = 0;
    std::uint64_t next_seq_ = 0;
    std::optional<loop_timer> timer_;
    ready_queue& ready_;
    clock::time_point armed_{};
    int waits_ = 0;
};

} // namespace aio::detail

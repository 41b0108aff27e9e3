// aio/detail/queue_storage.hpp - the three orders of aio's queues: a FIFO ring buffer, a LIFO
// stack and a min-heap. Each has push(T&&), pop() -> T, size() and clear().
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

namespace aio::detail {

/// First in, first out, in a circular buffer that doubles when full. Once it has grown to the
/// queue's high-water mark it never allocates again (std::deque allocates and frees a block
/// every few hundred bytes of traffic).
template <class T>
class fifo_ring {
public:
    using value_type = T;

    fifo_ring() noexcept = default;
    fifo_ring(fifo_ring&& other) noexcept
        : slots_(std::exchange(other.slots_, nullptr)),
          capacity_(std::exchange(other.capacity_, 0)), head_(std::exchange(other.head_, 0)),
          size_(std::exchange(other.size_, 0)) {}
    fifo_ring& operator=(fifo_ring&&) = delete;
    ~fifo_ring() {
        clear();
        std::allocator<T>().deallocate(slots_, capacity_);
    }

    void push(T&& item) {
        if (size_ == capacity_) {
            grow();
        }
        std::construct_at(slots_ + slot(size_), std::move(item));
        ++size_;
    }

    /// Removes and returns the oldest item. Requires size() > 0.
    T pop() {
        T& oldest = slots_[head_];
        T item(std::move(oldest));
        std::destroy_at(&oldest);
        head_ = slot(1);
        --size_;
        return item;
    }

    std::size_t size() const noexcept { return size_; }

    void clear() noexcept {
        for (std::size_t i = 0; i < size_; ++i) {
            std::destroy_at(slots_ + slot(i));
        }
        head_ = 0;
        size_ = 0;
    }

private:
    /// The slot `offset` places after the head (the capacity is a power of two).
    std::size_t slot(std::size_t offset) const noexcept {
        return (head_ + offset) & (capacity_ - 1);
    }

    /// Doubles the capacity, moving the items to the start of a new buffer in order. If a move
    /// throws, the new buffer is released and the ring is left as it was.
    void grow() {
        std::size_t capacity = capacity_ == 0 ? 16 : capacity_ * 2;
        T* slots = std::allocator<T>().allocate(capacity);
        std::size_t moved = 0;
        try {
            for (; moved < size_; ++moved) {
                std::construct_at(slots + moved, std::move_if_noexcept(slots_[slot(moved)]));
            }
        } catch (...) {
            std::destroy_n(slots, moved);
            std::allocator<T>().deallocate(slots, capacity);
            throw;
        }
        std::size_t size = size_;
        clear();
        std::allocator<T>().deallocate(slots_, capacity_);
        slots_ = slots;
        capacity_ = capacity;
        size_ = size;
    }

    T* slots_ = nullptr;
    std::size_t capacity_ = 0;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
};

/// Last in, first out.
template <class T>
class lifo_stack {
public:
    using value_type = T;

    void push(T&& item) { items_.push_back(std::move(item)); }

    /// Removes and returns the newest item. Requires size() > 0.
    T pop() {
        T item(std::move(items_.back()));
        items_.pop_back();
        return item;
    }

    std::size_t size() const noexcept { return items_.size(); }
    void clear() noexcept { items_.clear(); }

private:
    std::vector<T> items_;
};

/// Smallest first by `Compare` (a strict weak order, "a comes before b"), as Python's heapq.
/// Items that compare equal come out in no particular order.
template <class T, class Compare>
class priority_heap {
public:
    using value_type = T;

    explicit priority_heap(Compare compare = Compare()) : compare_(std::move(compare)) {}

    void push(T&& item) {
        items_.push_back(std::move(item));
        std::push_heap(items_.begin(), items_.end(), comes_after());
    }

    /// Removes and returns the smallest item. Requires size() > 0.
    T pop() {
        std::pop_heap(items_.begin(), items_.end(), comes_after());
        T item(std::move(items_.back()));
        items_.pop_back();
        return item;
    }

    std::size_t size() const noexcept { return items_.size(); }
    void clear() noexcept { items_.clear(); }

private:
    /// The std heap algorithms keep the greatest element on top; ordering by "comes after"
    /// puts the one that comes first there.
    auto comes_after() {
        return [this](const T& a, const T& b) { return compare_(b, a); };
    }

    std::vector<T> items_;
    Compare compare_;
};

} // namespace aio::detail

// aio/detail/intrusive_list.hpp - a doubly linked list whose nodes live inside their owners.
#pragma once

#include <cstddef>

namespace aio::detail {

/// The links a node of intrusive_list carries. Loop-affine: no synchronisation.
struct list_hook {
    list_hook* prev_ = nullptr;
    list_hook* next_ = nullptr;

    list_hook() noexcept = default;
    list_hook(const list_hook&) = delete;
    list_hook& operator=(const list_hook&) = delete;
    /// A node leaving scope (a coroutine frame destroyed while parked) takes itself out.
    ~list_hook() { unlink(); }

    bool linked() const noexcept { return next_ != nullptr; }

    /// Takes the node out of whatever list holds it; a no-op when unlinked.
    void unlink() noexcept {
        if (next_ != nullptr) {
            prev_->next_ = next_;
            next_->prev_ = prev_;
            prev_ = next_ = nullptr;
        }
    }
};

/// A circular list of T (which derives from list_hook) around a sentinel; no allocation.
/// Erasing is done by the node itself (list_hook::unlink), so the list keeps no count.
template <class T>
class intrusive_list {
public:
    intrusive_list() noexcept { head_.prev_ = head_.next_ = &head_; }
    intrusive_list(const intrusive_list&) = delete;
    intrusive_list& operator=(const intrusive_list&) = delete;
    ~intrusive_list() {
        while (!empty()) {
            head_.next_->unlink();
        }
    }

    bool empty() const noexcept { return head_.next_ == &head_; }

    void push_back(T& node) noexcept {
        list_hook& n = node;
        n.prev_ = head_.prev_;
        n.next_ = &head_;
        head_.prev_->next_ = &n;
        head_.prev_ = &n;
    }

    /// Unlinks and returns the first node, or nullptr when empty.
    T* pop_front() noexcept {
        if (empty()) {
            return nullptr;
        }
        list_hook* n = head_.next_;
        n->unlink();
        return static_cast<T*>(n);
    }

    /// Calls f(T&) for each node; f may unlink the node it is given, but no other.
    template <class F>
    void for_each(F&& f) {
        for (list_hook* n = head_.next_; n != &head_;) {
            list_hook* next = n->next_;
            f(*static_cast<T*>(n));
            n = next;
        }
    }

    std::size_t size() const noexcept {
        std::size_t count = 0;
        for (const list_hook* n = head_.next_; n != &head_; n = n->next_) {
            ++count;
        }
        return count;
    }

private:
    list_hook head_;
};

} // namespace aio::detail

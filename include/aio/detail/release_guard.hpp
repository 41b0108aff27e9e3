// aio/detail/release_guard.hpp - the guard that releases what a lock or semaphore await acquired.
#pragma once

#include <utility>

namespace aio::detail {

/// Owns one acquisition of a lock or a semaphore and releases it when destroyed: the C++
/// spelling of `async with lock:`. Movable, not copyable; a moved-from or released guard owns
/// nothing. `Primitive` is anything with a `release()`.
template <class Primitive>
class release_guard {
public:
    /// A guard that owns nothing.
    release_guard() noexcept = default;
    /// Takes over an acquisition the caller already made.
    explicit release_guard(Primitive& acquired) noexcept : primitive_(&acquired) {}

    release_guard(release_guard&& other) noexcept
        : primitive_(std::exchange(other.primitive_, nullptr)) {}
    release_guard& operator=(release_guard&& other) noexcept {
        if (this != &other) {
            release();
            primitive_ = std::exchange(other.primitive_, nullptr);
        }
        return *this;
    }
    ~release_guard() { release(); }

    /// Releases now, if the guard still owns the acquisition (asyncio's release(); unlike
    /// std::unique_lock::release, which gives up ownership without unlocking). Releasing the
    /// same acquisition also by hand is a bug the guard cannot detect: the guard releases a
    /// second time - an unlocked lock or a bounded_semaphore at its bound throws (from the
    /// destructor: the program terminates); a lock another task took meanwhile is released
    /// under it; a plain semaphore gains a permit.
    void release() {
        if (Primitive* p = std::exchange(primitive_, nullptr)) {
            p->release();
        }
    }

    /// True while the guard owns an acquisition it will release.
    bool owns() const noexcept { return primitive_ != nullptr; }
    explicit operator bool() const noexcept { return owns(); }

private:
    Primitive* primitive_ = nullptr;
};

} // namespace aio::detail

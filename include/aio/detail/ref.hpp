// aio/detail/ref.hpp - the owning pointer to a task's or future's state.
#pragma once

#include <type_traits>
#include <utility>

namespace aio::detail {

/// An owning pointer to a state (intrusive count; loop-affine).
template <class S>
class ref {
public:
    ref() noexcept = default;
    /// Adopts one reference already counted for it.
    static ref adopt(S* p) noexcept {
        ref r;
        r.p_ = p;
        return r;
    }
    explicit ref(S* p) noexcept : p_(p) {
        if (p_) {
            p_->add_ref();
        }
    }
    ref(const ref& o) noexcept : ref(o.p_) {}
    ref(ref&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    template <class U>
    requires std::is_convertible_v<U*, S*> ref(const ref<U>& o)
    noexcept : ref(o.get()) {}
    ref& operator=(ref o) noexcept {
        std::swap(p_, o.p_);
        return *this;
    }
    ~ref() {
        if (p_) {
            p_->release();
        }
    }
    S* get() const noexcept { return p_; }
    S* operator->() const noexcept { return p_; }
    S& operator*() const noexcept { return *p_; }
    explicit operator bool() const noexcept { return p_ != nullptr; }
    S* release() noexcept { return std::exchange(p_, nullptr); }

private:
    S* p_ = nullptr;
};

} // namespace aio::detail

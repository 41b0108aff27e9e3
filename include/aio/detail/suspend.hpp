// aio/detail/suspend.hpp - parking an aio await until something wakes it or it is cancelled.
#pragma once

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/recycling_allocator.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>
#include <utility>

#include <aio/error.hpp>

namespace aio::detail {

/// A suspended coroutine, type-erased: resume() hands it back to its executor.
class suspension {
public:
    /// Schedules the coroutine to continue: posted, never inline (Asio 1.81 has no immediate
    /// completion; resuming inside the initiation nests stacks until they overflow). Consumes
    /// *this.
    virtual void resume() = 0;

protected:
    ~suspension() = default;
};

/// The part of an aio await that lives in the awaiting coroutine's frame while it is parked.
/// wake() resumes it; on_cancel() is called (on the loop, synchronously inside task::cancel)
/// when the awaiting task is cancelled while parked here.
class waiter {
public:
    waiter() = default;
    waiter(const waiter&) = delete;
    waiter& operator=(const waiter&) = delete;

    /// Resumes the parked coroutine; a no-op if it is not parked (or already woken).
    void wake() noexcept {
        if (suspension* s = std::exchange(suspended_, nullptr)) {
            s->resume();
        }
    }

    bool parked() const noexcept { return suspended_ != nullptr; }

    /// What cancellation of the awaiting task does; by default, stop waiting. The await then
    /// finds the task's cancellation recorded and throws cancelled_error (see check_cancelled).
    virtual void on_cancel() { wake(); }

protected:
    ~waiter() = default;

private:
    template <class Handler>
    friend class suspension_op;
    friend struct suspend_initiation;
    suspension* suspended_ = nullptr;
};

template <class Handler>
class suspension_op final : public suspension {
public:
    using allocator_type = boost::asio::recycling_allocator<suspension_op>;

    explicit suspension_op(Handler h) : handler_(std::move(h)) {}

    void resume() override {
        auto slot = boost::asio::get_associated_cancellation_slot(handler_);
        if (slot.is_connected()) {
            slot.clear();
        }
        Handler h(std::move(handler_));
        allocator_type alloc;
        std::allocator_traits<allocator_type>::destroy(alloc, this);
        std::allocator_traits<allocator_type>::deallocate(alloc, this, 1);
        boost::asio::post(std::move(h));
    }

private:
    Handler handler_;
};

/// Forwards a cancellation emitted into the parked operation's slot to its waiter.
struct cancel_forwarder {
    waiter* target;
    void operator()(boost::asio::cancellation_type_t type) const {
        if (type != boost::asio::cancellation_type::none) {
            target->on_cancel();
        }
    }
};

struct suspend_initiation {
    template <class Handler>
    void operator()(Handler handler, waiter* w) const {
        auto slot = boost::asio::get_associated_cancellation_slot(handler);
        using op = suspension_op<Handler>;
        typename op::allocator_type alloc;
        op* node = std::allocator_traits<typename op::allocator_type>::allocate(alloc, 1);
        std::allocator_traits<typename op::allocator_type>::construct(alloc, node,
                                                                      std::move(handler));
        w->suspended_ = node;
        if (slot.is_connected()) {
            slot.template emplace<cancel_forwarder>(cancel_forwarder{w});
        }
    }
};

/// Parks the calling coroutine until w.wake(). Await with `co_await suspend(w)`.
inline auto suspend(waiter& w) {
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void()>(
        suspend_initiation{}, boost::asio::use_awaitable, &w);
}

/// Delivers a recorded cancellation once: if the running coroutine's cancellation state says
/// cancelled, clears it (so later awaits, e.g. cleanup, run normally) and throws
/// cancelled_error. Every aio await calls this after it resumes.
///   auto cs = co_await boost::asio::this_coro::cancellation_state;
///   detail::check_cancelled(cs);
inline void check_cancelled(boost::asio::cancellation_state cs) {
    if (cs.cancelled() != boost::asio::cancellation_type::none) {
        cs.clear();
        throw cancelled_error();
    }
}

} // namespace aio::detail

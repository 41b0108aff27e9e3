// aio/sleep.hpp - sleep(d): suspend the calling task for a while.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/state.hpp>
#include <aio/detail/suspend.hpp>

#include <boost/asio/execution/context.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>

namespace aio {

namespace detail {

/// A wait on a timer of the coroutine's own executor, for coroutines not on the running loop.
inline awaitable<void> wait_elsewhere(std::chrono::nanoseconds d) {
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, d);
    boost::system::error_code ec;
    co_await timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    auto cs = co_await boost::asio::this_coro::cancellation_state;
    check_cancelled(cs);
}

/// A sleeping await: its deadline in the loop's deadline queue and its parked coroutine, both
/// in the sleep's frame.
class sleeper final : public waiter, public timed_node {
public:
    explicit sleeper(deadline_queue& q) noexcept : queue_(q) {}
    sleeper(const sleeper&) = delete;
    sleeper& operator=(const sleeper&) = delete;
    ~sleeper() { queue_.remove(*this); }

    void expire() noexcept override { wake(); }
    void on_cancel() override {
        queue_.remove(*this);
        wake();
    }

private:
    deadline_queue& queue_;
};

/// sleep's body. Other paths than the loop's deadline queue are coroutines of their own, so
/// that this frame - alive for the whole sleep - holds little more than the sleeper.
inline awaitable<void> sleep_for(std::chrono::nanoseconds d) {
    loop_core* loop = running_loop;
    bool on_loop = false;
    if (loop != nullptr) {
        auto ex = co_await boost::asio::this_coro::executor;
        on_loop = &boost::asio::query(ex, boost::asio::execution::context) == &loop->context();
    }
    if (d <= d.zero()) {
        yield_waiter w;
        bool cancelled = co_await yield_now(w);
        if (cancelled) {
            throw cancelled_error();
        }
    } else if (on_loop) {
        sleeper s(loop->deadlines());
        loop->deadlines().add(s, deadline_queue::clock::now() +
                                     std::chrono::ceil<deadline_queue::clock::duration>(d));
        bool cancelled = co_await park(s);
        if (cancelled) {
            throw cancelled_error();
        }
    } else {
        co_await wait_elsewhere(d);
    }
}
} // namespace detail

/// asyncio.sleep: suspends the calling coroutine for `d`. A zero or negative duration yields to
/// the loop once (everything already queued runs first), as asyncio.sleep(0) does.
/// Cancellation: throws cancelled_error at once (the timer is cancelled); a cancellation that
/// arrives as the timer fires is still delivered here.
template <class Rep, class Period>
awaitable<void> sleep(std::chrono::duration<Rep, Period> d) {
    return detail::sleep_for(std::chrono::ceil<std::chrono::nanoseconds>(d));
}

} // namespace aio

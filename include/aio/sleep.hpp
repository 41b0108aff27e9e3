// aio/sleep.hpp - sleep(d): suspend the calling task for a while.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/suspend.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>

namespace aio {

/// asyncio.sleep: suspends the calling coroutine for `d`. A zero or negative duration yields to
/// the loop once (everything already queued runs first), as asyncio.sleep(0) does.
/// Cancellation: throws cancelled_error at once (the timer is cancelled); a cancellation that
/// arrives as the timer fires is still delivered here.
template <class Rep, class Period>
awaitable<void> sleep(std::chrono::duration<Rep, Period> d) {
    auto ex = co_await boost::asio::this_coro::executor;
    if (d <= d.zero()) {
        co_await boost::asio::post(ex, boost::asio::use_awaitable);
    } else {
        boost::asio::steady_timer timer(ex, std::chrono::ceil<std::chrono::nanoseconds>(d));
        boost::system::error_code ec;
        co_await timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    }
    auto cs = co_await boost::asio::this_coro::cancellation_state;
    detail::check_cancelled(cs);
}

} // namespace aio

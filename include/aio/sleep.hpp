// aio/sleep.hpp - sleep(d): suspend the calling task for a while.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/state.hpp>
#include <aio/detail/suspend.hpp>

#include <boost/asio/execution/context.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <chrono>
#include <memory>

namespace aio {

namespace detail {

/// A sleep of a coroutine that is not on the running loop: a timer of the coroutine's own
/// executor, whose handler wakes the parked coroutine. A cancellation cancels the timer: the
/// coroutine resumes only from the timer's handler, so the timer's wait never outlives the
/// sleeper. No coroutine of its own and a plain handler: every file that sleeps compiles this.
class elsewhere_sleeper final : public waiter {
public:
    elsewhere_sleeper(const boost::asio::any_io_executor& ex, std::chrono::nanoseconds d)
        : timer_(ex, d) {}
    elsewhere_sleeper(const elsewhere_sleeper&) = delete;
    elsewhere_sleeper& operator=(const elsewhere_sleeper&) = delete;

    /// Starts the timer once the coroutine is parked (its handler may run on another thread).
    void on_parked() override {
        timer_.async_wait([this](boost::system::error_code) { wake(); });
    }
    void on_cancel() override { timer_.cancel(); }
    const char* what() const noexcept override { return "aio::sleep"; }

private:
    boost::asio::steady_timer timer_;
};

/// A sleep's await on the running loop: its parked coroutine and, once started, its deadline
/// in the loop's deadline queue (sleep(0) starts none: it only yields), both in the sleep's
/// frame.
class sleeper final : public waiter, public timed_node {
public:
    sleeper() noexcept = default;
    sleeper(const sleeper&) = delete;
    sleeper& operator=(const sleeper&) = delete;
    ~sleeper() {
        if (queue_ != nullptr) {
            queue_->remove(*this);
        }
    }

    void start(deadline_queue& q, std::chrono::nanoseconds d) {
        queue_ = &q;
        q.add(*this,
              deadline_queue::clock::now() + std::chrono::ceil<deadline_queue::clock::duration>(d));
    }

    void expire() noexcept override { wake(); }
    void on_cancel() override {
        if (queue_ != nullptr) {
            queue_->remove(*this);
        }
        wake();
    }
    const char* what() const noexcept override { return "aio::sleep"; }

private:
    deadline_queue* queue_ = nullptr;
};

/// sleep's body. One park for every kind of sleep (yield, the loop's deadline, a timer
/// elsewhere): each await in a coroutine is code that every file that sleeps compiles.
inline awaitable<void> sleep_for(std::chrono::nanoseconds d, aio::source_location where) {
    loop_core* loop = running_loop;
    std::unique_ptr<elsewhere_sleeper> elsewhere; // on the heap: this frame stays small
    {
        auto ex = co_await boost::asio::this_coro::executor;
        if (loop == nullptr ||
            &boost::asio::query(ex, boost::asio::execution::context) != &loop->context()) {
            loop = nullptr;
            if (d > d.zero()) {
                elsewhere = std::make_unique<elsewhere_sleeper>(ex, d);
            }
        }
    }
    sleeper s;
    waiter* parked = &s;
    if (elsewhere) {
        parked = elsewhere.get();
    } else if (d > d.zero()) {
        s.start(loop->deadlines(), d);
    }
    parked->set_site(where);
    park_operation op{parked, d <= d.zero(), elsewhere != nullptr};
    bool cancelled = co_await std::move(op);
    if (cancelled) {
        throw cancelled_error();
    }
}
} // namespace detail

/// asyncio.sleep: suspends the calling coroutine for `d`. A zero or negative duration yields to
/// the loop once (everything already queued runs first), as asyncio.sleep(0) does.
/// Cancellation: throws cancelled_error at once (the timer is cancelled); a cancellation that
/// arrives as the timer fires is still delivered here.
/// `where`: the caller's site, shown in the task's call stack while it sleeps (leave it to its
/// default; every aio await that takes one does the same).
template <class Rep, class Period>
awaitable<void> sleep(std::chrono::duration<Rep, Period> d,
                      aio::source_location where = aio::source_location::current()) {
    return detail::sleep_for(std::chrono::ceil<std::chrono::nanoseconds>(d), where);
}

} // namespace aio

// aio/detail/child_group.hpp - one await on many tasks: the engine of gather, wait, wait_for.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/state.hpp>
#include <aio/detail/suspend.hpp>

#include <boost/asio/this_coro.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

namespace aio::detail {

/// Parks a coroutine until a condition over a set of child states holds:
/// `stop_on_failure` - as soon as one child ends with an error (or also cancelled, if
/// `failure_includes_cancel`); otherwise when `first_done` and one child is done; otherwise
/// when all are done. Lives in the awaiting coroutine's frame.
class child_group final : public waiter {
public:
    struct options {
        bool stop_on_failure = false;
        bool failure_includes_cancel = false;
        bool first_done = false;
        /// Cancellation of the awaiting task: cancel the children and wait for all of them
        /// (gather, wait_for), or stop waiting at once and leave them alone (wait).
        bool cancel_children_on_cancel = true;
    };

    child_group(const std::vector<state_base*>& children, options opt)
        : members_(children.size()), opt_(opt) {
        for (std::size_t i = 0; i < children.size(); ++i) {
            members_[i].group = this;
            if (children[i]->done()) {
                note(*children[i]);
            } else {
                ++pending_;
                members_[i].child = children[i];
                children[i]->add_waiter(members_[i]);
            }
        }
    }

    /// True once the awaiting coroutine may continue.
    bool complete() const noexcept {
        return pending_ == 0 || (opt_.stop_on_failure && first_failed_ != nullptr) ||
               (opt_.first_done && done_count_ > 0) || expired_ || stopped_;
    }

    /// The first child (in completion order) that ended the way stop_on_failure looks for.
    state_base* first_failed() const noexcept { return first_failed_; }
    bool expired() const noexcept { return expired_; }

    /// The deadline passed: `cancel_children` cancels the pending children and keeps waiting for
    /// them (wait_for); otherwise the wait ends now (wait with a timeout).
    void expire(bool cancel_children) {
        if (complete()) {
            return;
        }
        if (cancel_children) {
            cancelled_by_deadline_ = true; // and still wait for the children to end
            cancel_pending();
        } else {
            expired_ = true;
            wake();
        }
    }
    bool cancelled_by_deadline() const noexcept { return cancelled_by_deadline_; }

    void on_cancel() override {
        if (opt_.cancel_children_on_cancel) {
            opt_.stop_on_failure = false;
            opt_.first_done = false;
            cancel_pending();
            if (pending_ == 0) {
                wake();
            }
        } else {
            stopped_ = true;
            wake();
        }
    }

private:
    struct member final : done_waiter {
        child_group* group = nullptr;
        state_base* child = nullptr;
        void on_done(state_base& s) override {
            child = nullptr;
            --group->pending_;
            group->note(s);
            if (group->complete()) {
                group->wake();
            }
        }
    };

    void note(state_base& s) noexcept {
        ++done_count_;
        bool failed = s.result_status() == status::error ||
                      (opt_.failure_includes_cancel && s.result_status() == status::cancelled);
        if (failed && first_failed_ == nullptr) {
            first_failed_ = &s;
        }
    }

    void cancel_pending() {
        for (member& m : members_) {
            if (m.child != nullptr) {
                m.child->cancel();
            }
        }
    }

    std::vector<member> members_;
    options opt_;
    std::size_t pending_ = 0;
    std::size_t done_count_ = 0;
    state_base* first_failed_ = nullptr;
    bool expired_ = false;
    bool stopped_ = false;
    bool cancelled_by_deadline_ = false;
};

/// Waits until g.complete(); delivers the caller's cancellation as cancelled_error.
/// A cancellation recorded before the coroutine could park (a task that cancelled itself, then
/// gathers) counts as one arriving while parked: on_cancel runs, so gather cancels its children
/// and waits for them, as asyncio does.
inline awaitable<void> wait_for_group(child_group& g) {
    auto cs = co_await boost::asio::this_coro::cancellation_state;
    if (g.complete()) {
        check_cancelled(cs);
        co_return;
    }
    if (cs.cancelled() != boost::asio::cancellation_type::none) {
        cs.clear();
        g.on_cancel();
        if (!g.complete()) {
            co_await park(g); // the cancellation is delivered below, once
        }
        throw cancelled_error();
    }
    bool cancelled = co_await park(g);
    if (cancelled) {
        throw cancelled_error();
    }
}

/// Calls g.expire(cancel_children) at `when`, unless destroyed first: a node of the loop's
/// deadline queue, living in the awaiting coroutine's frame.
class deadline final : public timed_node {
public:
    deadline(loop_core& loop, std::chrono::steady_clock::time_point when, child_group& g,
             bool cancel_children)
        : queue_(loop.deadlines()), group_(g), cancel_children_(cancel_children) {
        queue_.add(*this, when);
    }
    deadline(const deadline&) = delete;
    deadline& operator=(const deadline&) = delete;
    ~deadline() { queue_.remove(*this); }

    void expire() noexcept override { group_.expire(cancel_children_); }

private:
    deadline_queue& queue_;
    child_group& group_;
    bool cancel_children_;
};

} // namespace aio::detail

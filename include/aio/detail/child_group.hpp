// aio/detail/child_group.hpp - one await on many tasks: the engine of gather, wait, wait_for,
// as_completed and task_group.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/intrusive_list.hpp>
#include <aio/detail/state.hpp>
#include <aio/detail/suspend.hpp>

#include <boost/asio/this_coro.hpp>
#include <boost/config.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

namespace aio::detail {

/// Watches a set of child states and parks a coroutine until a condition over them holds:
/// `stop_on_failure` - as soon as one child ends with an error (or also cancelled, if
/// `failure_includes_cancel`); otherwise when `first_done` and a finished child has not been
/// taken (take_finished; without record_order, nothing is taken: one child done suffices);
/// otherwise when all are done. The engine of gather, wait, wait_for, as_completed and
/// task_group. Lives where its owner does (the awaiting coroutine's frame, a task_group).
///
/// Each pending child gets a done waiter (a node of this group), linked into its state: nodes
/// never move, and unlink themselves when the group is destroyed, so dropping the group leaves
/// nothing registered. A child has an index: its position in the set given at construction,
/// then one per add(). In a group built empty (task_group's), add() reuses the node and index
/// of a child that has finished, unless the finish order is recorded, so a long-lived group
/// keeps room only for the children running at once.
class child_group final : public waiter {
public:
    /// What cancellation of the awaiting task (parked here) does.
    enum class cancel_policy : unsigned char {
        /// Cancel the pending children, again at each request, and wait for all of them (gather,
        /// wait_for).
        cancel_children,
        /// The same, unless the children were cancelled already (task_group, which aborts once).
        cancel_children_once,
        /// Stop waiting at once and leave the children alone (wait, as_completed).
        stop_waiting,
    };

    struct options {
        bool stop_on_failure = false;
        bool failure_includes_cancel = false;
        bool first_done = false;
        /// Keep the indices of the finished children in finish order, for take_finished.
        bool record_order = false;
        cancel_policy on_cancel = cancel_policy::cancel_children;
        /// What diagnostics call an await parked on the group ("aio::gather").
        const char* what = "aio: a group of tasks";
    };

    /// Told of each child's end, synchronously, on the loop: before the group decides whether
    /// the awaiting coroutine may continue. A child already done when it joins the group is
    /// told of inside the constructor or add(). Like any done waiter, it never resumes a
    /// coroutine inline (cancelling tasks is fine: that only wakes them through the loop).
    class observer {
    public:
        virtual void child_done(std::size_t index, state_base& child) = 0;
        /// The task the children are awaited by while the group is not parked (task_group: the
        /// task running its body). For diagnostics.
        virtual state_base* owner_task() const noexcept { return nullptr; }

    protected:
        ~observer() = default;
    };

    /// A fixed set: child i has index i. Children already done count as finished first, in
    /// this order. One allocation for the nodes; add() may still extend the set.
    child_group(std::vector<state_base*> children, options opt, observer* obs = nullptr)
        : children_(std::move(children)), opt_(opt), observer_(obs),
          bookkeeping_(opt.record_order || obs != nullptr) {
        std::size_t n = children_.size();
        if (n > 0) {
            first_block_ = std::make_unique<member[]>(n);
        }
        if (opt_.record_order) {
            order_.reserve(n);
        }
        for (std::size_t i = 0; i < n; ++i) {
            member& m = first_block_[i];
            m.group = this;
            m.index = i;
            state_base& child = *children_[i];
            if (child.done()) {
                children_[i] = nullptr;
                finished(m, child);
            } else {
                ++pending_;
                child.add_waiter(m);
            }
        }
    }

    /// An empty set that grows with add().
    explicit child_group(options opt, observer* obs = nullptr)
        : opt_(opt), observer_(obs), reuse_nodes_(!opt.record_order),
          bookkeeping_(opt.record_order || obs != nullptr || reuse_nodes_) {}

    child_group(const child_group&) = delete;
    child_group& operator=(const child_group&) = delete;

    /// Adds a child (a child already done counts as finished now) and returns its index.
    std::size_t add(state_base& child) {
        member& m = take_node();
        if (child.done()) {
            finished(m, child);
            if (complete()) {
                wake();
            }
        } else {
            ++pending_;
            children_[m.index] = &child;
            child.add_waiter(m);
        }
        return m.index;
    }

    /// The number of children not finished yet.
    std::size_t pending() const noexcept { return pending_; }

    /// True once the awaiting coroutine may continue.
    bool complete() const noexcept {
        return pending_ == 0 || (opt_.stop_on_failure && first_failed_ != nullptr) ||
               (opt_.first_done && taken_ < done_count_) || expired_ || stopped_;
    }

    /// The first child (in completion order) that ended the way stop_on_failure looks for.
    state_base* first_failed() const noexcept { return first_failed_; }

    /// With record_order: whether a finished child has not been taken yet, and the index of
    /// the earliest such child (call when has_finished()).
    bool has_finished() const noexcept { return taken_ < order_.size(); }
    std::size_t take_finished() noexcept { return order_[taken_++]; }

    /// Cancels every pending child, in index order (a child that ends at once, a future, is
    /// told of before this returns).
    void cancel_children() {
        children_cancelled_ = true;
        for (std::size_t i = 0; i < children_.size(); ++i) {
            if (children_[i] != nullptr) {
                children_[i]->cancel();
            }
        }
    }
    /// True once cancel_children ran (called by the owner, a deadline or a cancellation).
    bool children_cancelled() const noexcept { return children_cancelled_; }

    bool expired() const noexcept { return expired_; }

    /// The deadline passed: `cancel_children` cancels the pending children and keeps waiting for
    /// them (wait_for); otherwise the wait ends now (wait with a timeout).
    void expire(bool cancel_children) {
        if (complete()) {
            return;
        }
        if (cancel_children) {
            cancelled_by_deadline_ = true; // and still wait for the children to end
            this->cancel_children();
        } else {
            expired_ = true;
            wake();
        }
    }
    bool cancelled_by_deadline() const noexcept { return cancelled_by_deadline_; }

    const char* what() const noexcept override { return opt_.what; }

    /// The task that awaits the children: the one parked on the group, else the observer's.
    state_base* awaiting_task() const noexcept {
        if (parking_spot* parked = parked_task()) {
            return static_cast<state_base*>(parked);
        }
        return observer_ != nullptr ? observer_->owner_task() : nullptr;
    }

    void on_cancel() override {
        if (opt_.on_cancel == cancel_policy::stop_waiting) {
            stopped_ = true;
            wake();
            return;
        }
        opt_.stop_on_failure = false; // from now on, wait for every child
        opt_.first_done = false;
        if (opt_.on_cancel == cancel_policy::cancel_children || !children_cancelled_) {
            cancel_children();
        }
        if (pending_ == 0) {
            wake();
        }
    }

private:
    struct member final : done_waiter {
        child_group* group = nullptr;
        std::size_t index = 0;
        void on_done(state_base& s) override { group->member_done(*this, s); }
        state_base* awaiting_task() const noexcept override { return group->awaiting_task(); }
    };

    void member_done(member& m, state_base& s) {
        --pending_;
        children_[m.index] = nullptr;
        finished(m, s);
        if (complete()) {
            wake();
        }
    }

    /// Counts the end of the child of node `m`. The rest - its place in the order, the
    /// observer, the node's reuse - is for the groups that use it, out of gather's path.
    void finished(member& m, state_base& s) {
        ++done_count_;
        bool failed = s.result_status() == status::error ||
                      (opt_.failure_includes_cancel && s.result_status() == status::cancelled);
        if (failed && first_failed_ == nullptr) {
            first_failed_ = &s;
        }
        if (bookkeeping_) {
            keep_books(m, s);
        }
    }
    // Not inlined: gather's finish path then saves no registers for it.
    BOOST_NOINLINE void keep_books(member& m, state_base& s) {
        if (opt_.record_order) {
            order_.push_back(m.index);
        }
        if (observer_ != nullptr) {
            observer_->child_done(m.index, s);
        }
        if (reuse_nodes_) {
            free_.push_back(m); // after the observer: a child it adds takes another node
        }
    }

    /// A free node (with its index), or a new one at the end of the newest block.
    member& take_node() {
        if (reuse_nodes_) {
            if (member* m = free_.pop_front()) {
                return *m;
            }
        }
        if (nodes_left_ == 0) {
            std::size_t size = children_.size() < 8 ? 8 : children_.size(); // doubles the total
            more_blocks_.push_back(std::make_unique<member[]>(size));
            next_node_ = more_blocks_.back().get();
            nodes_left_ = size;
        }
        children_.push_back(nullptr);
        member& m = *next_node_;
        ++next_node_;
        --nodes_left_;
        m.group = this;
        m.index = children_.size() - 1;
        return m;
    }

    std::vector<state_base*> children_; // by index: the state while pending, else nullptr
    std::unique_ptr<member[]> first_block_;
    std::vector<std::unique_ptr<member[]>> more_blocks_;
    member* next_node_ = nullptr;
    std::size_t nodes_left_ = 0;
    intrusive_list<member> free_;
    std::vector<std::size_t> order_;
    options opt_;
    observer* observer_ = nullptr;
    std::size_t pending_ = 0;
    std::size_t done_count_ = 0;
    std::size_t taken_ = 0;
    state_base* first_failed_ = nullptr;
    bool reuse_nodes_ = false;
    bool bookkeeping_ = false; // record_order, an observer or reuse_nodes_
    bool children_cancelled_ = false;
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
    bool cancelled = false;
    if (cs.cancelled() != boost::asio::cancellation_type::none) {
        cs.clear();
        g.on_cancel();
        cancelled = true; // delivered below, once, when the children have ended
    }
    if (!g.complete()) { // one park for both ways: each await is code every caller compiles
        bool cancelled_while_parked = co_await park(g);
        cancelled = cancelled || cancelled_while_parked;
    }
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

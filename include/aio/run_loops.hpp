// aio/run_loops.hpp - run_loops(n, main): one loop per core, stopped together.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/error.hpp>
#include <aio/loop.hpp>
#include <aio/run.hpp>
#include <aio/task.hpp>

#include <concepts>
#include <cstddef>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace aio {

namespace detail {

/// What the loops of one run_loops call share: each loop's handle and main task, and the first
/// error. The mutex guards the handles and the error; a loop's `main` and `stop_requested`
/// are touched only on that loop's thread.
class loop_set {
public:
    struct member {
        loop handle;
        any_task main;               // its loop's thread only
        bool stop_requested = false; // its loop's thread only
    };

    explicit loop_set(std::size_t n) : members_(n) {}

    void add(std::size_t index, loop handle) {
        std::lock_guard lock(mutex_);
        members_[index] = std::make_unique<member>(member{std::move(handle), {}, false});
    }
    member& at(std::size_t index) { return *members_[index]; }

    /// A main ended with an exception: keeps the first that is not a cancellation (the one
    /// run_loops rethrows), then asks every other loop to cancel its main (once).
    void main_ended(std::size_t index, std::exception_ptr e) {
        std::vector<std::pair<std::size_t, loop>> others;
        {
            std::lock_guard lock(mutex_);
            if (!error_ && !is_cancellation(e)) {
                error_ = e;
            }
            if (std::exchange(stopping_, true)) {
                return;
            }
            for (std::size_t i = 0; i < members_.size(); ++i) {
                if (i != index && members_[i]) {
                    others.emplace_back(i, members_[i]->handle);
                }
            }
        }
        for (auto& [i, handle] : others) {
            try {
                handle.call_soon_threadsafe([this, i = i] { stop(i); });
            } catch (const std::runtime_error&) {
                // that loop is closed: its main has ended already
            }
        }
    }

    std::exception_ptr error() {
        std::lock_guard lock(mutex_);
        return error_;
    }

private:
    /// On loop i's thread: cancels its main, or (not started yet) tells it not to start.
    void stop(std::size_t i) {
        member& m = at(i);
        if (m.main) {
            m.main.cancel();
        } else {
            m.stop_requested = true;
        }
    }

    std::mutex mutex_;
    std::vector<std::unique_ptr<member>> members_;
    std::exception_ptr error_;
    bool stopping_ = false;
};

/// Loop `index`'s main task: the user's main, and when it ends with an exception (a signal's
/// cancellation, another loop's, an error), the others are asked to stop.
template <class F>
awaitable<void> loop_main(F& main, std::size_t index, loop_set& set) {
    loop_set::member& me = set.at(index);
    me.main = co_await current_task();
    std::exception_ptr ended;
    if (me.stop_requested) {
        ended = std::make_exception_ptr(cancelled_error());
    } else {
        try {
            co_await std::invoke(main, index);
        } catch (...) {
            ended = std::current_exception();
        }
    }
    me.main = any_task();
    if (ended) {
        set.main_ended(index, ended);
        std::rethrow_exception(ended);
    }
}

} // namespace detail

/// Runs `main(index)` on n loops, each an aio::runner on a thread of its own (loop 0 on the
/// calling thread), and returns when every main has ended and every loop has shut down
/// gracefully (see runner::close). What asyncio cannot do: one process using n cores, e.g. n
/// servers sharing one port through server_options::reuse_port.
///
/// `main` is a callable taking the loop's index (std::size_t, 0..n-1) and returning
/// awaitable<void>. All loops call the same `main` object, from their own threads: calling it
/// must be safe from several threads at once (a lambda that only reads its captures is).
///
/// Stopping: the loops stop together. When one main ends with an exception - cancelled by a
/// signal, cancelled by another loop, or failed - every other loop's main is cancelled (a main
/// that returns normally stops nothing). Only loop 0 handles signals (as `options` says; the
/// others never do): SIGINT or SIGTERM cancels loop 0's main, and so all of them. A second
/// signal stops loop 0 at once (a hard stop); the other loops still finish their graceful
/// shutdown, bounded by options.shutdown_timeout.
///
/// Throws: the first exception a main ended with that is not a cancellation; else
/// interrupted_error if a signal interrupted loop 0 (as aio::run); else cancelled_error if a
/// main was cancelled by other means. std::invalid_argument if n is 0; std::logic_error if a
/// loop already runs on the calling thread; std::system_error if a thread cannot start (the
/// loops already started are stopped and joined first).
template <class F>
requires std::invocable<F&, std::size_t> &&
    std::same_as<std::invoke_result_t<F&, std::size_t>, awaitable<void>>
void run_loops(std::size_t n, F main, run_options options = {}) {
    if (n == 0) {
        throw std::invalid_argument("aio::run_loops: n must be at least 1");
    }
    if (detail::running_loop != nullptr) {
        throw std::logic_error("aio::run_loops: called while a loop runs on this thread");
    }
    detail::loop_set set(n);
    std::vector<std::exception_ptr> outcomes(n); // outcomes[i] written by loop i's thread
    auto run_one = [&](std::size_t index, runner& r) {
        try {
            r.run([&main, index, &set] { return detail::loop_main(main, index, set); });
        } catch (...) {
            outcomes[index] = std::current_exception();
        }
        r.close();
    };
    // Every loop is in the set before any main runs, so that the first to end reaches all.
    std::promise<void> go;
    std::shared_future<void> all_added = go.get_future().share();
    run_options others = options;
    others.handle_signals = false;
    std::vector<std::thread> threads;
    int interrupted = 0;
    {
        runner r0(options);
        set.add(0, r0.get_loop());
        try {
            for (std::size_t i = 1; i < n; ++i) {
                std::promise<void> added;
                std::future<void> ready = added.get_future();
                threads.emplace_back([&, i, added = std::move(added)]() mutable {
                    runner r(others);
                    set.add(i, r.get_loop());
                    added.set_value();
                    all_added.wait();
                    run_one(i, r);
                });
                ready.wait();
            }
        } catch (...) {
            set.main_ended(0, std::make_exception_ptr(cancelled_error()));
            go.set_value();
            for (std::thread& t : threads) {
                t.join();
            }
            throw;
        }
        go.set_value();
        run_one(0, r0);
        interrupted = r0.interrupted_by();
    }
    for (std::thread& t : threads) {
        t.join();
    }
    if (std::exception_ptr e = set.error()) {
        std::rethrow_exception(e);
    }
    if (outcomes[0]) {
        try {
            std::rethrow_exception(outcomes[0]);
        } catch (const interrupted_error&) {
            throw;
        } catch (...) {
            // a cancellation: thrown below unless a signal came late
        }
    }
    if (interrupted != 0) {
        throw interrupted_error(interrupted);
    }
    for (std::exception_ptr& e : outcomes) {
        if (e) {
            std::rethrow_exception(e);
        }
    }
}

} // namespace aio

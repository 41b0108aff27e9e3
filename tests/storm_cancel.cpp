// The cancellation storm: random trees of aio's awaits, cancelled at random points, with the
// invariants that must hold whatever was cancelled when. See docs/reliability.md.
#include "storm_support.hpp"

#include <doctest/doctest.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace {

using aio_storm::rng;

constexpr const char* storm_name = "storm: random cancellation of random trees of awaits";

using aio_storm::storm_error; // thrown by `fail` nodes, with the node's id

// ---------------------------------------------------------------------------------------------
// The plan: a tree of nodes, drawn from the round's seed before anything runs.

enum class kind : std::uint8_t {
    // leaves
    yields,      // `a` sleep(0)s
    forever,     // sleep(1h): only a cancellation ends it
    nap,         // sleep(`a` microseconds)
    fail,        // `a` sleep(0)s, then throws storm_error
    raw_timer,   // a raw Asio timer (b: 0 = 1h, 1 = 100us); a = 0: uncancel, clean up, rethrow
    self_cancel, // cancels its own task, then awaits
    to_thread,   // a job sleeping `a` microseconds on the default pool
    event_wait,  // the round's event
    cond_wait,   // takes a token under the round's condition, waiting for one
    cond_notify, // adds a token under the round's condition and notifies (a: 1 = notify_all)
    queue,       // producers, consumers, a closer and a joiner around a queue (see queue_node)
    barrier,     // the round's barrier
    future,      // a future a task sets (b: 0 value, 1 storm_error, 2 cancel) after `a` yields
    // with children
    gather,          // fail fast; a = 1: over tasks the node created itself
    gather_outcomes, // return_exceptions
    wait_for,        // a: the timeout (0s, 200us, 1ms, 1h); b = 1: the callable form (timeout)
    shield,
    group,         // a task_group in aio::with; b = 1: the last child runs in the body
    finally,       // the child as body, `a` sleep(0)s as cleanup
    with,          // a resource whose enter and exit await
    catch_cleanup, // catch, await cleanup after the catch block, rethrow
    precancel,     // a task cancelled before its first step (a: bit 0 twice, bit 1 wait_done)
    lock,          // the child runs holding the round's lock (a = 1: acquire + finally release)
    semaphore,     // the child runs holding a permit of the round's bounded semaphore
    generator,     // a generator of `a` values whose first step awaits the child; `b` says
                   // how many are taken and how it is closed
    wait,          // aio::wait over tasks (a: when; b: bit 0 a timeout, bit 1 cancel the
                   // pending ones), errors of the done ones retrieved
    as_completed,  // takes `a` tasks in completion order, then drops the generator
    swallow,       // catches the child's cancelled_error, uncancels its task and returns
    shared,        // one task awaited by two or three tasks at once (a = 1: one through shield)
};

const char* kind_name(kind k) {
    static constexpr const char* names[] = {
        "yields",        "forever",      "nap",     "fail",      "raw_timer",
        "self_cancel",   "to_thread",    "event",   "cond_wait", "cond_notify",
        "queue",         "barrier",      "future",  "gather",    "gather_outcomes",
        "wait_for",      "shield",       "group",   "finally",   "with",
        "catch_cleanup", "precancel",    "lock",    "semaphore", "generator",
        "wait",          "as_completed", "swallow", "shared"};
    return names[static_cast<int>(k)];
}

struct node {
    kind k = kind::yields;
    int id = 0;
    int a = 0;
    int b = 0;
    std::vector<node> children;
};

struct planner {
    rng& r;
    int next_id = 0;
    int budget;

    node leaf() {
        node n;
        n.id = next_id++;
        switch (r.between(0, 16)) {
        case 0:
        case 1:
            n.k = kind::yields;
            n.a = r.between(0, 3);
            break;
        case 2:
        case 3:
            n.k = kind::forever;
            break;
        case 4:
            n.k = kind::nap;
            n.a = r.between(0, 400);
            break;
        case 5:
        case 6:
            n.k = kind::fail;
            n.a = r.between(0, 2);
            break;
        case 7:
            n.k = kind::raw_timer;
            n.a = r.between(0, 1);
            n.b = r.between(0, 1);
            break;
        case 8:
            n.k = kind::self_cancel;
            break;
        case 9:
            n.k = kind::to_thread;
            n.a = r.between(0, 300);
            break;
        case 10:
            n.k = kind::event_wait;
            break;
        case 11:
            n.k = kind::cond_wait;
            break;
        case 12:
            n.k = kind::cond_notify;
            n.a = r.between(0, 1);
            break;
        case 15:
            n.k = kind::barrier;
            break;
        case 16:
            n.k = kind::future;
            n.a = r.between(0, 3);
            n.b = r.between(0, 2);
            break;
        default:
            n.k = kind::queue;
            n.a = r.between(0, 2);   // fifo, lifo, priority
            n.b = r.between(0, 100); // more choices, drawn again from it by queue_node
            break;
        }
        return n;
    }

    node make(int depth) {
        --budget;
        if (depth >= 5 || budget <= 0 || (depth > 0 && r.chance(25))) {
            return leaf();
        }
        node n;
        n.id = next_id++;
        int children = 1;
        switch (r.between(0, 15)) {
        case 0:
            n.k = kind::gather;
            n.a = r.between(0, 1);
            children = r.between(2, 4);
            break;
        case 1:
            n.k = kind::gather_outcomes;
            children = r.between(2, 4);
            break;
        case 2:
            n.k = kind::wait_for;
            n.a = r.between(0, 3);
            n.b = r.between(0, 1);
            break;
        case 3:
            n.k = kind::shield;
            break;
        case 4:
            n.k = kind::group;
            n.b = r.between(0, 1);
            children = r.between(1, 3);
            break;
        case 5:
            n.k = kind::finally;
            n.a = r.between(1, 2);
            break;
        case 6:
            n.k = kind::with;
            break;
        case 7:
            n.k = kind::catch_cleanup;
            n.a = r.between(1, 2);
            break;
        case 8:
            n.k = kind::precancel;
            n.a = r.between(0, 3);
            break;
        case 9:
            n.k = kind::lock;
            n.a = r.between(0, 1);
            break;
        case 10:
            n.k = kind::semaphore;
            break;
        case 11:
            n.k = kind::generator;
            n.a = r.between(1, 4);
            n.b = r.between(0, 5);
            break;
        case 12:
            n.k = kind::wait;
            n.a = r.between(0, 2);
            n.b = r.between(0, 3);
            children = r.between(1, 3);
            break;
        case 13:
            n.k = kind::as_completed;
            children = r.between(1, 3);
            n.a = r.between(0, children);
            break;
        case 14:
            n.k = kind::swallow;
            break;
        default:
            n.k = kind::shared;
            n.a = r.between(0, 1);
            break;
        }
        for (int i = 0; i < children; ++i) {
            n.children.push_back(make(depth + 1));
        }
        return n;
    }
};

std::string describe(const node& n) {
    auto label = [](const node& x) {
        return std::string(kind_name(x.k)) + "#" + std::to_string(x.id);
    };
    return aio_storm::describe_tree(n, label);
}

// ---------------------------------------------------------------------------------------------
// The round's shared state and its bookkeeping.

/// What happened to one node.
struct node_books {
    int started = 0; // the node's coroutine began
    int ended = 0;   // its frame was destroyed
    int entered = 0; // finally / with / catch_cleanup / generator: the part before the cleanup
    int cleanups = 0;
    int cleanups_done = 0;
    int cleanups_interrupted = 0;
    int generator_frames = 0; // live generator frames
};

struct totals {
    std::uint64_t rounds = 0;
    std::uint64_t nodes = 0;
    std::uint64_t nodes_started = 0;
    std::uint64_t tasks = 0;
    std::uint64_t cancels = 0;
    std::uint64_t swallowed = 0;
    std::uint64_t errors_thrown = 0;
    std::uint64_t errors_reported = 0;
    std::uint64_t errors_replaced = 0;
    std::uint64_t cleanups = 0;
    std::uint64_t queue_items = 0;
    std::uint64_t timeouts = 0;
    std::uint64_t jobs = 0;
};

struct world {
    world(int permits, int parties)
        : sem(permits), permits(permits), bar(static_cast<std::size_t>(parties)) {}

    aio_storm::violations bad;
    std::vector<node_books> books;

    aio::lock lk;
    aio::bounded_semaphore sem;
    int permits;
    aio::condition cond;
    aio::event ev;
    aio::barrier bar;
    int lock_holders = 0;
    int sem_holders = 0;
    int tokens = 0;
    int tokens_made = 0;
    int tokens_taken = 0;

    // Error accounting: every storm_error thrown ends in exactly one sink.
    std::map<int, int> thrown;
    std::map<int, int> absorbed; // caught for good by a node or the driver
    std::map<int, int> replaced; // replaced by a cleanup's own exception (documented)
    std::map<int, int> reported; // passed to the exception handler as never retrieved

    std::uint64_t cancels = 0;
    std::uint64_t swallowed = 0;
    std::uint64_t timeouts = 0;
    std::uint64_t queue_items = 0;
    int jobs_submitted = 0;
    std::atomic<int> jobs_started{0};
    std::atomic<int> jobs_finished{0};

    /// The storm_error ids in `e` (through nested exception_groups); `foreign` is set if it
    /// holds anything else that is not a cancellation.
    static void ids_in(const std::exception_ptr& e, std::vector<int>& out, bool& foreign) {
        if (!e) {
            return;
        }
        try {
            std::rethrow_exception(e);
        } catch (const storm_error& s) {
            out.push_back(s.id);
        } catch (const aio::exception_group& g) {
            for (const auto& sub : g.exceptions()) {
                ids_in(sub, out, foreign);
            }
        } catch (...) {
            if (!aio::is_cancellation(e)) {
                foreign = true;
            }
        }
    }
    void sink(std::map<int, int>& where, const std::exception_ptr& e, const char* what) {
        std::vector<int> ids;
        bool foreign = false;
        ids_in(e, ids, foreign);
        for (int id : ids) {
            ++where[id];
        }
        if (foreign) {
            bad.add(std::string(what) + " an unexpected exception: " + aio::describe(e));
        }
    }
    void absorb(const std::exception_ptr& e) { sink(absorbed, e, "absorbed"); }
    void replace(const std::exception_ptr& e) { sink(replaced, e, "replaced"); }
};

/// Counts the holders of a lock or permit while it lives.
struct holding {
    int& holders;
    holding(int& h, int limit, world& w, const char* what) : holders(h) {
        if (++holders > limit) {
            w.bad.add(std::string(what) + " held by " + std::to_string(holders) + " tasks at once");
        }
    }
    ~holding() { --holders; }
    holding(const holding&) = delete;
    holding& operator=(const holding&) = delete;
};

aio::awaitable<void> run_node(world& w, const node& n);

aio::awaitable<void> yield_times(int n) {
    for (int i = 0; i < n; ++i) {
        co_await aio::sleep(0s);
    }
}

// ---------------------------------------------------------------------------------------------
// Leaves.

aio::awaitable<void> fail_node(world& w, const node& n) {
    co_await yield_times(n.a);
    ++w.thrown[n.id];
    throw storm_error(n.id);
}

aio::awaitable<void> raw_timer_node(const node& n) {
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor,
                                    n.b == 0 ? std::chrono::steady_clock::duration(1h)
                                             : std::chrono::steady_clock::duration(100us));
    std::exception_ptr aborted;
    try {
        co_await timer.async_wait(boost::asio::use_awaitable);
    } catch (const boost::system::system_error&) {
        aborted = std::current_exception();
    }
    if (aborted && n.a == 0) {
        co_await aio::uncancel();
        co_await aio::sleep(0s);
    }
    if (aborted) {
        std::rethrow_exception(aborted);
    }
}

aio::awaitable<void> self_cancel_node(world& w) {
    aio::any_task me = co_await aio::current_task();
    me.cancel();
    ++w.cancels;
    co_await aio::sleep(0s);
    w.bad.add("a task that cancelled itself went on past its next await");
}

aio::awaitable<void> to_thread_node(world& w, const node& n) {
    ++w.jobs_submitted;
    int micros = n.a;
    auto job = [&w, micros] {
        w.jobs_started.fetch_add(1);
        std::this_thread::sleep_for(std::chrono::microseconds(micros));
        w.jobs_finished.fetch_add(1);
        return micros;
    };
    int got = co_await aio::to_thread(job);
    w.bad.expect(got == micros, "to_thread returned another job's value");
}

aio::awaitable<void> cond_wait_node(world& w) {
    auto held = co_await w.cond.scoped();
    auto has_token = [&w] { return w.tokens > 0; };
    try {
        co_await w.cond.wait_for(has_token);
    } catch (const aio::cancelled_error&) {
        w.bad.expect(w.cond.locked(), "condition::wait ended by cancellation without the lock");
        throw;
    }
    w.bad.expect(w.cond.locked() && w.tokens > 0, "condition::wait_for returned early");
    --w.tokens;
    ++w.tokens_taken;
}

aio::awaitable<void> cond_notify_node(world& w, const node& n) {
    auto held = co_await w.cond.scoped();
    ++w.tokens;
    ++w.tokens_made;
    if (n.a == 1) {
        w.cond.notify_all();
    } else {
        w.cond.notify();
    }
    co_await aio::sleep(0s); // still holding the lock: notified waiters queue for it
}

/// Producers, consumers, a closer and maybe a joiner around one queue, each a task that the
/// storm may cancel. The books must balance: every item put was got, drained after shutdown
/// or discarded by shutdown(immediate), once.
template <class Queue>
aio::awaitable<void> queue_node(world& w, const node& n) {
    rng r(static_cast<std::uint64_t>(n.b) * 7919 + static_cast<std::uint64_t>(n.id));
    Queue q(static_cast<std::size_t>(r.between(0, 3)));
    int put = 0;
    int got = 0;
    int drained = 0;
    int discarded = 0;
    bool closed = false;
    std::set<int> put_items;
    std::set<int> got_items;
    std::vector<aio::awaitable<void>> workers;

    auto produce = [&](int first, int count, int pause) -> aio::awaitable<void> {
        for (int i = 0; i < count; ++i) {
            if (pause > 0 && i % pause == 0) {
                co_await aio::sleep(0s);
            }
            try {
                co_await q.put(first + i);
            } catch (const aio::queue_shut_down&) {
                co_return;
            }
            ++put;
            put_items.insert(first + i);
        }
    };
    auto consume = [&](int pause) -> aio::awaitable<void> {
        for (int i = 0;; ++i) {
            int item = 0;
            try {
                item = co_await q.get();
            } catch (const aio::queue_shut_down&) {
                co_return;
            }
            ++got;
            w.bad.expect(got_items.insert(item).second, "a queue item was got twice");
            q.task_done();
            if (pause > 0 && i % pause == 0) {
                co_await aio::sleep(0s);
            }
        }
    };
    auto close = [&](int delay, bool immediate) -> aio::awaitable<void> {
        co_await yield_times(delay);
        if (immediate) {
            discarded += static_cast<int>(q.size());
            q.shutdown(true);
        } else {
            q.shutdown();
        }
        closed = true;
    };
    auto join = [&]() -> aio::awaitable<void> { co_await q.join(); };

    int producers = r.between(1, 3);
    for (int p = 0; p < producers; ++p) {
        workers.push_back(produce(p * 100, r.between(1, 6), r.between(0, 2)));
    }
    int consumers = r.between(0, 2);
    for (int c = 0; c < consumers; ++c) {
        workers.push_back(consume(r.between(0, 2)));
    }
    if (r.chance(70)) {
        workers.push_back(close(r.between(0, 6), r.chance(40)));
    }
    if (r.chance(30)) {
        workers.push_back(join());
    }
    auto balance = [&]() -> aio::awaitable<void> {
        if (!closed) {
            q.shutdown();
        }
        for (;;) {
            try {
                int item = q.get_nowait();
                ++drained;
                w.bad.expect(got_items.count(item) == 0, "a queue item was drained after a get");
            } catch (const aio::queue_shut_down&) {
                break;
            } catch (const aio::queue_empty&) {
                w.bad.add("get_nowait on a shut-down queue threw queue_empty");
                break;
            }
        }
        w.bad.expect(put == got + drained + discarded,
                     "queue books: put " + std::to_string(put) + " != got " + std::to_string(got) +
                         " + drained " + std::to_string(drained) + " + discarded " +
                         std::to_string(discarded));
        w.bad.expect(
            std::includes(put_items.begin(), put_items.end(), got_items.begin(), got_items.end()),
            "a queue item was got that no put returned");
        w.queue_items += static_cast<std::uint64_t>(put);
        co_return;
    };
    co_await aio::finally(aio::gather(aio::return_exceptions, std::move(workers)), balance);
}

// ---------------------------------------------------------------------------------------------
// Nodes with children.

aio::awaitable<void> gather_node(world& w, const node& n) {
    if (n.a == 1) {
        std::vector<aio::task<void>> tasks;
        for (const node& c : n.children) {
            tasks.push_back(aio::create_task(run_node(w, c)));
        }
        co_await aio::gather(tasks);
    } else {
        std::vector<aio::awaitable<void>> children;
        for (const node& c : n.children) {
            children.push_back(run_node(w, c));
        }
        co_await aio::gather(std::move(children));
    }
}

aio::awaitable<void> gather_outcomes_node(world& w, const node& n) {
    std::vector<aio::awaitable<void>> children;
    for (const node& c : n.children) {
        children.push_back(run_node(w, c));
    }
    auto outcomes = co_await aio::gather(aio::return_exceptions, std::move(children));
    for (const auto& o : outcomes) {
        if (!o.has_value()) {
            w.absorb(o.exception());
        }
    }
}

aio::awaitable<void> wait_for_node(world& w, const node& n) {
    static constexpr std::chrono::steady_clock::duration timeouts[] = {0s, 200us, 1ms, 1h};
    auto d = timeouts[n.a];
    try {
        if (n.b == 1) {
            auto block = [&]() -> aio::awaitable<void> { co_await run_node(w, n.children[0]); };
            co_await aio::timeout(d, block);
        } else {
            co_await aio::wait_for(run_node(w, n.children[0]), d);
        }
    } catch (const aio::timeout_error&) {
        ++w.timeouts;
    }
}

aio::awaitable<void> group_node(world& w, const node& n) {
    aio::task_group tg;
    std::size_t members = n.children.size() - (n.b == 1 ? 1 : 0);
    auto body = [&](aio::task_group& g) -> aio::awaitable<void> {
        for (std::size_t i = 0; i < members; ++i) {
            try {
                g.create_task(run_node(w, n.children[i]));
            } catch (const std::logic_error&) {
                // the group is shutting down after a failure: documented, not an error
            }
            if (i % 2 == 1) {
                co_await aio::sleep(0s);
            }
        }
        if (n.b == 1) {
            co_await run_node(w, n.children.back());
        }
    };
    std::exception_ptr error;
    try {
        co_await aio::with(tg, body);
    } catch (...) {
        error = std::current_exception();
    }
    w.bad.expect(tg.size() == 0, "a task of a task_group outlived aio::with");
    if (error) {
        std::rethrow_exception(error);
    }
}

aio::awaitable<void> finally_node(world& w, const node& n) {
    node_books& b = w.books[static_cast<std::size_t>(n.id)];
    std::exception_ptr body_error;
    auto body = [&]() -> aio::awaitable<void> {
        ++b.entered;
        try {
            co_await run_node(w, n.children[0]);
        } catch (...) {
            body_error = std::current_exception();
            throw;
        }
    };
    auto cleanup = [&]() -> aio::awaitable<void> {
        ++b.cleanups;
        try {
            co_await yield_times(n.a);
        } catch (...) {
            ++b.cleanups_interrupted;
            w.replace(body_error); // the cleanup's exception replaces the body's (documented)
            throw;
        }
        ++b.cleanups_done;
    };
    co_await aio::finally(body, cleanup);
}

/// An async context manager whose enter and exit both await.
struct storm_resource {
    world& w;
    node_books& b;

    aio::awaitable<void> async_enter() {
        co_await aio::sleep(0s);
        ++b.entered;
    }
    aio::awaitable<void> async_exit(std::exception_ptr error) {
        ++b.cleanups;
        try {
            co_await aio::sleep(0s);
        } catch (...) {
            ++b.cleanups_interrupted;
            w.replace(error);
            throw;
        }
        ++b.cleanups_done;
    }
};

aio::awaitable<void> with_node(world& w, const node& n) {
    storm_resource res{w, w.books[static_cast<std::size_t>(n.id)]};
    auto body = [&](storm_resource&) -> aio::awaitable<void> {
        co_await run_node(w, n.children[0]);
    };
    co_await aio::with(res, body);
}

aio::awaitable<void> catch_cleanup_node(world& w, const node& n) {
    node_books& b = w.books[static_cast<std::size_t>(n.id)];
    std::exception_ptr caught;
    try {
        co_await run_node(w, n.children[0]);
    } catch (...) {
        ++b.entered;
        caught = std::current_exception();
    }
    if (caught) {
        ++b.cleanups;
        try {
            co_await yield_times(n.a);
        } catch (...) {
            ++b.cleanups_interrupted;
            w.replace(caught);
            throw;
        }
        ++b.cleanups_done;
        std::rethrow_exception(caught);
    }
}

aio::awaitable<void> precancel_node(world& w, const node& n) {
    const node& child = n.children[0];
    aio::task<void> t = aio::create_task(run_node(w, child));
    t.cancel();
    ++w.cancels;
    if ((n.a & 1) != 0) {
        t.cancel();
        ++w.cancels;
    }
    std::exception_ptr error;
    try {
        if ((n.a & 2) != 0) {
            co_await t.wait_done();
            w.bad.expect(t.cancelled(), "a task cancelled before it started did not end cancelled");
        } else {
            co_await t();
            w.bad.add("awaiting a task cancelled before it started returned normally");
        }
    } catch (...) {
        error = std::current_exception();
    }
    w.bad.expect(w.books[static_cast<std::size_t>(child.id)].started == 0,
                 "a task cancelled before its first step ran its body");
    if (error) {
        std::rethrow_exception(error);
    }
}

aio::awaitable<void> lock_node(world& w, const node& n) {
    if (n.a == 0) {
        auto held = co_await w.lk.scoped();
        holding h(w.lock_holders, 1, w, "the lock");
        co_await run_node(w, n.children[0]);
    } else {
        co_await w.lk.acquire();
        auto body = [&]() -> aio::awaitable<void> {
            holding h(w.lock_holders, 1, w, "the lock");
            co_await run_node(w, n.children[0]);
        };
        auto unlock = [&]() -> aio::awaitable<void> {
            w.lk.release();
            co_return;
        };
        co_await aio::finally(body, unlock);
    }
}

aio::awaitable<void> semaphore_node(world& w, const node& n) {
    auto permit = co_await w.sem.scoped();
    holding h(w.sem_holders, w.permits, w, "the semaphore");
    co_await run_node(w, n.children[0]);
}

aio::awaitable<void> generator_node(world& w, const node& n) {
    node_books& b = w.books[static_cast<std::size_t>(n.id)];
    auto body = [&w, &n, &b]() -> aio::generator<int> {
        aio_test::live_count alive(b.generator_frames);
        std::exception_ptr closing;
        try {
            for (int i = 0; i < n.a; ++i) {
                if (i == 0) {
                    co_await run_node(w, n.children[0]);
                } else {
                    co_await aio::sleep(0s);
                }
                co_yield i;
            }
        } catch (const aio::cancelled_error&) {
            ++b.entered;
            closing = std::current_exception();
        }
        if (closing) {
            ++b.cleanups;
            try {
                co_await aio::sleep(0s); // fails at once when the destructor closes
                ++b.cleanups_done;
            } catch (const aio::cancelled_error&) {
                ++b.cleanups_interrupted;
            }
            std::rethrow_exception(closing);
        }
    };
    auto gen = body();
    int want = n.b % 3 == 2 ? n.a + 1 : n.b / 2; // take some, or all and then nullopt
    for (int k = 0; k < want; ++k) {
        std::optional<int> v = co_await gen.next();
        if (!v) {
            w.bad.expect(k == n.a, "a generator ended early");
            break;
        }
        w.bad.expect(*v == k, "a generator yielded out of order");
    }
    if (n.b % 2 == 0) {
        co_await gen.aclose();
    }
}

aio::awaitable<void> future_node(world& w, const node& n) {
    aio::future<void> f;
    auto set = [&w, &n, f]() mutable -> aio::awaitable<void> {
        co_await yield_times(n.a);
        if (f.done()) {
            co_return; // the awaiting node was cancelled, and cancelled the future
        }
        if (n.b == 0) {
            f.set_result();
        } else if (n.b == 1) {
            ++w.thrown[n.id];
            f.set_exception(std::make_exception_ptr(storm_error(n.id)));
        } else {
            f.cancel();
        }
    };
    aio::create_task(std::move(set));
    co_await f();
}

aio::awaitable<void> wait_node(world& w, const node& n) {
    static constexpr aio::return_when whens[] = {aio::first_completed, aio::first_exception,
                                                 aio::all_completed};
    std::vector<aio::task<void>> tasks;
    for (const node& c : n.children) {
        tasks.push_back(aio::create_task(run_node(w, c)));
    }
    // Not `co_await (cond ? aio::wait(...) : aio::wait(...))`: GCC 12 destroys that
    // conditional's awaitable twice.
    aio::wait_result<void> res;
    if ((n.b & 1) != 0) {
        res = co_await aio::wait(tasks, whens[n.a], 300us);
    } else {
        res = co_await aio::wait(tasks, whens[n.a]);
    }
    w.bad.expect(res.done.size() + res.pending.size() == tasks.size(),
                 "wait lost or duplicated a task");
    for (auto& t : res.done) {
        w.absorb(t.exception());
    }
    for (auto& t : res.pending) {
        if ((n.b & 2) != 0) {
            t.cancel(); // else left running: an error it ends with is reported
        }
    }
}

aio::awaitable<void> as_completed_node(world& w, const node& n) {
    std::vector<aio::task<void>> tasks;
    for (const node& c : n.children) {
        tasks.push_back(aio::create_task(run_node(w, c)));
    }
    auto finished = aio::as_completed(tasks);
    for (int k = 0; k < n.a; ++k) {
        std::optional<aio::task<void>> t = co_await finished.next();
        if (!t) {
            w.bad.add("as_completed ended before yielding every task");
            break;
        }
        w.bad.expect(t->done(), "as_completed yielded a task that is not done");
        w.absorb(t->exception());
    }
}

aio::awaitable<void> swallow_node(world& w, const node& n) {
    try {
        co_await run_node(w, n.children[0]);
    } catch (const aio::cancelled_error&) {
        ++w.swallowed;
    }
    aio::any_task me = co_await aio::current_task();
    if (me.cancelling() > 0) {
        me.uncancel();
    }
}

aio::awaitable<void> shared_node(world& w, const node& n) {
    aio::task<void> t = aio::create_task(run_node(w, n.children[0]));
    auto await_it = [t]() -> aio::awaitable<void> { co_await t(); };
    auto shielded = [t]() -> aio::awaitable<void> { co_await aio::shield(t); };
    std::vector<aio::task<void>> awaiters;
    awaiters.push_back(aio::create_task(await_it));
    awaiters.push_back(aio::create_task(await_it));
    if (n.a == 1) {
        awaiters.push_back(aio::create_task(shielded));
    }
    std::exception_ptr cancelled;
    try {
        co_await aio::gather(aio::return_exceptions, awaiters);
    } catch (...) {
        cancelled = std::current_exception();
    }
    // gather waited for every awaiter, cancelled or not. Every awaiter that got t's error got
    // the same one: it ends here, once (left to the awaiters, it would be reported once per
    // awaiter, as asyncio does).
    std::set<int> ids;
    for (auto& a : awaiters) {
        if (!a.done()) {
            continue;
        }
        std::vector<int> in_outcome;
        bool foreign = false;
        world::ids_in(a.exception(), in_outcome, foreign);
        ids.insert(in_outcome.begin(), in_outcome.end());
        w.bad.expect(!foreign, "an awaiter of a shared task ended with an unexpected exception");
    }
    for (int id : ids) {
        ++w.absorbed[id];
    }
    if (cancelled) {
        std::rethrow_exception(cancelled);
    }
}

aio::awaitable<void> run_node(world& w, const node& n) {
    aio_storm::frame_scope scope(w.books[static_cast<std::size_t>(n.id)]);
    switch (n.k) {
    case kind::yields:
        co_await yield_times(n.a);
        break;
    case kind::forever:
        co_await aio::sleep(1h);
        w.bad.add("sleep(1h) returned");
        break;
    case kind::nap:
        co_await aio::sleep(std::chrono::microseconds(n.a));
        break;
    case kind::fail:
        co_await fail_node(w, n);
        break;
    case kind::raw_timer:
        co_await raw_timer_node(n);
        break;
    case kind::self_cancel:
        co_await self_cancel_node(w);
        break;
    case kind::to_thread:
        co_await to_thread_node(w, n);
        break;
    case kind::event_wait:
        co_await w.ev.wait();
        break;
    case kind::cond_wait:
        co_await cond_wait_node(w);
        break;
    case kind::cond_notify:
        co_await cond_notify_node(w, n);
        break;
    case kind::queue:
        if (n.a == 0) {
            co_await queue_node<aio::queue<int>>(w, n);
        } else if (n.a == 1) {
            co_await queue_node<aio::lifo_queue<int>>(w, n);
        } else {
            co_await queue_node<aio::priority_queue<int>>(w, n);
        }
        break;
    case kind::gather:
        co_await gather_node(w, n);
        break;
    case kind::gather_outcomes:
        co_await gather_outcomes_node(w, n);
        break;
    case kind::wait_for:
        co_await wait_for_node(w, n);
        break;
    case kind::shield:
        co_await aio::shield(run_node(w, n.children[0]));
        break;
    case kind::group:
        co_await group_node(w, n);
        break;
    case kind::finally:
        co_await finally_node(w, n);
        break;
    case kind::with:
        co_await with_node(w, n);
        break;
    case kind::catch_cleanup:
        co_await catch_cleanup_node(w, n);
        break;
    case kind::precancel:
        co_await precancel_node(w, n);
        break;
    case kind::lock:
        co_await lock_node(w, n);
        break;
    case kind::semaphore:
        co_await semaphore_node(w, n);
        break;
    case kind::generator:
        co_await generator_node(w, n);
        break;
    case kind::barrier:
        co_await w.bar.wait();
        break;
    case kind::future:
        co_await future_node(w, n);
        break;
    case kind::wait:
        co_await wait_node(w, n);
        break;
    case kind::as_completed:
        co_await as_completed_node(w, n);
        break;
    case kind::swallow:
        co_await swallow_node(w, n);
        break;
    case kind::shared:
        co_await shared_node(w, n);
        break;
    }
}

// ---------------------------------------------------------------------------------------------
// The driver: starts the roots, cancels at random, then winds everything down and checks.

/// The number n of the last task created on the running loop, read from the name "Task-<n>"
/// that a new unnamed task gets (every task takes the next number). Creates one task.
std::uint64_t tasks_created_so_far() {
    aio::task<void> probe = aio::create_task([]() -> aio::awaitable<void> { co_return; });
    std::string name = probe.name();
    return std::strtoull(name.c_str() + name.find('-') + 1, nullptr, 10) - 1;
}

std::vector<aio::any_task> others(const aio::any_task& me) {
    std::vector<aio::any_task> out;
    for (aio::any_task& t : aio::all_tasks()) {
        if (!(t == me)) {
            out.push_back(t);
        }
    }
    return out;
}

/// Yields until every task but the driver has ended, at most `turns` times (a few real
/// sleeps let timers and thread jobs finish). True if none is left.
aio::awaitable<bool> settle(const aio::any_task& me, int turns) {
    for (int i = 0; i < turns; ++i) {
        if (others(me).empty()) {
            co_return true;
        }
        if (i % 8 == 7) {
            co_await aio::sleep(100us);
        } else {
            co_await aio::sleep(0s);
        }
    }
    co_return others(me).empty();
}

aio::awaitable<void> drive(world& w, const std::vector<node>& roots, rng r,
                           std::uint64_t& tasks_created) {
    aio::any_task me = co_await aio::current_task();
    std::vector<aio::task<void>> root_tasks;
    for (const node& root : roots) {
        root_tasks.push_back(aio::create_task(run_node(w, root)));
    }
    auto cancel = [&w](aio::any_task t, int times) {
        for (int i = 0; i < times; ++i) {
            t.cancel();
            ++w.cancels;
        }
    };
    co_await yield_times(r.between(0, 8));
    int steps = r.between(3, 30);
    for (int s = 0; s < steps; ++s) {
        int action = r.between(0, 99);
        if (action < 45) {
            co_await yield_times(r.between(1, 4));
        } else if (action < 55) {
            co_await aio::sleep(std::chrono::microseconds(r.between(0, 300)));
        } else if (action < 85) {
            auto pending = others(me);
            if (!pending.empty()) {
                cancel(pending[static_cast<std::size_t>(
                           r.between(0, static_cast<int>(pending.size()) - 1))],
                       r.between(1, 3));
            }
        } else if (action < 90) {
            cancel(root_tasks[static_cast<std::size_t>(
                       r.between(0, static_cast<int>(root_tasks.size()) - 1))],
                   1);
        } else if (action < 95) {
            w.ev.set();
        } else {
            w.ev.clear();
        }
    }
    // Wind down: cancel the roots and let cleanups run; then, while tasks remain (shielded
    // ones, tasks waiting for a token, a permit or a queue item that will never come), cancel
    // every one of them again.
    for (auto& t : root_tasks) {
        cancel(t, r.between(1, 2));
    }
    bool all_ended = co_await settle(me, 40);
    for (int attempt = 0; attempt < 100 && !all_ended; ++attempt) {
        for (aio::any_task& t : others(me)) {
            cancel(t, 1);
        }
        all_ended = co_await settle(me, 40);
    }
    if (!all_ended) {
        w.bad.add(std::to_string(others(me).size()) +
                  " task(s) still pending after being cancelled 100 times");
        co_return;
    }
    for (auto& t : root_tasks) {
        w.absorb(t.exception());
    }

    // Invariants of the primitives, now that no task is left.
    w.bad.expect(aio::all_tasks().size() == 1, "all_tasks() holds more than the driver");
    w.bad.expect(!w.lk.locked(), "the lock is still locked");
    w.bad.expect(!w.cond.locked(), "the condition's lock is still locked");
    w.bad.expect(w.lock_holders == 0 && w.sem_holders == 0, "a holder count did not return to 0");
    w.bad.expect(w.tokens_made == w.tokens_taken + w.tokens, "condition tokens do not balance");
    for (int i = 0; i < w.permits; ++i) {
        try {
            co_await aio::wait_for(w.sem.acquire(), 1s);
        } catch (const aio::timeout_error&) {
            w.bad.add("the semaphore lost a permit");
            break;
        }
    }
    w.bad.expect(w.sem.locked(), "the semaphore has more permits than it started with");
    for (int i = 0; i < w.permits; ++i) {
        try {
            w.sem.release();
        } catch (const std::logic_error&) {
            break; // a lost permit, reported above
        }
    }
    tasks_created = tasks_created_so_far();
}

/// One round: plan, run, check. Returns what went wrong (empty if nothing).
aio_storm::violations cancel_round(std::uint64_t seed, totals& sum, std::string& tree) {
    rng r(seed);
    rng plan_rng = r.split();
    rng schedule_rng = r.split();
    world w(r.between(1, 3), r.between(2, 3));
    planner p{plan_rng, 0, plan_rng.between(10, 60)};
    std::vector<node> roots;
    int root_count = plan_rng.between(1, 3);
    for (int i = 0; i < root_count; ++i) {
        roots.push_back(p.make(0));
    }
    w.books.resize(static_cast<std::size_t>(p.next_id));
    for (const node& root : roots) {
        tree += (tree.empty() ? "tree: " : " ; ") + describe(root);
    }

    aio_test::report_log log;
    std::uint64_t tasks_created = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(co_await aio::this_loop());
        co_await drive(w, roots, schedule_rng, tasks_created);
    });

    // After run: the loop has closed, every task and executor job has ended.
    for (const auto& entry : log.entries) {
        if (entry.message != "Task exception was never retrieved" &&
            entry.message != "Future exception was never retrieved") {
            w.bad.add("unexpected report: " + entry.message + ": " +
                      aio::describe(entry.exception));
            continue;
        }
        w.sink(w.reported, entry.exception, "reported");
    }
    auto count_in = [](const std::map<int, int>& where, int id) {
        auto it = where.find(id);
        return it == where.end() ? 0 : it->second;
    };
    for (const auto& [id, count] : w.thrown) {
        int absorbed = count_in(w.absorbed, id);
        int replaced = count_in(w.replaced, id);
        int reported = count_in(w.reported, id);
        w.bad.expect(count == 1 && absorbed + replaced + reported == 1,
                     "error " + std::to_string(id) + " thrown " + std::to_string(count) +
                         " time(s) ended in " + std::to_string(absorbed + replaced + reported) +
                         " place(s): absorbed " + std::to_string(absorbed) + ", replaced " +
                         std::to_string(replaced) + ", reported " + std::to_string(reported));
    }
    for (const auto* where : {&w.absorbed, &w.replaced, &w.reported}) {
        for (const auto& [id, count] : *where) {
            w.bad.expect(w.thrown.count(id) == 1,
                         "error " + std::to_string(id) + " surfaced without being thrown");
        }
    }
    for (std::size_t id = 0; id < w.books.size(); ++id) {
        const node_books& b = w.books[id];
        std::string who = "node " + std::to_string(id);
        w.bad.expect(b.started <= 1, who + " started twice");
        w.bad.expect(b.ended == b.started, who + ": frame not destroyed exactly once");
        w.bad.expect(b.generator_frames == 0, who + ": a generator frame was not destroyed");
        w.bad.expect(b.cleanups == b.entered, who + ": cleanups run " + std::to_string(b.cleanups) +
                                                  " time(s) for " + std::to_string(b.entered) +
                                                  " entries");
        w.bad.expect(b.cleanups == b.cleanups_done + b.cleanups_interrupted,
                     who + ": a cleanup neither finished nor was interrupted");
        sum.nodes_started += static_cast<std::uint64_t>(b.started);
        sum.cleanups += static_cast<std::uint64_t>(b.cleanups);
    }
    w.bad.expect(w.jobs_started.load() == w.jobs_submitted &&
                     w.jobs_finished.load() == w.jobs_submitted,
                 "to_thread jobs: " + std::to_string(w.jobs_submitted) + " submitted, " +
                     std::to_string(w.jobs_started.load()) + " started, " +
                     std::to_string(w.jobs_finished.load()) + " finished");

    ++sum.rounds;
    sum.nodes += w.books.size();
    sum.tasks += tasks_created;
    sum.cancels += w.cancels;
    sum.swallowed += w.swallowed;
    for (const auto& [id, count] : w.thrown) {
        sum.errors_thrown += static_cast<std::uint64_t>(count);
    }
    for (const auto& [id, count] : w.reported) {
        sum.errors_reported += static_cast<std::uint64_t>(count);
    }
    for (const auto& [id, count] : w.replaced) {
        sum.errors_replaced += static_cast<std::uint64_t>(count);
    }
    sum.queue_items += w.queue_items;
    sum.timeouts += w.timeouts;
    sum.jobs += static_cast<std::uint64_t>(w.jobs_submitted);
    return std::move(w.bad);
}

} // namespace

TEST_CASE(storm_name) {
    aio_storm::rounds plan(1000, 500);
    totals sum;
    aio_storm::run_rounds(storm_name, plan, [&](std::uint64_t seed, std::string& tree) {
        return cancel_round(seed, sum, tree);
    });
    MESSAGE("cancellation storm: seeds "
            << plan.first_seed << ".." << plan.seed(plan.count - 1) << ", " << sum.rounds
            << " rounds, " << sum.nodes << " nodes (" << sum.nodes_started << " started), "
            << sum.tasks << " tasks, " << sum.cancels << " cancel() calls (" << sum.swallowed
            << " cancellations swallowed), " << sum.errors_thrown << " errors thrown ("
            << sum.errors_reported << " reported as never retrieved, " << sum.errors_replaced
            << " replaced by a cleanup's), " << sum.cleanups << " cleanups, " << sum.queue_items
            << " queue items, " << sum.timeouts << " timeouts, " << sum.jobs << " to_thread jobs");
}

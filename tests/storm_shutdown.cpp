// The shutdown storm: every kind of aio await parked, in random trees, when main returns, when
// SIGINT arrives, when a signal arrives during shutdown and at a hard stop; cleanups that await
// and create tasks. See docs/reliability.md.
#include "storm_support.hpp"

#include <doctest/doctest.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace {

using aio_storm::rng;

// ---------------------------------------------------------------------------------------------
// The plan: a tree of parked awaits. Every node runs inside `parked_node`, which parks, then
// runs a cleanup that awaits (and may create tasks), then rethrows what ended the park.

enum class park : std::uint8_t {
    // leaves: each parks until cancelled (to_thread: until its cleanup releases the job)
    sleep,
    event,
    lock,
    semaphore,
    condition,
    queue_get,
    queue_put,
    queue_join,
    future,
    task_await,
    raw_timer,
    barrier,
    thread_queue_get,
    thread_queue_closed,
    to_thread,
    // with children
    generator,
    as_completed,
    wait_all,
    gather,
    gather_outcomes,
    wait_for,
    shield,
    group,
    finally,
    with,
};
constexpr int leaf_kinds = 15;
constexpr int all_kinds = 25;

const char* park_name(park k) {
    static constexpr const char* names[] = {"sleep",
                                            "event",
                                            "lock",
                                            "semaphore",
                                            "condition",
                                            "queue_get",
                                            "queue_put",
                                            "queue_join",
                                            "future",
                                            "task_await",
                                            "raw_timer",
                                            "barrier",
                                            "thread_queue_get",
                                            "thread_queue_closed",
                                            "to_thread",
                                            "generator",
                                            "as_completed",
                                            "wait_all",
                                            "gather",
                                            "gather_outcomes",
                                            "wait_for",
                                            "shield",
                                            "group",
                                            "finally",
                                            "with"};
    return names[static_cast<int>(k)];
}

/// What a cleanup does besides awaiting.
enum class spawn : std::uint8_t {
    none,
    awaited,  // creates a task and waits for it
    detached, // creates a task and leaves it running (fire and forget)
};

struct pnode {
    park k = park::sleep;
    int id = 0;
    int yields = 0; // sleep(0)s in the cleanup, before and after the rest
    spawn helper = spawn::none;
    int raises = 0; // SIGINTs the cleanup raises
    std::vector<pnode> children;
};

struct pplanner {
    rng& r;
    bool detached_helpers;
    int next_id = 0;

    pnode make(park k, int depth) {
        pnode n;
        n.k = k;
        n.id = next_id++;
        n.yields = r.between(0, 3);
        int h = r.between(0, 99);
        n.helper =
            h < 40 ? spawn::none : (detached_helpers && h < 75 ? spawn::detached : spawn::awaited);
        int children = 0;
        switch (k) {
        case park::as_completed:
        case park::wait_all:
        case park::gather:
        case park::gather_outcomes:
        case park::group:
            children = r.between(2, 3);
            break;
        case park::generator:
        case park::wait_for:
        case park::shield:
        case park::finally:
        case park::with:
            children = 1;
            break;
        default:
            break;
        }
        for (int i = 0; i < children; ++i) {
            n.children.push_back(make(random_kind(depth + 1), depth + 1));
        }
        return n;
    }
    park random_kind(int depth) {
        return static_cast<park>(r.between(0, depth >= 2 ? leaf_kinds - 1 : all_kinds - 1));
    }
};

std::string describe(const pnode& n) {
    auto label = [](const pnode& x) {
        std::string out = std::string(park_name(x.k)) + "#" + std::to_string(x.id);
        if (x.helper != spawn::none) {
            out += x.helper == spawn::awaited ? "+awaited" : "+detached";
        }
        if (x.raises > 0) {
            out += "+raise" + std::to_string(x.raises);
        }
        return out;
    };
    return aio_storm::describe_tree(n, label);
}

int count_leaves(const pnode& n) {
    int leaves = static_cast<int>(n.k) < leaf_kinds ? 1 : 0;
    for (const pnode& c : n.children) {
        leaves += count_leaves(c);
    }
    return leaves;
}

pnode* find_node(pnode& n, int id) {
    if (n.id == id) {
        return &n;
    }
    for (pnode& c : n.children) {
        if (pnode* found = find_node(c, id)) {
            return found;
        }
    }
    return nullptr;
}

// ---------------------------------------------------------------------------------------------
// The round's state.

struct pbooks {
    int started = 0;
    int ended = 0; // frame destroyed
    int cleanups = 0;
    int cleanups_done = 0;
    int inner_cleanups = 0; // finally's cleanup, with's exit
    int inner_cleanups_done = 0;
    int inner_entered = 0;
    int generator_frames = 0;
};

/// One to_thread job's gate: the job runs until its node's cleanup releases it. Shared with the
/// job, which may outlive the round after a hard stop.
struct job_gate {
    std::atomic<bool> release{false};
    std::atomic<bool> finished{false};
};

struct sworld {
    aio_storm::violations bad;
    std::vector<pbooks> books;

    aio::lock lk;
    aio::semaphore sem{0};
    aio::condition cond;
    aio::event ev;
    aio::barrier bar{1000};
    aio::queue<int> q_empty;
    aio::queue<int> q_full{1};
    aio::queue<int> q_join;
    std::optional<aio::thread_queue<int>> tq;
    std::vector<std::shared_ptr<job_gate>> jobs; // by node id; set once the job is submitted

    int parked = 0; // leaves that reached their park
    int helpers_created = 0;
    int helpers_started = 0;
    int helpers_finished = 0;
    int recancelled = 0; // cancellations that reached a cleanup's await (and were ridden out)
    int raised = 0;
};

/// sleep(0) that rides out cancellations: cleanups here must finish however often they are
/// cancelled (a task_group's abort or gather's cancel may reach a child already in cleanup).
aio::awaitable<void> steady_step(sworld& w) {
    for (;;) {
        try {
            co_await aio::sleep(0s);
            co_return;
        } catch (const aio::cancelled_error&) {
            ++w.recancelled;
        }
    }
}

aio::awaitable<void> steady_steps(sworld& w, int n) {
    for (int i = 0; i < n; ++i) {
        co_await steady_step(w);
    }
}

/// A task a cleanup creates: a few awaits, then done.
aio::awaitable<void> helper_task(sworld& w, int steps) {
    ++w.helpers_started;
    for (int i = 0; i < steps; ++i) {
        co_await aio::sleep(0s);
    }
    co_await aio::sleep(50us);
    ++w.helpers_finished;
}

aio::awaitable<void> cleanup(sworld& w, const pnode& n) {
    pbooks& b = w.books[static_cast<std::size_t>(n.id)];
    ++b.cleanups;
    co_await steady_steps(w, n.yields);
    if (n.k == park::to_thread && w.jobs[static_cast<std::size_t>(n.id)]) {
        w.jobs[static_cast<std::size_t>(n.id)]->release.store(true);
    }
    if (n.helper != spawn::none) {
        ++w.helpers_created;
        aio::task<void> h = aio::create_task(helper_task(w, n.yields + 1));
        while (n.helper == spawn::awaited && !h.done()) {
            try {
                co_await h.wait_done();
            } catch (const aio::cancelled_error&) {
                ++w.recancelled;
            }
        }
    }
    for (int i = 0; i < n.raises; ++i) {
        ++w.raised;
        std::raise(SIGINT);
    }
    co_await steady_steps(w, n.yields);
    ++b.cleanups_done;
}

aio::awaitable<void> parked_node(sworld& w, const pnode& n);

aio::awaitable<void> park_leaf(sworld& w, const pnode& n) {
    switch (n.k) {
    case park::sleep:
        ++w.parked;
        co_await aio::sleep(1h);
        break;
    case park::event:
        ++w.parked;
        co_await w.ev.wait();
        break;
    case park::lock:
        ++w.parked;
        co_await w.lk.acquire(); // main holds it for good
        w.lk.release();
        break;
    case park::semaphore:
        ++w.parked;
        co_await w.sem.acquire(); // no permit, ever
        break;
    case park::condition: {
        auto held = co_await w.cond.scoped();
        ++w.parked;
        co_await w.cond.wait(); // never notified
        break;
    }
    case park::queue_get:
        ++w.parked;
        co_await w.q_empty.get();
        break;
    case park::queue_put:
        ++w.parked;
        co_await w.q_full.put(1);
        break;
    case park::queue_join:
        ++w.parked;
        co_await w.q_join.join();
        break;
    case park::future: {
        aio::future<int> never;
        ++w.parked;
        co_await never();
        break;
    }
    case park::task_await: {
        aio::task<void> t = aio::create_task(aio::sleep(1h));
        ++w.parked;
        co_await t();
        break;
    }
    case park::raw_timer: {
        boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, 1h);
        ++w.parked;
        co_await timer.async_wait(boost::asio::use_awaitable);
        break;
    }
    case park::barrier:
        ++w.parked;
        co_await w.bar.wait();
        break;
    case park::thread_queue_get:
        ++w.parked;
        co_await w.tq->async().get();
        break;
    case park::thread_queue_closed:
        ++w.parked;
        co_await w.tq->wait_closed();
        break;
    case park::to_thread: {
        auto gate = std::make_shared<job_gate>();
        w.jobs[static_cast<std::size_t>(n.id)] = gate;
        auto job = [gate] {
            auto until = std::chrono::steady_clock::now() + 10s;
            while (!gate->release.load() && std::chrono::steady_clock::now() < until) {
                std::this_thread::sleep_for(50us);
            }
            gate->finished.store(true);
        };
        ++w.parked;
        co_await aio::to_thread(std::move(job));
        break;
    }
    default:
        w.bad.add("park_leaf called for a node with children");
    }
}

/// A resource whose exit awaits (counted on the node's books).
struct parked_resource {
    sworld& w;
    pbooks& b;

    aio::awaitable<void> async_enter() {
        ++b.inner_entered;
        co_return;
    }
    aio::awaitable<void> async_exit(std::exception_ptr) {
        ++b.inner_cleanups;
        co_await steady_steps(w, 2);
        ++b.inner_cleanups_done;
    }
};

aio::awaitable<void> park_composite(sworld& w, const pnode& n) {
    pbooks& b = w.books[static_cast<std::size_t>(n.id)];
    switch (n.k) {
    case park::generator: {
        auto body = [&w, &n, &b]() -> aio::generator<int> {
            aio_test::live_count alive(b.generator_frames);
            co_await parked_node(w, n.children[0]);
            co_yield 1;
        };
        auto gen = body();
        (void)co_await gen.next();
        co_await gen.aclose();
        break;
    }
    case park::as_completed: {
        std::vector<aio::task<void>> tasks;
        for (const pnode& c : n.children) {
            tasks.push_back(aio::create_task(parked_node(w, c)));
        }
        auto finished = aio::as_completed(tasks);
        while (std::optional<aio::task<void>> t = co_await finished.next()) {
            co_await (*t)();
        }
        break;
    }
    case park::wait_all: {
        std::vector<aio::task<void>> tasks;
        for (const pnode& c : n.children) {
            tasks.push_back(aio::create_task(parked_node(w, c)));
        }
        co_await aio::wait(tasks);
        break;
    }
    case park::gather: {
        std::vector<aio::awaitable<void>> children;
        for (const pnode& c : n.children) {
            children.push_back(parked_node(w, c));
        }
        co_await aio::gather(std::move(children));
        break;
    }
    case park::gather_outcomes: {
        std::vector<aio::awaitable<void>> children;
        for (const pnode& c : n.children) {
            children.push_back(parked_node(w, c));
        }
        co_await aio::gather(aio::return_exceptions, std::move(children));
        break;
    }
    case park::wait_for:
        co_await aio::wait_for(parked_node(w, n.children[0]), 1h);
        break;
    case park::shield:
        co_await aio::shield(parked_node(w, n.children[0]));
        break;
    case park::group: {
        aio::task_group tg;
        auto body = [&](aio::task_group& g) -> aio::awaitable<void> {
            for (std::size_t i = 0; i + 1 < n.children.size(); ++i) {
                g.create_task(parked_node(w, n.children[i]));
            }
            co_await parked_node(w, n.children.back());
        };
        co_await aio::with(tg, body);
        break;
    }
    case park::finally: {
        auto inner_cleanup = [&]() -> aio::awaitable<void> {
            ++b.inner_cleanups;
            co_await steady_steps(w, 2);
            ++b.inner_cleanups_done;
        };
        ++b.inner_entered;
        co_await aio::finally(parked_node(w, n.children[0]), inner_cleanup);
        break;
    }
    case park::with: {
        parked_resource res{w, b};
        auto body = [&](parked_resource&) -> aio::awaitable<void> {
            co_await parked_node(w, n.children[0]);
        };
        co_await aio::with(res, body);
        break;
    }
    default:
        w.bad.add("park_composite called for a leaf");
    }
}

aio::awaitable<void> parked_node(sworld& w, const pnode& n) {
    aio_storm::frame_scope scope(w.books[static_cast<std::size_t>(n.id)]);
    std::exception_ptr ended_by;
    try {
        if (static_cast<int>(n.k) < leaf_kinds) {
            co_await park_leaf(w, n);
        } else {
            co_await park_composite(w, n);
        }
    } catch (...) {
        ended_by = std::current_exception();
    }
    co_await aio::uncancel(); // after a raw Asio operation's operation_aborted
    co_await cleanup(w, n);
    if (ended_by) {
        std::rethrow_exception(ended_by);
    }
}

// ---------------------------------------------------------------------------------------------
// Scenarios and rounds.

enum class scenario {
    main_returns,           // main returns a value with everything parked
    signal,                 // SIGINT cancels main, parked in a tree of its own
    detached_helpers,       // main returns; cleanups also create fire-and-forget tasks
    signal_during_shutdown, // main returns; a cleanup raises one SIGINT during shutdown
    hard_stop,              // a second SIGINT: from main's cleanup, or two during shutdown
};

bool graceful(scenario s) {
    return s != scenario::hard_stop;
}

struct run_result {
    bool returned = false;
    int value = 0;
    int signal = 0;
    std::string other; // any other exception
};

struct shutdown_totals {
    std::uint64_t rounds = 0;
    std::uint64_t nodes = 0;
    std::uint64_t started = 0;
    std::uint64_t cleanups = 0;
    std::uint64_t helpers = 0;
    std::uint64_t recancelled = 0;
    std::uint64_t signals = 0;
    std::uint64_t jobs = 0;
};

aio_storm::violations shutdown_round(scenario sc, std::uint64_t seed, shutdown_totals& sum,
                                     std::string& tree) {
    rng r(seed);
    pplanner planner{r, sc == scenario::detached_helpers};
    // Every kind of park appears at the top level, in random order, plus a few more.
    std::vector<park> kinds;
    for (int k = 0; k < all_kinds; ++k) {
        kinds.push_back(static_cast<park>(k));
    }
    for (int extra = r.between(0, 5); extra > 0; --extra) {
        kinds.push_back(planner.random_kind(0));
    }
    for (std::size_t i = kinds.size(); i > 1; --i) {
        std::swap(kinds[i - 1],
                  kinds[static_cast<std::size_t>(r.between(0, static_cast<int>(i) - 1))]);
    }
    std::vector<pnode> background;
    int background_leaves = 0;
    for (park k : kinds) {
        background.push_back(planner.make(k, 0));
        background_leaves += count_leaves(background.back());
    }
    std::optional<pnode> main_tree;
    if (sc == scenario::signal || (sc == scenario::hard_stop && r.chance(50))) {
        main_tree = planner.make(planner.random_kind(0), 0);
        if (sc == scenario::hard_stop) {
            main_tree->raises = 1; // the second signal, from main's cleanup
        }
    } else if (sc == scenario::signal_during_shutdown || sc == scenario::hard_stop) {
        // A cleanup that runs during shutdown raises the signal(s): pick any background node.
        pnode& root = background[static_cast<std::size_t>(
            r.between(0, static_cast<int>(background.size()) - 1))];
        pnode* target = nullptr;
        while (target == nullptr) {
            target = find_node(root, r.between(root.id, planner.next_id - 1));
        }
        target->raises = sc == scenario::hard_stop ? 2 : 1;
    }
    bool main_rethrows = sc == scenario::hard_stop || r.chance(60);
    int value = r.between(1, 1000);

    sworld w;
    w.books.resize(static_cast<std::size_t>(planner.next_id));
    w.jobs.resize(w.books.size());
    tree = "tree: " + (main_tree ? "main: " + describe(*main_tree) + " ; " : std::string());
    for (const pnode& n : background) {
        tree += describe(n) + " ; ";
    }

    aio_test::report_log log;
    run_result result;
    try {
        result.value = aio::run(
            [&]() -> aio::awaitable<int> {
                aio::loop lp = co_await aio::this_loop();
                log.install(lp);
                w.tq.emplace(lp);
                co_await w.lk.acquire();
                w.q_full.put_nowait(0);
                w.q_join.put_nowait(0);
                for (const pnode& n : background) {
                    aio::create_task(parked_node(w, n));
                }
                for (int i = 0; i < 2000 && w.parked < background_leaves; ++i) {
                    co_await aio::sleep(i < 1000 ? 0us : 100us);
                }
                w.bad.expect(w.parked == background_leaves,
                             "setup: " + std::to_string(w.parked) + " of " +
                                 std::to_string(background_leaves) + " awaits parked");
                if (!main_tree) {
                    co_return value;
                }
                ++w.raised;
                std::raise(SIGINT);
                try {
                    co_await parked_node(w, *main_tree);
                } catch (...) {
                    if (main_rethrows) {
                        throw;
                    }
                }
                co_return value;
            },
            aio::run_options{.shutdown_timeout = 10s, .handle_signals = true});
        result.returned = true;
    } catch (const aio::interrupted_error& e) {
        result.signal = e.signal();
    } catch (...) {
        result.other = aio::describe(std::current_exception());
    }
    int jobs = 0;
    int jobs_running = 0;
    for (const auto& gate : w.jobs) {
        if (gate) {
            ++jobs;
            jobs_running += gate->finished.load() ? 0 : 1;
            gate->release.store(true); // after a hard stop no cleanup released the jobs
        }
    }

    // What run gave.
    std::string gave = result.returned ? "returned " + std::to_string(result.value)
                       : result.signal
                           ? "threw interrupted_error(" + std::to_string(result.signal) + ")"
                           : "threw " + result.other;
    bool expect_interrupted = sc == scenario::hard_stop || sc == scenario::signal_during_shutdown ||
                              (sc == scenario::signal && main_rethrows);
    if (expect_interrupted) {
        w.bad.expect(result.signal == SIGINT,
                     "run " + gave + ", expected interrupted_error(SIGINT)");
    } else {
        w.bad.expect(result.returned && result.value == value,
                     "run " + gave + ", expected it to return " + std::to_string(value));
    }

    // Every cleanup ran once (graceful), or at most once (hard stop).
    for (std::size_t id = 0; id < w.books.size(); ++id) {
        const pbooks& b = w.books[id];
        std::string who = "node " + std::to_string(id);
        if (graceful(sc)) {
            w.bad.expect(b.started <= 1 && b.ended == b.started,
                         who + ": started " + std::to_string(b.started) + ", frame destroyed " +
                             std::to_string(b.ended) + " time(s)");
            w.bad.expect(b.cleanups == b.started && b.cleanups_done == b.started,
                         who + ": started " + std::to_string(b.started) + ", cleanup ran " +
                             std::to_string(b.cleanups) + " time(s), finished " +
                             std::to_string(b.cleanups_done));
            w.bad.expect(b.inner_cleanups == b.inner_entered &&
                             b.inner_cleanups_done == b.inner_entered,
                         who + ": finally/with cleanup ran " + std::to_string(b.inner_cleanups) +
                             " time(s) for " + std::to_string(b.inner_entered) + " entries");
            w.bad.expect(b.generator_frames == 0, who + ": a generator frame was not destroyed");
        } else {
            w.bad.expect(b.cleanups <= 1 && b.inner_cleanups <= 1, who + ": a cleanup ran twice");
        }
        sum.started += static_cast<std::uint64_t>(b.started);
        sum.cleanups += static_cast<std::uint64_t>(b.cleanups + b.inner_cleanups);
    }
    if (graceful(sc)) {
        w.bad.expect(w.helpers_started == w.helpers_created &&
                         w.helpers_finished == w.helpers_created,
                     "tasks created by cleanups: " + std::to_string(w.helpers_created) +
                         " created, " + std::to_string(w.helpers_started) + " started, " +
                         std::to_string(w.helpers_finished) + " ran to their end");
        w.bad.expect(jobs_running == 0, std::to_string(jobs_running) +
                                            " to_thread job(s) still running after run returned");
        for (const auto& entry : log.entries) {
            w.bad.add("unexpected report: " + entry.message + ": " +
                      aio::describe(entry.exception));
        }
    }

    ++sum.rounds;
    sum.nodes += w.books.size();
    sum.helpers += static_cast<std::uint64_t>(w.helpers_created);
    sum.recancelled += static_cast<std::uint64_t>(w.recancelled);
    sum.signals += static_cast<std::uint64_t>(w.raised);
    sum.jobs += static_cast<std::uint64_t>(jobs);
    return std::move(w.bad);
}

void shutdown_storm(const std::string& name, scenario sc, std::uint64_t default_seed,
                    std::uint64_t default_rounds) {
    aio_storm::rounds plan(default_seed, default_rounds);
    shutdown_totals sum;
    aio_storm::run_rounds(name, plan, [&](std::uint64_t seed, std::string& tree) {
        return shutdown_round(sc, seed, sum, tree);
    });
    MESSAGE(name << ": seeds " << plan.first_seed << ".." << plan.seed(plan.count - 1) << ", "
                 << sum.rounds << " rounds, " << sum.nodes << " parked awaits (" << sum.started
                 << " started), " << sum.cleanups << " cleanups, " << sum.helpers
                 << " tasks created by cleanups, " << sum.recancelled
                 << " cancellations ridden out by cleanups, " << sum.signals << " signals, "
                 << sum.jobs << " to_thread jobs");
}

constexpr const char* main_returns_name =
    "storm: shutdown when main returns with every await parked";
constexpr const char* signal_name = "storm: shutdown after SIGINT with every await parked";
constexpr const char* detached_name =
    "storm: tasks created by cleanups during shutdown run to their end";
constexpr const char* signal_during_shutdown_name =
    "storm: one SIGINT during graceful shutdown does not skip cleanups";
constexpr const char* hard_stop_name =
    "storm: a second SIGINT stops at once with every await parked";

} // namespace

TEST_CASE(main_returns_name) {
    shutdown_storm(main_returns_name, scenario::main_returns, 2000, 40);
}

TEST_CASE(signal_name) {
    shutdown_storm(signal_name, scenario::signal, 3000, 40);
}

TEST_CASE(detached_name) {
    shutdown_storm(detached_name, scenario::detached_helpers, 4000, 40);
}

// One signal during the shutdown lets it finish; run then throws interrupted_error.
TEST_CASE(signal_during_shutdown_name) {
    shutdown_storm(signal_during_shutdown_name, scenario::signal_during_shutdown, 5000, 40);
}

// A hard stop abandons what is parked: nothing destroyed, nothing touched (ASan/LSan check).
TEST_CASE(hard_stop_name) {
    shutdown_storm(hard_stop_name, scenario::hard_stop, 6000, 40);
}

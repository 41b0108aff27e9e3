// The thread storm: 8 threads at once through the bridges between threads and the loop
// (call_soon_threadsafe, run_coroutine_threadsafe, thread_queue closed mid-way, to_thread and
// run_in_executor under wait_for), with every item, callback and job accounted for exactly
// once. Built to run under ThreadSanitizer (the tsan preset). See docs/reliability.md.
#include "storm_support.hpp"

#include <doctest/doctest.h>

#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <future>
#include <latch>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace {

using aio_storm::rng;

constexpr int thread_count = 8;

using aio_storm::storm_error;

/// Runs the rounds of one storm and prints the summary line that `one_round` keeps.
template <class Round>
void storm(const std::string& name, std::uint64_t default_seed, std::uint64_t default_rounds,
           Round one_round) {
    aio_storm::rounds plan(default_seed, default_rounds);
    std::uint64_t done = aio_storm::run_rounds(
        name, plan, [&](std::uint64_t seed, std::string&) { return one_round(seed); });
    MESSAGE(name << ": seeds " << plan.first_seed << ".." << plan.seed(plan.count - 1) << ", "
                 << done << " rounds, " << one_round.summary());
}

// ---------------------------------------------------------------------------------------------
// call_soon_threadsafe: 8 threads post until the loop closes under them.

/// What became of one posted callback.
enum : int { not_run = 0, ran = 1, dropped = 2 };

/// A callback that records whether it ran, or was destroyed unrun (the loop closed with it
/// queued, or refused it). Move-only, so that a copy cannot record twice.
class posted_call {
public:
    posted_call(std::atomic<int>* fate, std::vector<int>* next_seq, int thread, int seq,
                bool throws)
        : fate_(fate), next_seq_(next_seq), thread_(thread), seq_(seq), throws_(throws) {}
    posted_call(posted_call&& o) noexcept
        : fate_(std::exchange(o.fate_, nullptr)), next_seq_(o.next_seq_), thread_(o.thread_),
          seq_(o.seq_), throws_(o.throws_) {}
    posted_call(const posted_call&) = delete;
    posted_call& operator=(const posted_call&) = delete;
    posted_call& operator=(posted_call&&) = delete;
    ~posted_call() {
        if (fate_ != nullptr) {
            int expected = not_run;
            fate_->compare_exchange_strong(expected, dropped);
        }
    }

    void operator()() {
        int expected = not_run;
        if (!fate_->compare_exchange_strong(expected, ran)) {
            (*next_seq_)[static_cast<std::size_t>(thread_)] = -1000000; // ran twice: spoil it
        }
        int& next = (*next_seq_)[static_cast<std::size_t>(thread_)];
        next = next == seq_ ? seq_ + 1 : -1000000; // out of order: spoil it
        if (throws_) {
            throw storm_error(seq_);
        }
    }

private:
    std::atomic<int>* fate_;
    std::vector<int>* next_seq_; // loop thread only
    int thread_;
    int seq_;
    bool throws_;
};

struct callbacks_round {
    std::uint64_t posted = 0, ran_total = 0, dropped_total = 0, refused = 0, reports = 0;

    aio_storm::violations operator()(std::uint64_t seed) {
        aio_storm::violations bad;
        rng r(seed);
        // Each thread posts until the loop refuses (at most per_thread calls); main returns
        // after run_until calls, so that the loop closes while the threads are posting.
        int per_thread = 1500;
        int throw_every = r.between(3, 40);
        int burst = r.chance(50) ? r.between(10, 50) : 0; // 0: no pauses, the hottest race
        int run_until = r.between(0, 200 * thread_count);
        std::vector<std::unique_ptr<std::atomic<int>[]>> fates;
        std::vector<int> accepted(thread_count, 0);
        std::vector<int> next_seq(thread_count, 0);
        for (int t = 0; t < thread_count; ++t) {
            fates.push_back(
                std::make_unique<std::atomic<int>[]>(static_cast<std::size_t>(per_thread)));
        }
        std::promise<aio::loop> loop_ready;
        std::shared_future<aio::loop> loop_handle = loop_ready.get_future().share();
        std::atomic<int> calls{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < thread_count; ++t) {
            threads.emplace_back([&, t] {
                aio::loop lp = loop_handle.get();
                for (int i = 0; i < per_thread; ++i) {
                    try {
                        lp.call_soon_threadsafe(posted_call(&fates[static_cast<std::size_t>(t)][i],
                                                            &next_seq, t, i, i % throw_every == 0));
                        ++accepted[static_cast<std::size_t>(t)];
                    } catch (const std::runtime_error&) {
                        break; // the loop is closed
                    }
                    calls.fetch_add(1);
                    if (burst > 0 && i % burst == burst - 1) {
                        std::this_thread::sleep_for(20us); // spread the calls over the close
                    }
                }
            });
        }
        aio_test::report_log log;
        aio_test::run([&]() -> aio::awaitable<void> {
            aio::loop lp = co_await aio::this_loop();
            log.install(lp);
            loop_ready.set_value(lp);
            // Let some callbacks run, then return while the threads are still posting.
            for (int i = 0; i < 100000 && calls.load() < run_until; ++i) {
                co_await aio::sleep(i < 1000 ? 0us : 20us);
            }
        });
        for (auto& th : threads) {
            th.join();
        }
        std::uint64_t round_ran = 0;
        std::uint64_t throwers_ran = 0;
        for (int t = 0; t < thread_count; ++t) {
            int ran_here = 0;
            for (int i = 0; i < per_thread; ++i) {
                int fate = fates[static_cast<std::size_t>(t)][i].load();
                bool was_accepted = i < accepted[static_cast<std::size_t>(t)];
                if (was_accepted) {
                    bad.expect(fate == ran || fate == dropped,
                               "an accepted callback neither ran nor was dropped");
                } else if (i == accepted[static_cast<std::size_t>(t)]) {
                    bad.expect(fate == dropped, "a refused callback was not dropped at once");
                    ++refused;
                }
                if (fate == ran) {
                    ++ran_here;
                    throwers_ran += i % throw_every == 0 ? 1 : 0;
                } else if (fate == dropped && was_accepted) {
                    ++dropped_total;
                }
            }
            // Callbacks run in the order each thread posted them: a prefix of its calls ran.
            bad.expect(next_seq[static_cast<std::size_t>(t)] == ran_here,
                       "thread " + std::to_string(t) + ": callbacks ran out of order or twice");
            round_ran += static_cast<std::uint64_t>(ran_here);
            posted += static_cast<std::uint64_t>(accepted[static_cast<std::size_t>(t)]);
        }
        ran_total += round_ran;
        bad.expect(log.count("exception in a callback") == throwers_ran &&
                       log.entries.size() == throwers_ran,
                   std::to_string(log.entries.size()) + " reports for " +
                       std::to_string(throwers_ran) + " callbacks that threw");
        reports += log.entries.size();
        return bad;
    }

    std::string summary() const {
        return std::to_string(posted) + " callbacks accepted (" + std::to_string(ran_total) +
               " ran, " + std::to_string(dropped_total) + " dropped at close), " +
               std::to_string(refused) + " refused by the closed loop, " + std::to_string(reports) +
               " errors reported";
    }
};

// ---------------------------------------------------------------------------------------------
// run_coroutine_threadsafe: 8 threads submit coroutines that return, fail, or wait until they
// are cancelled (by the loop, or by the shutdown).

struct coroutines_round {
    std::uint64_t submitted = 0, values = 0, errors = 0, cancelled = 0, refused = 0;

    aio_storm::violations operator()(std::uint64_t seed) {
        aio_storm::violations bad;
        rng r(seed);
        int per_thread = r.between(5, 40);
        std::vector<std::vector<int>> kinds(
            thread_count); // 0 value, 1 nap+value, 2 error, 3 forever
        int finite = 0;
        for (auto& k : kinds) {
            for (int i = 0; i < per_thread; ++i) {
                k.push_back(r.between(0, 3));
                finite += k.back() == 3 ? 0 : 1;
            }
        }
        int cancel_percent = r.between(0, 100);

        std::promise<aio::loop> loop_ready;
        std::shared_future<aio::loop> loop_handle = loop_ready.get_future().share();
        std::atomic<int> started{0};
        std::atomic<int> finite_done{0};
        std::vector<aio::any_task> waiting; // loop thread only
        std::latch closed(1);
        std::vector<std::string> problems(thread_count);
        std::vector<std::uint64_t> got_values(thread_count), got_errors(thread_count),
            got_cancelled(thread_count), got_refused(thread_count);

        auto body = [&](int id, int kind) -> aio::awaitable<int> {
            started.fetch_add(1);
            if (kind == 3) {
                waiting.push_back(co_await aio::current_task());
                co_await aio::sleep(1h);
                co_return -1;
            }
            if (kind == 1) {
                co_await aio::sleep(std::chrono::microseconds(id % 200));
            } else {
                co_await aio::sleep(0s);
            }
            finite_done.fetch_add(1);
            if (kind == 2) {
                throw storm_error(id);
            }
            co_return id * 2;
        };

        std::vector<std::thread> threads;
        for (int t = 0; t < thread_count; ++t) {
            threads.emplace_back([&, t] {
                aio::loop lp = loop_handle.get();
                std::vector<std::future<int>> futures;
                for (int i = 0; i < per_thread; ++i) {
                    futures.push_back(aio::run_coroutine_threadsafe(
                        body(t * 1000 + i, kinds[static_cast<std::size_t>(t)][i]), lp));
                }
                for (int i = 0; i < per_thread; ++i) {
                    int id = t * 1000 + i;
                    int kind = kinds[static_cast<std::size_t>(t)][i];
                    try {
                        int v = futures[static_cast<std::size_t>(i)].get();
                        ++got_values[static_cast<std::size_t>(t)];
                        if (kind > 1 || v != id * 2) {
                            problems[static_cast<std::size_t>(t)] += "wrong value;";
                        }
                    } catch (const storm_error& e) {
                        ++got_errors[static_cast<std::size_t>(t)];
                        if (kind != 2 || e.id != id) {
                            problems[static_cast<std::size_t>(t)] += "wrong error;";
                        }
                    } catch (const aio::cancelled_error&) {
                        ++got_cancelled[static_cast<std::size_t>(t)];
                        if (kind != 3) {
                            problems[static_cast<std::size_t>(t)] += "finite coroutine cancelled;";
                        }
                    } catch (const std::exception& e) {
                        problems[static_cast<std::size_t>(t)] += std::string(e.what()) + ";";
                    }
                }
                closed.wait();
                try {
                    (void)aio::run_coroutine_threadsafe(body(-1, 0), lp);
                    problems[static_cast<std::size_t>(t)] += "a closed loop accepted a coroutine;";
                } catch (const std::runtime_error&) {
                    ++got_refused[static_cast<std::size_t>(t)];
                }
            });
        }
        aio_test::report_log log;
        aio_test::run([&]() -> aio::awaitable<void> {
            aio::loop lp = co_await aio::this_loop();
            log.install(lp);
            loop_ready.set_value(lp);
            int total = per_thread * thread_count;
            for (int i = 0; i < 200000 && (started.load() < total || finite_done.load() < finite);
                 ++i) {
                co_await aio::sleep(i < 1000 ? 0us : 20us);
            }
            bad.expect(started.load() == total && finite_done.load() == finite,
                       "the coroutines did not all start and finish");
            rng pick(seed + 1);
            for (aio::any_task& t : waiting) {
                if (pick.chance(cancel_percent)) {
                    t.cancel();
                }
            }
            co_await aio::sleep(0s); // the rest are cancelled by the shutdown
        });
        closed.count_down();
        for (auto& th : threads) {
            th.join();
        }
        for (int t = 0; t < thread_count; ++t) {
            bad.expect(problems[static_cast<std::size_t>(t)].empty(),
                       "thread " + std::to_string(t) + ": " +
                           problems[static_cast<std::size_t>(t)]);
            values += got_values[static_cast<std::size_t>(t)];
            errors += got_errors[static_cast<std::size_t>(t)];
            cancelled += got_cancelled[static_cast<std::size_t>(t)];
            refused += got_refused[static_cast<std::size_t>(t)];
        }
        submitted += static_cast<std::uint64_t>(per_thread * thread_count);
        // Errors went to the futures: none is reported as never retrieved.
        for (const auto& e : log.entries) {
            bad.add("unexpected report: " + e.message + ": " + aio::describe(e.exception));
        }
        return bad;
    }

    std::string summary() const {
        return std::to_string(submitted) + " coroutines submitted (" + std::to_string(values) +
               " values, " + std::to_string(errors) + " errors, " + std::to_string(cancelled) +
               " cancelled), " + std::to_string(refused) + " refused by the closed loop";
    }
};

// ---------------------------------------------------------------------------------------------
// thread_queue: 4 producer and 4 consumer threads, producer and consumer tasks (some
// cancelled), closed mid-way by a thread or by the loop.

struct thread_queue_round {
    std::uint64_t items_put = 0, by_threads = 0, by_tasks = 0, drained_total = 0,
                  closes_by_thread = 0, cancelled_tasks = 0;

    aio_storm::violations operator()(std::uint64_t seed) {
        aio_storm::violations bad;
        rng r(seed);
        const int producers = thread_count / 2;
        const int consumers = thread_count / 2;
        const int task_producers = r.between(0, 3);
        const int task_consumers = r.between(0, 3);
        const int per_producer = r.between(10, 200);
        const std::size_t maxsize = static_cast<std::size_t>(r.between(0, 8));
        const auto close_delay = std::chrono::microseconds(r.between(0, 2000));
        const bool thread_closes = r.chance(50);
        const int cancel_percent = r.between(0, 50);
        const int item_count = per_producer * (producers + task_producers);
        std::vector<int> consumer_quota; // gets before a consumer thread leaves; -1: until closed
        for (int c = 0; c < consumers; ++c) {
            consumer_quota.push_back(r.chance(50) ? -1 : r.between(0, per_producer));
        }

        std::unique_ptr<std::atomic<int>[]> gets(new std::atomic<int>[item_count]());
        std::unique_ptr<std::atomic<bool>[]> put_ok(new std::atomic<bool>[item_count]());
        std::atomic<int> thread_gets{0};
        int task_gets = 0;
        int drained = 0;

        aio_test::run([&]() -> aio::awaitable<void> {
            aio::thread_queue<int> q(maxsize);
            std::vector<std::thread> threads;
            for (int p = 0; p < producers; ++p) {
                threads.emplace_back([&, p] {
                    rng tr(seed * 31 + static_cast<std::uint64_t>(p));
                    for (int i = 0; i < per_producer; ++i) {
                        int item = p * per_producer + i;
                        try {
                            if (tr.chance(30)) {
                                for (;;) {
                                    try {
                                        q.sync().put(item,
                                                     std::chrono::microseconds(tr.between(0, 200)));
                                        break;
                                    } catch (const aio::queue_full&) {
                                    }
                                }
                            } else {
                                q.sync().put(item);
                            }
                        } catch (const aio::queue_shut_down&) {
                            return;
                        }
                        put_ok[item].store(true);
                    }
                });
            }
            for (int c = 0; c < consumers; ++c) {
                threads.emplace_back([&, quota = consumer_quota[static_cast<std::size_t>(c)]] {
                    for (int n = 0; quota < 0 || n < quota; ++n) {
                        try {
                            int item = q.sync().get();
                            gets[item].fetch_add(1);
                            thread_gets.fetch_add(1);
                        } catch (const aio::queue_shut_down&) {
                            return;
                        }
                    }
                });
            }
            if (thread_closes) {
                threads.emplace_back([&] {
                    std::this_thread::sleep_for(close_delay);
                    q.close();
                });
            }
            auto produce = [&](int first) -> aio::awaitable<void> {
                for (int i = 0; i < per_producer; ++i) {
                    try {
                        co_await q.async().put(first + i);
                    } catch (const aio::queue_shut_down&) {
                        co_return;
                    }
                    put_ok[first + i].store(true);
                }
            };
            auto consume = [&]() -> aio::awaitable<void> {
                for (;;) {
                    int item = 0;
                    try {
                        item = co_await q.async().get();
                    } catch (const aio::queue_shut_down&) {
                        co_return;
                    }
                    gets[item].fetch_add(1);
                    ++task_gets;
                }
            };
            std::vector<aio::task<void>> tasks;
            for (int p = 0; p < task_producers; ++p) {
                tasks.push_back(aio::create_task(produce((producers + p) * per_producer)));
            }
            for (int c = 0; c < task_consumers; ++c) {
                tasks.push_back(aio::create_task(consume()));
            }
            // Cancel some tasks mid-way: a cancelled put adds nothing, a cancelled get takes
            // nothing.
            rng pick(seed + 7);
            auto close_at = std::chrono::steady_clock::now() + close_delay;
            for (int step = 0; step < 20; ++step) {
                co_await aio::sleep(std::chrono::microseconds(pick.between(0, 100)));
                if (!tasks.empty() && pick.chance(cancel_percent)) {
                    auto& t = tasks[static_cast<std::size_t>(
                        pick.between(0, static_cast<int>(tasks.size()) - 1))];
                    if (t.cancel()) {
                        ++cancelled_tasks;
                    }
                }
            }
            if (thread_closes) {
                co_await q.wait_closed();
            } else {
                co_await aio::sleep(close_at - std::chrono::steady_clock::now());
                q.close();
            }
            co_await aio::gather(aio::return_exceptions, tasks);
            for (auto& th : threads) {
                th.join(); // every blocked call was woken by close; consumers drain and leave
            }
            for (;;) {
                try {
                    int item = q.async().get_nowait();
                    gets[item].fetch_add(1);
                    ++drained;
                } catch (const aio::queue_shut_down&) {
                    break;
                }
            }
        });
        int put_count = 0;
        for (int i = 0; i < item_count; ++i) {
            int g = gets[i].load();
            if (put_ok[i].load()) {
                ++put_count;
                bad.expect(g == 1, "item " + std::to_string(i) + " put once, got " +
                                       std::to_string(g) + " time(s)");
            } else {
                bad.expect(g == 0, "item " + std::to_string(i) + " got without a put");
            }
        }
        bad.expect(put_count == thread_gets.load() + task_gets + drained, "items do not balance");
        items_put += static_cast<std::uint64_t>(put_count);
        by_threads += static_cast<std::uint64_t>(thread_gets.load());
        by_tasks += static_cast<std::uint64_t>(task_gets);
        drained_total += static_cast<std::uint64_t>(drained);
        closes_by_thread += thread_closes ? 1 : 0;
        return bad;
    }

    std::string summary() const {
        return std::to_string(items_put) + " items put, got by threads " +
               std::to_string(by_threads) + ", by tasks " + std::to_string(by_tasks) +
               ", drained after close " + std::to_string(drained_total) + "; " +
               std::to_string(closes_by_thread) + " rounds closed by a thread; " +
               std::to_string(cancelled_tasks) + " tasks cancelled mid-way";
    }
};

// ---------------------------------------------------------------------------------------------
// to_thread and run_in_executor (a pool of 8 threads) under wait_for with timeouts close to
// the jobs' durations.

struct executor_round {
    std::uint64_t jobs = 0, values = 0, errors = 0, timeouts = 0;

    aio_storm::violations operator()(std::uint64_t seed) {
        aio_storm::violations bad;
        rng r(seed);
        int count = r.between(16, 64);
        std::unique_ptr<std::atomic<int>[]> runs(new std::atomic<int>[count]());
        std::vector<int> outcome(static_cast<std::size_t>(count), -1);  // 0 value 1 error 2 timeout
        std::vector<bool> lazy(static_cast<std::size_t>(count), false); // to_thread
        std::vector<bool> failing(static_cast<std::size_t>(count), false);
        boost::asio::thread_pool pool(thread_count);
        aio_test::report_log log;
        aio_test::run([&]() -> aio::awaitable<void> {
            log.install(co_await aio::this_loop());
            auto one = [&](int i, int micros, int timeout_us, bool fails,
                           bool on_pool) -> aio::awaitable<void> {
                auto job = [&runs, i, micros, fails] {
                    runs[i].fetch_add(1);
                    std::this_thread::sleep_for(std::chrono::microseconds(micros));
                    if (fails) {
                        throw storm_error(i);
                    }
                    return i * 3;
                };
                try {
                    int v = 0;
                    if (on_pool) {
                        v = co_await aio::wait_for(aio::run_in_executor(pool, job),
                                                   std::chrono::microseconds(timeout_us));
                    } else {
                        v = co_await aio::wait_for(aio::to_thread(job),
                                                   std::chrono::microseconds(timeout_us));
                    }
                    outcome[static_cast<std::size_t>(i)] = 0;
                    bad.expect(!fails && v == i * 3, "a job returned a wrong value");
                } catch (const storm_error& e) {
                    outcome[static_cast<std::size_t>(i)] = 1;
                    bad.expect(fails && e.id == i, "a job threw a wrong error");
                } catch (const aio::timeout_error&) {
                    outcome[static_cast<std::size_t>(i)] = 2;
                }
            };
            std::vector<aio::task<void>> tasks;
            for (int i = 0; i < count; ++i) {
                int micros = r.between(0, 2000);
                int timeout_us = r.between(0, 4000);
                bool fails = r.chance(25);
                bool on_pool = r.chance(50);
                lazy[static_cast<std::size_t>(i)] = !on_pool;
                failing[static_cast<std::size_t>(i)] = fails;
                tasks.push_back(aio::create_task(one(i, micros, timeout_us, fails, on_pool)));
            }
            co_await aio::gather(tasks);
        });
        pool.join(); // run waited for the to_thread jobs; the pool's jobs end here
        for (int i = 0; i < count; ++i) {
            int o = outcome[static_cast<std::size_t>(i)];
            // to_thread is lazy: under a deadline already passed when wait_for starts it, it is
            // never submitted (asyncio's wait_for does not start the work either).
            bool never_started = lazy[static_cast<std::size_t>(i)] && o == 2;
            bad.expect(runs[i].load() == 1 || (never_started && runs[i].load() == 0),
                       "job " + std::to_string(i) + " ran " + std::to_string(runs[i].load()) +
                           " time(s)");
            bad.expect(o >= 0, "job " + std::to_string(i) + ": its await never ended");
            values += o == 0 ? 1 : 0;
            errors += o == 1 ? 1 : 0;
            timeouts += o == 2 ? 1 : 0;
        }
        // A job whose await timed out has its result or error dropped (documented), except
        // when the job failed just before the timeout cancelled its awaiter, which then never
        // saw the error: that error is reported once, as a future's nobody retrieved.
        std::vector<int> reported(static_cast<std::size_t>(count), 0);
        for (const auto& e : log.entries) {
            int id = -1;
            try {
                std::rethrow_exception(e.exception);
            } catch (const storm_error& err) {
                id = err.id;
            } catch (...) {
            }
            bool lost_to_timeout = e.message == "Future exception was never retrieved" && id >= 0 &&
                                   id < count && failing[static_cast<std::size_t>(id)] &&
                                   outcome[static_cast<std::size_t>(id)] == 2 &&
                                   ++reported[static_cast<std::size_t>(id)] == 1;
            if (!lost_to_timeout) {
                bad.add("unexpected report: " + e.message + ": " + aio::describe(e.exception));
            }
        }
        jobs += static_cast<std::uint64_t>(count);
        return bad;
    }

    std::string summary() const {
        return std::to_string(jobs) + " jobs (" + std::to_string(values) + " values, " +
               std::to_string(errors) + " errors, " + std::to_string(timeouts) +
               " timed out), each ran once (a to_thread under a deadline already passed: never)";
    }
};

} // namespace

TEST_CASE("storm: threads: 8 threads call_soon_threadsafe while the loop closes") {
    storm("storm: threads: 8 threads call_soon_threadsafe while the loop closes", 7000, 20,
          callbacks_round{});
}

TEST_CASE("storm: threads: 8 threads run_coroutine_threadsafe") {
    storm("storm: threads: 8 threads run_coroutine_threadsafe", 8000, 40, coroutines_round{});
}

TEST_CASE("storm: threads: thread_queue closed mid-way under 8 threads and tasks") {
    storm("storm: threads: thread_queue closed mid-way under 8 threads and tasks", 9000, 60,
          thread_queue_round{});
}

TEST_CASE("storm: threads: to_thread and run_in_executor under wait_for") {
    storm("storm: threads: to_thread and run_in_executor under wait_for", 10000, 60,
          executor_round{});
}

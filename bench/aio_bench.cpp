// aio_bench - the benchmark workloads of bench/peers/asyncio_bench.py, written twice: with aio
// (impl=aio) and directly on Boost.Asio (impl=raw-asio: co_spawn, experimental::channel,
// experimental::coro, steady_timer, thread_pool), so that one binary measures both aio and the
// floor it stands on. Each run prints the line the Python peers print:
//
//   workload=NAME n=N seconds=S rate=OPS_PER_S peak_rss_kb=KB impl=IMPL
//
//   aio_bench WORKLOAD [N] [--impl aio|raw-asio] [--pool THREADS]
//   aio_bench --list
//
// --pool sizes the executor workload's thread pool (both sides; default min(32, cores + 4)).
//
// The time covers the whole run, loop set-up and teardown included (as the peers time
// asyncio.run). Every workload checks its result, so a fast wrong answer fails instead of
// winning.
#include <aio/aio.hpp>
#include <aio/generator.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/experimental/coro.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using namespace std::chrono_literals;

namespace {

using count = long long;

void expect(bool ok, const char* what) {
    if (!ok) {
        throw std::runtime_error(std::string("wrong result: ") + what);
    }
}

count triangle(count n) {
    return n * (n - 1) / 2;
}

/// The size of the pool behind executor jobs, as Python's default ThreadPoolExecutor (and aio's
/// to_thread pool): min(32, cores + 4).
unsigned pool_threads() {
    return std::min(32u, std::max(1u, std::thread::hardware_concurrency()) + 4);
}

/// --pool THREADS: the executor workload runs its calls on a pool of that size (aio through
/// run_in_executor, raw Asio through its thread_pool) instead of the default one; 0: default.
unsigned executor_pool = 0;

count blocking(count i) {
    return i;
}

// ---------------------------------------------------------------------------------------------
// aio: the asyncio programs, line for line.

awaitable<count> work(count i) {
    co_return i;
}

awaitable<void> aio_spawn_gather(count n) {
    std::vector<aio::task<count>> tasks;
    tasks.reserve(static_cast<std::size_t>(n));
    for (count i = 0; i < n; ++i) {
        tasks.push_back(aio::create_task(work(i)));
    }
    auto results = co_await aio::gather(std::move(tasks));
    count sum = 0;
    for (count v : results) {
        sum += v;
    }
    expect(sum == triangle(n), "spawn_gather sum");
}

awaitable<void> aio_spawn_churn(count n) {
    count total = 0;
    std::vector<aio::task<count>> tasks;
    for (count base = 0; base < n; base += 100) {
        tasks.clear();
        for (count i = base; i < std::min(base + 100, n); ++i) {
            tasks.push_back(aio::create_task(work(i)));
        }
        for (count v : co_await aio::gather(tasks)) {
            total += v;
        }
    }
    expect(total == triangle(n), "spawn_churn sum");
}

awaitable<void> aio_producer(aio::queue<count>& q, count n) {
    for (count i = 0; i < n; ++i) {
        co_await q.put(i);
    }
}

awaitable<count> aio_consumer(aio::queue<count>& q, count n) {
    count total = 0;
    for (count i = 0; i < n; ++i) {
        total += co_await q.get();
    }
    co_return total;
}

awaitable<void> aio_queue_pingpong(count n) {
    aio::queue<count> q(64);
    auto [done, total] = co_await aio::gather(aio_producer(q, n), aio_consumer(q, n));
    expect(total == triangle(n), "queue_pingpong sum");
}

aio::generator<count> numbers(count n) {
    for (count i = 0; i < n; ++i) {
        co_yield i;
    }
}

awaitable<void> aio_async_gen(count n) {
    count total = 0;
    auto gen = numbers(n);
    while (auto v = co_await gen.next()) {
        total += *v;
    }
    expect(total == triangle(n), "async_gen sum");
}

awaitable<count> aio_executor_call(aio::semaphore& window, asio::thread_pool* pool, count i) {
    auto permit = co_await window.scoped();
    if (pool != nullptr) {
        co_return co_await aio::run_in_executor(*pool, blocking, i)();
    }
    co_return co_await aio::to_thread(blocking, i);
}

awaitable<void> aio_executor(count n) {
    aio::semaphore window(64);
    std::optional<asio::thread_pool> pool;
    if (executor_pool > 0) {
        pool.emplace(executor_pool);
    }
    std::vector<awaitable<count>> calls;
    calls.reserve(static_cast<std::size_t>(n));
    for (count i = 0; i < n; ++i) {
        calls.push_back(aio_executor_call(window, pool ? &*pool : nullptr, i));
    }
    count sum = 0;
    for (count v : co_await aio::gather(std::move(calls))) {
        sum += v;
    }
    expect(sum == triangle(n), "executor sum");
}

awaitable<void> sleeper() {
    co_await aio::sleep(10ms);
}

awaitable<void> aio_timers(count n) {
    std::vector<awaitable<void>> sleepers;
    sleepers.reserve(static_cast<std::size_t>(n));
    for (count i = 0; i < n; ++i) {
        sleepers.push_back(sleeper());
    }
    auto done = co_await aio::gather(std::move(sleepers));
    expect(static_cast<count>(done.size()) == n, "timers count");
}

awaitable<count> aio_waiter(aio::event& ev) {
    co_await ev.wait();
    co_return 1;
}

awaitable<void> aio_event_fanout(count n) {
    aio::event ev;
    std::vector<aio::task<count>> tasks;
    tasks.reserve(static_cast<std::size_t>(n));
    for (count i = 0; i < n; ++i) {
        tasks.push_back(aio::create_task(aio_waiter(ev)));
    }
    co_await aio::sleep(0s);
    ev.set();
    count sum = 0;
    for (count v : co_await aio::gather(std::move(tasks))) {
        sum += v;
    }
    expect(sum == n, "event_fanout sum");
}

/// Cleanups run by the shutdown workload's tasks; checked once run has returned.
count shutdown_cleanups = 0;

awaitable<void> parked() {
    co_await aio::finally(aio::sleep(1h), [] {
        ++shutdown_cleanups;
        return aio::sleep(0s); // a cleanup that awaits, as asyncio's finally may
    });
}

/// n tasks parked in a long sleep when main returns: run cancels every one and waits for it to
/// run its cleanup.
awaitable<void> aio_shutdown(count n) {
    for (count i = 0; i < n; ++i) {
        aio::create_task(parked());
    }
    co_await aio::sleep(0s); // let every task park
}

// ---------------------------------------------------------------------------------------------
// raw Asio: the same programs with what Asio itself offers. Asio has no gather, so a countdown
// (a timer that never expires, cancelled when the last child arrives) stands in for it; a
// child's exception ends the run, which is what gather's fail-fast would do here.

class countdown {
public:
    countdown(asio::any_io_executor ex, count n)
        : left_(n), timer_(ex, asio::steady_timer::time_point::max()) {}

    void arrive(std::exception_ptr e) {
        if (e) {
            std::rethrow_exception(e);
        }
        if (--left_ == 0) {
            timer_.cancel();
        }
    }
    awaitable<void> wait() {
        if (left_ > 0) {
            boost::system::error_code ec;
            co_await timer_.async_wait(asio::redirect_error(use_awaitable, ec));
        }
    }

private:
    count left_;
    asio::steady_timer timer_;
};

awaitable<void> raw_spawn_gather(count n) {
    auto ex = co_await asio::this_coro::executor;
    std::vector<count> results(static_cast<std::size_t>(n));
    countdown all(ex, n);
    for (count i = 0; i < n; ++i) {
        asio::co_spawn(ex, work(i), [&all, &results, i](std::exception_ptr e, count v) {
            results[static_cast<std::size_t>(i)] = v;
            all.arrive(e);
        });
    }
    co_await all.wait();
    count sum = 0;
    for (count v : results) {
        sum += v;
    }
    expect(sum == triangle(n), "spawn_gather sum");
}

awaitable<void> raw_spawn_churn(count n) {
    auto ex = co_await asio::this_coro::executor;
    count total = 0;
    std::vector<count> results;
    for (count base = 0; base < n; base += 100) {
        count size = std::min(base + 100, n) - base;
        results.assign(static_cast<std::size_t>(size), 0);
        countdown wave(ex, size);
        for (count k = 0; k < size; ++k) {
            asio::co_spawn(ex, work(base + k), [&wave, &results, k](std::exception_ptr e, count v) {
                results[static_cast<std::size_t>(k)] = v;
                wave.arrive(e);
            });
        }
        co_await wave.wait();
        for (count v : results) {
            total += v;
        }
    }
    expect(total == triangle(n), "spawn_churn sum");
}

using raw_channel = asio::experimental::channel<void(boost::system::error_code, count)>;

awaitable<void> raw_queue_pingpong(count n) {
    auto ex = co_await asio::this_coro::executor;
    raw_channel ch(ex, 64);
    count total = 0;
    countdown both(ex, 2);
    auto producer = [&]() -> awaitable<void> {
        for (count i = 0; i < n; ++i) {
            co_await ch.async_send(boost::system::error_code{}, i, use_awaitable);
        }
    };
    auto consumer = [&]() -> awaitable<void> {
        for (count i = 0; i < n; ++i) {
            total += co_await ch.async_receive(use_awaitable);
        }
    };
    auto arrive = [&both](std::exception_ptr e) { both.arrive(e); };
    asio::co_spawn(ex, producer(), arrive);
    asio::co_spawn(ex, consumer(), arrive);
    co_await both.wait();
    expect(total == triangle(n), "queue_pingpong sum");
}

asio::experimental::coro<count> raw_numbers(asio::any_io_executor, count n) {
    for (count i = 0; i < n; ++i) {
        co_yield i;
    }
}

awaitable<void> raw_async_gen(count n) {
    auto ex = co_await asio::this_coro::executor;
    auto gen = raw_numbers(ex, n);
    count total = 0;
    while (auto v = co_await gen.async_resume(use_awaitable)) {
        total += *v;
    }
    expect(total == triangle(n), "async_gen sum");
}

awaitable<count> raw_blocking_call(count i) {
    co_return blocking(i);
}

/// Asio's semaphore idiom: a channel of capacity 64 holds the permits taken; acquiring is a send
/// (it waits while 64 are out), releasing is a receive.
using raw_window = asio::experimental::channel<void(boost::system::error_code)>;

awaitable<count> raw_executor_call(raw_window& window, asio::thread_pool& pool, count i) {
    co_await window.async_send(boost::system::error_code{}, use_awaitable);
    count v = co_await asio::co_spawn(pool, raw_blocking_call(i), use_awaitable);
    window.try_receive([](boost::system::error_code) {});
    co_return v;
}

awaitable<void> raw_executor(count n) {
    auto ex = co_await asio::this_coro::executor;
    asio::thread_pool pool(executor_pool > 0 ? executor_pool : pool_threads());
    raw_window window(ex, 64);
    count sum = 0;
    countdown all(ex, n);
    for (count i = 0; i < n; ++i) {
        asio::co_spawn(ex, raw_executor_call(window, pool, i), [&](std::exception_ptr e, count v) {
            sum += v;
            all.arrive(e);
        });
    }
    co_await all.wait();
    pool.join();
    expect(sum == triangle(n), "executor sum");
}

awaitable<void> raw_sleeper() {
    asio::steady_timer timer(co_await asio::this_coro::executor, 10ms);
    co_await timer.async_wait(use_awaitable);
}

awaitable<void> raw_timers(count n) {
    auto ex = co_await asio::this_coro::executor;
    countdown all(ex, n);
    for (count i = 0; i < n; ++i) {
        asio::co_spawn(ex, raw_sleeper(), [&all](std::exception_ptr e) { all.arrive(e); });
    }
    co_await all.wait();
}

awaitable<count> raw_waiter(asio::steady_timer& ev) {
    boost::system::error_code ec;
    co_await ev.async_wait(asio::redirect_error(use_awaitable, ec));
    co_return 1;
}

awaitable<void> raw_event_fanout(count n) {
    auto ex = co_await asio::this_coro::executor;
    // Asio's event idiom: a timer that never expires; set() is cancel(), which wakes every waiter.
    asio::steady_timer ev(ex, asio::steady_timer::time_point::max());
    count sum = 0;
    countdown all(ex, n);
    for (count i = 0; i < n; ++i) {
        asio::co_spawn(ex, raw_waiter(ev), [&](std::exception_ptr e, count v) {
            sum += v;
            all.arrive(e);
        });
    }
    co_await asio::post(ex, use_awaitable);
    ev.cancel();
    co_await all.wait();
    expect(sum == n, "event_fanout sum");
}

awaitable<void> raw_parked() {
    asio::steady_timer timer(co_await asio::this_coro::executor, 1h);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    // The cleanup, awaiting as aio's does (Asio's cancellation is sticky: reset it first).
    co_await asio::this_coro::reset_cancellation_state();
    ++shutdown_cleanups;
    co_await asio::post(co_await asio::this_coro::executor, use_awaitable);
}

/// What aio::run does at the end, by hand: every coroutine gets its own cancellation signal;
/// once main's work is done, each is cancelled and waited for.
awaitable<void> raw_shutdown(count n) {
    auto ex = co_await asio::this_coro::executor;
    std::vector<asio::cancellation_signal> signals(static_cast<std::size_t>(n));
    countdown all(ex, n);
    for (auto& signal : signals) {
        asio::co_spawn(ex, raw_parked(),
                       asio::bind_cancellation_slot(
                           signal.slot(), [&all](std::exception_ptr e) { all.arrive(e); }));
    }
    co_await asio::post(ex, use_awaitable); // let every coroutine park
    for (auto& signal : signals) {
        signal.emit(asio::cancellation_type::terminal);
    }
    co_await all.wait();
}

// ---------------------------------------------------------------------------------------------

struct workload {
    count default_n;
    std::function<awaitable<void>(count)> with_aio;
    std::function<awaitable<void>(count)> with_raw_asio;
    /// What the workload leaves to check once the run has returned (nothing for most).
    std::function<bool(count)> after_run = [](count) { return true; };
};

const std::vector<std::pair<std::string, workload>>& workloads() {
    static const std::vector<std::pair<std::string, workload>> all = {
        {"spawn_gather", {200'000, aio_spawn_gather, raw_spawn_gather}},
        {"queue_pingpong", {1'000'000, aio_queue_pingpong, raw_queue_pingpong}},
        {"async_gen", {1'000'000, aio_async_gen, raw_async_gen}},
        {"executor", {20'000, aio_executor, raw_executor}},
        {"timers", {100'000, aio_timers, raw_timers}},
        {"timers_1m", {1'000'000, aio_timers, raw_timers}},
        {"event_fanout", {100'000, aio_event_fanout, raw_event_fanout}},
        {"spawn_churn", {1'000'000, aio_spawn_churn, raw_spawn_churn}},
        {"shutdown",
         {100'000, aio_shutdown, raw_shutdown, [](count n) { return shutdown_cleanups == n; }}},
    };
    return all;
}

void run_raw_asio(const std::function<awaitable<void>(count)>& fn, count n) {
    asio::io_context ctx(1);
    std::exception_ptr failure;
    asio::co_spawn(ctx, fn(n), [&](std::exception_ptr e) { failure = e; });
    ctx.run();
    if (failure) {
        std::rethrow_exception(failure);
    }
}

int usage(const char* argv0) {
    std::fprintf(
        stderr, "usage: %s WORKLOAD [N] [--impl aio|raw-asio] [--pool THREADS]\n       %s --list\n",
        argv0, argv0);
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    std::string impl = "aio";
    if (auto it = std::find(args.begin(), args.end(), "--impl"); it != args.end()) {
        if (it + 1 == args.end()) {
            return usage(argv[0]);
        }
        impl = *(it + 1);
        args.erase(it, it + 2);
    }
    if (auto it = std::find(args.begin(), args.end(), "--pool"); it != args.end()) {
        int threads = it + 1 == args.end() ? 0 : std::atoi((it + 1)->c_str());
        if (threads < 1) {
            return usage(argv[0]);
        }
        executor_pool = static_cast<unsigned>(threads);
        args.erase(it, it + 2);
    }
    if (args.empty()) {
        return usage(argv[0]);
    }
    if (args[0] == "--list") {
        for (const auto& [name, w] : workloads()) {
            std::printf("%s %lld\n", name.c_str(), w.default_n);
        }
        return 0;
    }
    auto found = std::find_if(workloads().begin(), workloads().end(),
                              [&](const auto& entry) { return entry.first == args[0]; });
    if (found == workloads().end() || args.size() > 2 || (impl != "aio" && impl != "raw-asio")) {
        std::fprintf(stderr,
                     "%s: unknown workload, implementation or extra argument; workloads:", argv[0]);
        for (const auto& entry : workloads()) {
            std::fprintf(stderr, " %s", entry.first.c_str());
        }
        std::fprintf(stderr, "\n");
        return usage(argv[0]);
    }
    const workload& w = found->second;
    count n = w.default_n;
    if (args.size() == 2) {
        char* end = nullptr;
        n = std::strtoll(args[1].c_str(), &end, 10);
        if (*end != '\0' || n < 1) {
            std::fprintf(stderr, "%s: N must be a positive integer, got '%s'\n", argv[0],
                         args[1].c_str());
            return 2;
        }
    }
    try {
        auto start = std::chrono::steady_clock::now();
        if (impl == "aio") {
            aio::run(w.with_aio(n));
        } else {
            run_raw_asio(w.with_raw_asio, n);
        }
        std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
        expect(w.after_run(n), "cleanups after the run");
        rusage usage{};
        getrusage(RUSAGE_SELF, &usage);
        std::printf("workload=%s n=%lld seconds=%.6f rate=%.1f peak_rss_kb=%ld impl=%s\n",
                    found->first.c_str(), n, took.count(), static_cast<double>(n) / took.count(),
                    usage.ru_maxrss, impl.c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s failed: %s\n", argv[0], found->first.c_str(), e.what());
        return 1;
    }
    return 0;
}

// Tests of aio/executor.hpp: run_in_executor, to_thread, call_soon_threadsafe,
// run_coroutine_threadsafe.
#include "fixtures.hpp"

#include <doctest/doctest.h>

#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
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

struct job_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Counts its copies, so a test can tell a moved argument from a copied one.
struct tracked {
    std::string text;
    int* copies;

    tracked(std::string t, int* c) : text(std::move(t)), copies(c) {}
    tracked(const tracked& o) : text(o.text), copies(o.copies) { ++*copies; }
    tracked(tracked&& o) noexcept : text(std::move(o.text)), copies(o.copies) {}
    tracked& operator=(const tracked&) = delete;
    tracked& operator=(tracked&&) = delete;
    ~tracked() = default;
};

aio::awaitable<int> add_on_loop(int a, int b, std::thread::id* ran_on) {
    co_await aio::sleep(0s);
    *ran_on = std::this_thread::get_id();
    co_return a + b;
}

aio::awaitable<int> fail_on_loop() {
    co_await aio::sleep(0s);
    throw std::domain_error("failed on the loop");
}

} // namespace

TEST_CASE("run_in_executor runs the function on the pool and returns its value on the loop") {
    boost::asio::thread_pool pool(2);
    std::thread::id loop_id;
    std::thread::id job_id;
    std::thread::id after_id;
    int product = 0;
    int next = 0;
    std::thread::id by_value_executor_job_id;
    aio_test::run([&]() -> aio::awaitable<void> {
        loop_id = std::this_thread::get_id();
        auto multiply = [&job_id](int a, int b) {
            job_id = std::this_thread::get_id();
            return a * b;
        };
        product = co_await aio::run_in_executor(pool, multiply, 6, 7)();
        after_id = std::this_thread::get_id();
        auto increment = [&by_value_executor_job_id](int a) {
            by_value_executor_job_id = std::this_thread::get_id();
            return a + 1;
        };
        next = co_await aio::run_in_executor(pool.get_executor(), increment, product)();
    });
    pool.join();
    CHECK(product == 42);
    CHECK(next == 43);
    CHECK(job_id != std::thread::id());
    CHECK(job_id != loop_id);
    CHECK(by_value_executor_job_id != std::thread::id());
    CHECK(by_value_executor_job_id != loop_id);
    CHECK(after_id == loop_id);
}

TEST_CASE("run_in_executor rethrows the exception of the function on the loop") {
    boost::asio::thread_pool pool(1);
    std::thread::id loop_id;
    std::thread::id caught_on;
    std::string what;
    std::string void_what;
    aio_test::run([&]() -> aio::awaitable<void> {
        loop_id = std::this_thread::get_id();
        auto failing = []() -> int { throw job_error("bad job"); };
        try {
            co_await aio::run_in_executor(pool, failing)();
        } catch (const job_error& e) {
            what = e.what();
            caught_on = std::this_thread::get_id();
        }
        auto failing_void = [] { throw std::invalid_argument("bad void job"); };
        try {
            co_await aio::to_thread(failing_void);
        } catch (const std::invalid_argument& e) {
            void_what = e.what();
        }
    });
    pool.join();
    CHECK(what == "bad job");
    CHECK(caught_on == loop_id);
    CHECK(void_what == "bad void job");
}

TEST_CASE("run_in_executor passes the arguments by value") {
    boost::asio::thread_pool pool(1);
    std::string original = "text";
    std::string returned;
    int copies = 0;
    std::string moved_text;
    int from_pointer = 0;
    bool pointer_moved = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto append = [](std::string& s) {
            s += " changed";
            return s;
        };
        returned = co_await aio::run_in_executor(pool, append, original)();

        tracked arg("moved in", &copies);
        auto read = [](const tracked& t) { return t.text; };
        moved_text = co_await aio::run_in_executor(pool, read, std::move(arg))();

        auto p = std::make_unique<int>(21);
        auto twice = [](std::unique_ptr<int>& q) { return *q * 2; };
        from_pointer = co_await aio::run_in_executor(pool, twice, std::move(p))();
        pointer_moved = p == nullptr;
    });
    pool.join();
    CHECK(original == "text");
    CHECK(returned == "text changed");
    CHECK(moved_text == "moved in");
    CHECK(copies == 0);
    CHECK(from_pointer == 42);
    CHECK(pointer_moved);
}

TEST_CASE("to_thread runs many calls concurrently on the default pool") {
    constexpr int calls = 64;
    constexpr int together = 4;
    std::latch all_started(together);
    std::thread::id loop_id;
    std::vector<int> results;
    std::vector<std::thread::id> thread_ids(calls);
    aio_test::run([&]() -> aio::awaitable<void> {
        loop_id = std::this_thread::get_id();
        auto square = [&](int i) {
            thread_ids[static_cast<std::size_t>(i)] = std::this_thread::get_id();
            if (i < together) {
                all_started.arrive_and_wait();
            }
            return i * i;
        };
        std::vector<aio::awaitable<int>> jobs;
        for (int i = 0; i < calls; ++i) {
            jobs.push_back(aio::to_thread(square, i));
        }
        results = co_await aio::gather(std::move(jobs));
    });
    REQUIRE(results.size() == calls);
    for (int i = 0; i < calls; ++i) {
        CHECK(results[static_cast<std::size_t>(i)] == i * i);
        CHECK(thread_ids[static_cast<std::size_t>(i)] != loop_id);
    }
}

TEST_CASE("cancelling a task awaiting to_thread stops the wait at once while the job runs on") {
    std::promise<void> gate;
    std::shared_future<void> gate_open = gate.get_future().share();
    std::atomic<bool> job_finished{false};
    bool saw_cancel = false;
    bool job_finished_at_cancel = true;
    bool returned_normally = false;
    int resumed = 0;
    bool task_done_before_release = false;
    int resumed_after_job = -1;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::loop lp = co_await aio::this_loop();
        aio::future<void> job_started;
        aio::future<void> job_gone;
        std::shared_ptr<void> on_job_destroyed(nullptr, [lp, &job_gone](std::nullptr_t) {
            aio::call_soon_threadsafe(lp, [&job_gone] { job_gone.set_result(); });
        });
        auto job = [&job_started, &job_finished, gate_open, lp,
                    guard = std::move(on_job_destroyed)] {
            aio::call_soon_threadsafe(lp, [&job_started] { job_started.set_result(); });
            gate_open.wait();
            job_finished = true;
            (void)guard;
        };
        aio::task<void> t =
            aio::create_task([&, job = std::move(job)]() mutable -> aio::awaitable<void> {
                try {
                    co_await aio::to_thread(std::move(job));
                    returned_normally = true;
                } catch (const aio::cancelled_error&) {
                    saw_cancel = true;
                    job_finished_at_cancel = job_finished.load();
                }
                ++resumed;
            });
        co_await job_started();
        t.cancel();
        co_await t.wait_done();
        task_done_before_release = t.done();
        gate.set_value();
        co_await job_gone();
        resumed_after_job = resumed;
    });
    CHECK(task_done_before_release);
    CHECK(saw_cancel);
    CHECK_FALSE(returned_normally);
    CHECK_FALSE(job_finished_at_cancel);
    CHECK(job_finished);
    CHECK(resumed_after_job == 1);
    CHECK(resumed == 1);
}

TEST_CASE("call_soon_threadsafe runs functions from another thread on the loop in order") {
    std::vector<int> order;
    std::thread::id loop_id;
    std::thread::id ran_on;
    int got = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::loop lp = co_await aio::this_loop();
        loop_id = std::this_thread::get_id();
        aio::future<int> done;
        std::thread poster([lp, &order, &done, &ran_on] {
            aio::call_soon_threadsafe(lp, [&order] { order.push_back(1); });
            lp.call_soon_threadsafe([&order] { order.push_back(2); });
            aio::call_soon_threadsafe(lp, [&order, &done, &ran_on] {
                order.push_back(3);
                ran_on = std::this_thread::get_id();
                done.set_result(30);
            });
        });
        got = co_await done();
        order.push_back(4);
        poster.join();
    });
    CHECK(got == 30);
    CHECK(order == std::vector<int>{1, 2, 3, 4});
    CHECK(ran_on == loop_id);
}

TEST_CASE("call_soon_threadsafe and run_coroutine_threadsafe on a closed loop throw") {
    std::optional<aio::loop> saved;
    bool open_while_running = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        saved = co_await aio::this_loop();
        open_while_running = !saved->is_closed();
    });
    REQUIRE(saved);
    CHECK(open_while_running);
    CHECK(saved->is_closed());
    bool ran = false;
    CHECK_THROWS_AS(aio::call_soon_threadsafe(*saved, [&ran] { ran = true; }), std::runtime_error);
    CHECK_FALSE(ran);
    CHECK_THROWS_AS(aio::run_coroutine_threadsafe(aio_test::sleep_forever(), *saved),
                    std::runtime_error);
}

TEST_CASE("run_coroutine_threadsafe returns the value of the coroutine") {
    int value = 0;
    std::thread::id loop_id;
    std::thread::id coroutine_ran_on;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::loop lp = co_await aio::this_loop();
        loop_id = std::this_thread::get_id();
        aio::future<void> got;
        std::thread caller([lp, &value, &got, &coroutine_ran_on] {
            std::future<int> f =
                aio::run_coroutine_threadsafe(add_on_loop(20, 22, &coroutine_ran_on), lp);
            value = f.get();
            aio::call_soon_threadsafe(lp, [&got] { got.set_result(); });
        });
        co_await got();
        caller.join();
    });
    CHECK(value == 42);
    CHECK(coroutine_ran_on == loop_id);
}

TEST_CASE("run_coroutine_threadsafe passes on the exception of the coroutine") {
    aio_test::report_log log;
    std::string what;
    bool other_exception = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::loop lp = co_await aio::this_loop();
        log.install(lp);
        aio::future<void> got;
        std::thread caller([lp, &what, &other_exception, &got] {
            std::future<int> f = aio::run_coroutine_threadsafe(fail_on_loop(), lp);
            try {
                f.get();
            } catch (const std::domain_error& e) {
                what = e.what();
            } catch (...) {
                other_exception = true;
            }
            aio::call_soon_threadsafe(lp, [&got] { got.set_result(); });
        });
        co_await got();
        caller.join();
    });
    CHECK(what == "failed on the loop");
    CHECK_FALSE(other_exception);
    CHECK(log.entries.empty());
}

TEST_CASE("run_coroutine_threadsafe gives cancelled_error when shutdown cancels the task") {
    std::future<int> result;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::loop lp = co_await aio::this_loop();
        aio::future<void> submitted;
        std::thread caller([lp, &result, &submitted] {
            result = aio::run_coroutine_threadsafe(aio_test::sleep_forever(), lp);
            aio::call_soon_threadsafe(lp, [&submitted] { submitted.set_result(); });
        });
        co_await submitted();
        caller.join();
        co_await aio::sleep(0s);
    });
    REQUIRE(result.valid());
    REQUIRE(result.wait_for(0s) == std::future_status::ready);
    CHECK_THROWS_AS(result.get(), aio::cancelled_error);
}

TEST_CASE("run_in_executor submits the call at once and returns its future") {
    boost::asio::thread_pool pool(1);
    bool ran_before_await = false;
    int value = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        std::promise<void> started;
        std::future<void> has_started = started.get_future();
        auto signal_start = [&started] {
            started.set_value();
            return 7;
        };
        auto job = aio::run_in_executor(pool, signal_start);
        // Blocks the loop's thread: only a call submitted already can end this wait (the bound
        // only turns a lazy run_in_executor into a failed check instead of a hung test).
        ran_before_await = has_started.wait_for(10s) == std::future_status::ready;
        value = co_await job();
    });
    pool.join();
    CHECK(ran_before_await);
    CHECK(value == 7);
}

TEST_CASE("run_in_executor with nullptr runs on the loop's default pool") {
    std::thread::id loop_id;
    std::thread::id job_id;
    bool same_pool = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::loop lp = co_await aio::this_loop();
        loop_id = std::this_thread::get_id();
        auto where = [] { return std::this_thread::get_id(); };
        job_id = co_await aio::run_in_executor(nullptr, where)();
        auto in_default_pool = [&lp] {
            return lp.default_executor().get_executor().running_in_this_thread();
        };
        same_pool = co_await aio::run_in_executor(nullptr, in_default_pool)();
    });
    CHECK(job_id != std::thread::id());
    CHECK(job_id != loop_id);
    CHECK(same_pool);
}

TEST_CASE("a run_in_executor call that is never awaited still runs, and run waits for it") {
    std::atomic<int> calls{0};
    bool returned_before_the_call_ended = false;
    std::latch release(1); // outlives run: the call may still be inside wait() when main ends
    aio_test::run([&]() -> aio::awaitable<void> {
        auto slow = [&calls, &release] {
            release.wait();
            ++calls;
        };
        aio::run_in_executor(nullptr, slow); // discarded: the call runs anyway
        returned_before_the_call_ended = calls == 0;
        release.count_down();
        co_return;
    });
    CHECK(returned_before_the_call_ended);
    CHECK(calls == 1);
}

TEST_CASE("to_thread is lazy: an awaitable destroyed unawaited never runs the call") {
    std::atomic<int> calls{0};
    int awaited = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto count = [&calls] { return ++calls; };
        { aio::awaitable<int> never = aio::to_thread(count); }
        aio::awaitable<int> later = aio::to_thread(count);
        CHECK(calls == 0);
        awaited = co_await std::move(later);
    });
    // run waited for every submitted call before it returned: only the awaited one was.
    CHECK(awaited == 1);
    CHECK(calls == 1);
}

TEST_CASE("the exception of a run_in_executor call never awaited is reported once it ends") {
    boost::asio::thread_pool pool(1);
    aio_test::report_log log;
    std::size_t while_running = 99;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(co_await aio::this_loop());
        std::latch gate(1);
        auto failing = [&gate]() -> int {
            gate.wait();
            throw job_error("nobody listens");
        };
        aio::run_in_executor(pool, failing); // discarded while the call runs
        while_running = log.entries.size();
        gate.count_down();
        auto noop = [] {};
        // One thread, first in first out: once the second call is back, the first one is too.
        co_await aio::run_in_executor(pool, noop)();
    });
    pool.join();
    CHECK(while_running == 0);
    REQUIRE(log.entries.size() == 1);
    CHECK(log.entries[0].message == "Future exception was never retrieved");
    CHECK(log.entries[0].task_name.rfind("Future-", 0) == 0);
    CHECK(aio_test::holds<job_error>(log.entries[0].exception));
    CHECK(aio::describe(log.entries[0].exception) == "nobody listens");
}

TEST_CASE("an unawaited job that already ended is reported when its future is destroyed") {
    boost::asio::thread_pool pool(1);
    aio_test::report_log log;
    std::size_t before = 99;
    std::size_t after = 99;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(co_await aio::this_loop());
        auto failing = []() -> int { throw job_error("ended unheard"); };
        auto noop = [] {};
        std::optional<aio::future<int>> job(aio::run_in_executor(pool, failing));
        // One thread, first in first out: once the second call is back, the first one is too.
        co_await aio::run_in_executor(pool, noop)();
        before = log.entries.size();
        job.reset();
        after = log.entries.size();
    });
    pool.join();
    CHECK(before == 0);
    CHECK(after == 1);
    REQUIRE(log.entries.size() == 1);
    CHECK(aio::describe(log.entries[0].exception) == "ended unheard");
}

TEST_CASE("a run_in_executor call whose await was cancelled is not reported when it fails") {
    boost::asio::thread_pool pool(1);
    aio_test::report_log log;
    bool saw_cancel = false;
    std::size_t reports = 99;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::loop lp = co_await aio::this_loop();
        log.install(lp);
        aio::future<void> started;
        std::latch gate(1);
        auto failing = [lp, &started, &gate]() -> int {
            aio::call_soon_threadsafe(lp, [&started] { started.set_result(); });
            gate.wait();
            throw job_error("after the cancel");
        };
        auto t = aio::create_task([&]() -> aio::awaitable<void> {
            try {
                co_await aio::run_in_executor(pool, failing)();
            } catch (const aio::cancelled_error&) {
                saw_cancel = true;
            }
        });
        co_await started();
        t.cancel();
        co_await t.wait_done();
        gate.count_down();
        auto noop = [] {};
        co_await aio::run_in_executor(pool, noop)(); // behind the failing call on the one thread
        reports = log.entries.size();
    });
    pool.join();
    CHECK(saw_cancel);
    CHECK(reports == 0);
    CHECK(log.entries.empty());
}

TEST_CASE("a call the executor destroys without running it makes the await throw "
          "cancelled_error") {
    aio_test::report_log log;
    int first = 0;
    bool second_cancelled = false;
    bool second_ran = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::loop lp = co_await aio::this_loop();
        log.install(lp);
        std::optional<boost::asio::thread_pool> pool(std::in_place, 1);
        aio::future<void> started;
        std::latch gate(1);
        auto blocking = [lp, &started, &gate] {
            aio::call_soon_threadsafe(lp, [&started] { started.set_result(); });
            gate.wait();
            return 1;
        };
        auto never_run = [&second_ran] { second_ran = true; };
        auto a = aio::run_in_executor(*pool, blocking);
        auto b = aio::run_in_executor(*pool, never_run); // queued behind `a` on the one thread
        co_await started();
        pool->stop(); // `b` will not run
        gate.count_down();
        pool.reset(); // joins the thread, then destroys `b` unrun
        first = co_await a();
        try {
            co_await b();
        } catch (const aio::cancelled_error&) {
            second_cancelled = true;
        }
    });
    CHECK(first == 1);
    CHECK(second_cancelled);
    CHECK_FALSE(second_ran);
    CHECK(log.entries.empty());
}

TEST_CASE("a run_in_executor future outlives a cancelled shielded await, and shutdown does not "
          "cancel it") {
    std::latch gate(1); // outlives run: the call may still be in wait() when main returns
    int cancellations = 0;
    int result = 0;
    bool done_before = true;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto blocking = [&gate] {
            gate.wait();
            return 42;
        };
        aio::future<int> job = aio::run_in_executor(nullptr, blocking);
        done_before = job.done();
        // A task that sees the call through: a cancellation stops one wait, not the job.
        aio::create_task([&, job]() -> aio::awaitable<void> {
            for (;;) {
                try {
                    result = co_await aio::shield(job);
                    co_return;
                } catch (const aio::cancelled_error&) {
                    ++cancellations;
                    gate.count_down(); // the demo's job may end now
                }
            }
        });
        co_await aio::sleep(0s); // the waiter parks in its shielded await
    });                          // main returns: run cancels the waiter and waits for it
    CHECK_FALSE(done_before);
    CHECK(cancellations == 1);
    CHECK(result == 42);
}

TEST_CASE("a run_in_executor future can be awaited by several tasks") {
    int a = 0;
    int b = 0;
    bool done_after = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto answer = [] { return 6 * 7; };
        aio::future<int> job = aio::run_in_executor(nullptr, answer);
        auto [x, y] = co_await aio::gather(job, job.as_task());
        a = x;
        b = y;
        done_after = job.done();
    });
    CHECK(a == 42);
    CHECK(b == 42);
    CHECK(done_after);
}

TEST_CASE("a call that fails while run's shutdown waits for it is reported once") {
    aio_test::report_log log;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(co_await aio::this_loop());
        auto failing = []() -> int {
            // Most runs: still working when main returns, so the call ends while shutdown
            // waits for executor jobs and its completion is never run on the loop.
            std::this_thread::sleep_for(100ms);
            throw job_error("failed during shutdown");
        };
        aio::run_in_executor(nullptr, failing); // fire and forget
        co_return;
    });
    REQUIRE(log.count("Future exception was never retrieved") == 1);
    CHECK(log.entries.size() == 1);
    CHECK(aio::describe(log.entries[0].exception) == "failed during shutdown");
}

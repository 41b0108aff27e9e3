// Tests for run_loops: n loops on n threads, stopped together by a signal, a failure or a
// cancellation; what it throws.
#include "fixtures.hpp"
#include "support.hpp"

#include <aio/run_loops.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstddef>
#include <latch>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

/// What the loops of one run_loops call saw, filled in from their threads.
struct loops_seen {
    explicit loops_seen(std::size_t n) : all_started(static_cast<std::ptrdiff_t>(n)) {}

    std::latch all_started; // every main has started
    std::mutex mutex;
    std::set<std::thread::id> threads;
    std::vector<std::size_t> indexes;
    std::atomic<int> cancelled{0};   // mains that saw cancelled_error
    std::atomic<int> cleaned_up{0};  // ... and then awaited their cleanup
    std::atomic<bool> failed{false}; // a main's checks failed

    void started(std::size_t index) {
        std::lock_guard lock(mutex);
        threads.insert(std::this_thread::get_id());
        indexes.push_back(index);
    }
};

/// A main that parks until cancelled, then awaits a cleanup and rethrows.
aio::awaitable<void> park_until_cancelled(loops_seen& seen) {
    std::exception_ptr caught = co_await aio_test::sleep_until_cancelled();
    if (caught) {
        ++seen.cancelled;
        co_await aio::sleep(0s); // a cleanup that awaits runs
        ++seen.cleaned_up;
        std::rethrow_exception(caught);
    }
}

/// Waits, off the loop, until every main has started.
aio::awaitable<void> wait_all_started(loops_seen& seen) {
    co_await aio::to_thread([&seen] { seen.all_started.wait(); });
}

} // namespace

TEST_CASE(
    "run_loops runs main once per loop, each loop on its own thread, loop 0 on the caller's") {
    loops_seen seen(3);
    auto main = [&seen](std::size_t index) -> aio::awaitable<void> {
        seen.started(index);
        seen.all_started.count_down();
        co_await wait_all_started(seen);
        co_await aio::sleep(0s); // the loop runs
    };
    aio::run_loops(3, main, aio::run_options{.handle_signals = false});
    std::vector<std::size_t> indexes = seen.indexes;
    std::sort(indexes.begin(), indexes.end());
    CHECK(indexes == std::vector<std::size_t>{0, 1, 2});
    CHECK(seen.threads.size() == 3);
    CHECK(seen.threads.count(std::this_thread::get_id()) == 1);
}

TEST_CASE("a main that returns does not stop the other loops") {
    std::atomic<bool> loop0_done{false};
    std::latch loop1_returned(1);
    auto main = [&](std::size_t index) -> aio::awaitable<void> {
        if (index == 1) {
            loop1_returned.count_down();
            co_return;
        }
        co_await aio::to_thread([&] { loop1_returned.wait(); });
        co_await aio::sleep(0s); // still running after loop 1's main returned
        loop0_done = true;
    };
    aio::run_loops(2, main, aio::run_options{.handle_signals = false});
    CHECK(loop0_done);
}

TEST_CASE("a main that fails cancels the others, which clean up, run_loops rethrows the error") {
    loops_seen seen(3);
    auto main = [&seen](std::size_t index) -> aio::awaitable<void> {
        seen.all_started.count_down();
        if (index == 1) {
            co_await wait_all_started(seen);
            throw std::runtime_error("loop 1 failed");
        }
        co_await park_until_cancelled(seen);
    };
    CHECK_THROWS_WITH_AS(aio::run_loops(3, main, aio::run_options{.handle_signals = false}),
                         "loop 1 failed", std::runtime_error);
    CHECK(seen.cancelled == 2);
    CHECK(seen.cleaned_up == 2);
}

TEST_CASE("a signal cancels every loop's main, run_loops throws interrupted_error") {
    loops_seen seen(3);
    auto main = [&seen](std::size_t index) -> aio::awaitable<void> {
        seen.all_started.count_down();
        if (index == 2) {
            co_await wait_all_started(seen);
            std::raise(SIGTERM); // from another loop's thread: loop 0 handles it
        }
        co_await park_until_cancelled(seen);
    };
    int signal_number = 0;
    try {
        aio::run_loops(3, main);
    } catch (const aio::interrupted_error& e) {
        signal_number = e.signal();
    }
    CHECK(signal_number == SIGTERM);
    CHECK(seen.cancelled == 3);
    CHECK(seen.cleaned_up == 3);
}

TEST_CASE("a main cancelled by its own code stops the others, run_loops throws cancelled_error") {
    loops_seen seen(2);
    auto main = [&seen](std::size_t index) -> aio::awaitable<void> {
        seen.all_started.count_down();
        if (index == 1) {
            co_await wait_all_started(seen);
            throw aio::cancelled_error();
        }
        co_await park_until_cancelled(seen);
    };
    CHECK_THROWS_AS(aio::run_loops(2, main, aio::run_options{.handle_signals = false}),
                    aio::cancelled_error);
    CHECK(seen.cancelled == 1);
}

TEST_CASE("a loop whose main ends before the others start stops them before their main runs") {
    std::atomic<int> ran{0};
    auto main = [&ran](std::size_t index) -> aio::awaitable<void> {
        ++ran;
        if (index == 0) {
            throw std::runtime_error("loop 0 failed at once");
        }
        co_await aio::sleep(1h);
    };
    // Loop 0's main may fail before loop 1's main starts, or after: loop 1 stops either way.
    CHECK_THROWS_WITH_AS(aio::run_loops(2, main, aio::run_options{.handle_signals = false}),
                         "loop 0 failed at once", std::runtime_error);
    CHECK(ran >= 1);
}

TEST_CASE("run_loops refuses zero loops and a call from inside a running loop") {
    auto main = [](std::size_t) -> aio::awaitable<void> { co_return; };
    CHECK_THROWS_AS(aio::run_loops(0, main), std::invalid_argument);
    bool refused = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        try {
            aio::run_loops(1, main);
        } catch (const std::logic_error&) {
            refused = true;
        }
        co_return;
    });
    CHECK(refused);
}

// Tests of aio/loop.hpp and aio/exception_handler.hpp: the loop handle, call_soon,
// call_soon_threadsafe, signal handlers, the reporter of lost errors, and the loop driven by
// hand (new_event_loop, run_until_complete, run_forever, stop, close, call_later, call_at,
// shutdown_default_executor, all_tasks(loop)).
#include "fixtures.hpp"

#include <aio/exception_handler.hpp>
#include <aio/loop.hpp>

#include <doctest/doctest.h>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

using aio_test::fail_after_yield;
using aio_test::join;
using aio_test::sleep_forever;
using aio_test::throws_as;

/// Redirects the process's stderr into a temporary file until finish() returns what was written.
class stderr_capture {
public:
    stderr_capture() : file_(std::tmpfile()), saved_(::dup(2)) {
        REQUIRE(file_ != nullptr);
        REQUIRE(saved_ >= 0);
        std::fflush(stderr);
        ::dup2(::fileno(file_), 2);
    }
    stderr_capture(const stderr_capture&) = delete;
    stderr_capture& operator=(const stderr_capture&) = delete;
    ~stderr_capture() {
        restore();
        std::fclose(file_);
    }

    std::string finish() {
        restore();
        std::string out;
        std::rewind(file_);
        char buf[256];
        std::size_t n = 0;
        while ((n = std::fread(buf, 1, sizeof buf, file_)) > 0) {
            out.append(buf, n);
        }
        return out;
    }

private:
    void restore() {
        if (saved_ >= 0) {
            std::fflush(stderr);
            ::dup2(saved_, 2);
            ::close(saved_);
            saved_ = -1;
        }
    }

    std::FILE* file_;
    int saved_;
};

/// A loop made by new_event_loop, closed when the test leaves (also through a failed REQUIRE).
struct manual_loop {
    aio::loop lp = aio::new_event_loop();
    manual_loop() = default;
    manual_loop(const manual_loop&) = delete;
    manual_loop& operator=(const manual_loop&) = delete;
    ~manual_loop() {
        if (!lp.is_closed()) {
            lp.close();
        }
    }
};

/// Parks until `go` is set, then returns `value`.
aio::awaitable<int> wait_then_return(aio::event& go, int value) {
    co_await go.wait();
    co_return value;
}

} // namespace

TEST_CASE("this_loop and get_running_loop give the same loop") {
    bool same_core = false;
    bool same_executor = false;
    bool same_in_other_task = false;
    bool same_as_runner = false;
    aio::runner r(aio::run_options{.handle_signals = false});
    auto outer = r.get_loop();
    r.run([&]() -> aio::awaitable<void> {
        aio::loop a = co_await aio::this_loop();
        aio::loop b = aio::get_running_loop();
        same_core = &a.core() == &b.core();
        same_executor = a.get_executor() == b.get_executor();
        same_as_runner = &a.core() == &outer.core();
        auto t = aio::create_task([&]() -> aio::awaitable<void> {
            aio::loop c = co_await aio::this_loop();
            same_in_other_task = &c.core() == &a.core();
        });
        co_await t();
    });
    CHECK(same_core);
    CHECK(same_executor);
    CHECK(same_as_runner);
    CHECK(same_in_other_task);
}

TEST_CASE("get_running_loop outside a running loop throws std::logic_error") {
    CHECK_THROWS_AS(aio::get_running_loop(), std::logic_error);
    aio_test::run([]() -> aio::awaitable<void> { co_return; });
    CHECK_THROWS_AS(aio::get_running_loop(), std::logic_error);
}

TEST_CASE("call_soon runs the callbacks later and in order") {
    std::vector<std::string> events;
    std::vector<std::string> at_call;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::loop lp = co_await aio::this_loop();
        lp.call_soon([&] { events.push_back("first"); });
        lp.call_soon([&] { events.push_back("second"); });
        events.push_back("caller");
        at_call = events;
        co_await aio::sleep(0s);
        events.push_back("caller again");
    });
    CHECK(join(at_call) == "caller");
    CHECK(join(events) == "caller|first|second|caller again");
}

TEST_CASE("call_soon_threadsafe from another thread runs the callback on the loop thread") {
    std::thread::id loop_thread;
    std::thread::id worker_thread;
    std::thread::id ran_on;
    std::thread::id free_function_ran_on;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::loop lp = co_await aio::this_loop();
        loop_thread = std::this_thread::get_id();
        aio::future<void> ran;
        aio::future<void> ran_free;
        std::thread worker([&, lp] {
            worker_thread = std::this_thread::get_id();
            lp.call_soon_threadsafe([&] {
                ran_on = std::this_thread::get_id();
                ran.set_result();
            });
            aio::call_soon_threadsafe(lp, [&] {
                free_function_ran_on = std::this_thread::get_id();
                ran_free.set_result();
            });
        });
        co_await ran();
        co_await ran_free();
        worker.join();
    });
    CHECK(ran_on == loop_thread);
    CHECK(free_function_ran_on == loop_thread);
    CHECK(worker_thread != std::thread::id());
    CHECK(worker_thread != loop_thread);
}

TEST_CASE("call_soon_threadsafe on a closed loop throws std::runtime_error") {
    std::optional<aio::loop> kept;
    bool closed_inside = true;
    bool ran = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        kept.emplace(co_await aio::this_loop());
        closed_inside = kept->is_closed();
    });
    REQUIRE(kept.has_value());
    CHECK_FALSE(closed_inside);
    CHECK(kept->is_closed());
    CHECK_THROWS_AS(kept->call_soon_threadsafe([&] { ran = true; }), std::runtime_error);
    CHECK_FALSE(ran);
}

TEST_CASE("add_signal_handler runs the handler on the loop when the signal arrives") {
    int calls = 0;
    int calls_right_after_raise = -1;
    std::thread::id loop_thread;
    std::thread::id ran_on;
    bool removed = false;
    bool removed_again = true;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::loop lp = co_await aio::this_loop();
        loop_thread = std::this_thread::get_id();
        aio::future<void> got;
        lp.add_signal_handler(SIGUSR1, [&] {
            ++calls;
            ran_on = std::this_thread::get_id();
            if (!got.done()) {
                got.set_result();
            }
        });
        std::raise(SIGUSR1);
        calls_right_after_raise = calls;
        co_await got();
        removed = lp.remove_signal_handler(SIGUSR1);
        removed_again = lp.remove_signal_handler(SIGUSR1);
    });
    CHECK(calls_right_after_raise == 0);
    CHECK(calls == 1);
    CHECK(ran_on == loop_thread);
    CHECK(removed);
    CHECK_FALSE(removed_again);
}

TEST_CASE("add_signal_handler replaces an earlier handler of the same signal") {
    int old_calls = 0;
    int new_calls = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::loop lp = co_await aio::this_loop();
        aio::future<void> got;
        lp.add_signal_handler(SIGUSR1, [&] { ++old_calls; });
        lp.add_signal_handler(SIGUSR1, [&] {
            ++new_calls;
            if (!got.done()) {
                got.set_result();
            }
        });
        std::raise(SIGUSR1);
        co_await got();
        co_await aio::sleep(0s);
        lp.remove_signal_handler(SIGUSR1);
    });
    CHECK(old_calls == 0);
    CHECK(new_calls == 1);
}

TEST_CASE("add_signal_handler rejects a number that is no signal's") {
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::loop lp = co_await aio::this_loop();
        CHECK_THROWS_AS(lp.add_signal_handler(0, [] {}), std::invalid_argument);
        CHECK_THROWS_AS(lp.add_signal_handler(-1, [] {}), std::invalid_argument);
        CHECK_THROWS_AS(lp.add_signal_handler(1 << 20, [] {}), std::invalid_argument);
        CHECK_FALSE(lp.remove_signal_handler(1 << 20));
        co_return;
    });
}

TEST_CASE("add_signal_handler for a signal that cannot be caught throws and changes nothing") {
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::loop lp = co_await aio::this_loop();
        CHECK_THROWS_AS(lp.add_signal_handler(SIGKILL, [] {}), boost::system::system_error);
        CHECK_FALSE(lp.remove_signal_handler(SIGKILL));
        co_return;
    });
}

TEST_CASE("set_exception_handler replaces the default reporter") {
    aio_test::report_log log;
    stderr_capture capture;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(co_await aio::this_loop());
        auto lost = aio::create_task(fail_after_yield("lost"), "lost-task");
        co_await lost.wait_done();
    });
    std::string written = capture.finish();
    CHECK(written.empty());
    REQUIRE(log.entries.size() == 1);
    CHECK(log.entries[0].message == "Task exception was never retrieved");
    CHECK(log.entries[0].task_name == "lost-task");
    CHECK(aio::describe(log.entries[0].exception) == "lost");
}

TEST_CASE("without a handler the loop reports a lost error on stderr") {
    stderr_capture capture;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto lost = aio::create_task(fail_after_yield("went missing"), "lost-task");
        co_await lost.wait_done();
    });
    std::string written = capture.finish();
    CHECK(written.find("Task exception was never retrieved") != std::string::npos);
    CHECK(written.find("lost-task") != std::string::npos);
    CHECK(written.find("went missing") != std::string::npos);
}

TEST_CASE("call_exception_handler reaches the installed handler") {
    aio_test::report_log log;
    std::size_t entries_right_after = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::loop lp = co_await aio::this_loop();
        log.install(lp);
        aio::exception_context ctx;
        ctx.message = "custom report";
        ctx.exception = std::make_exception_ptr(std::runtime_error("detail"));
        ctx.task_name = "worker";
        lp.call_exception_handler(ctx);
        entries_right_after = log.entries.size();
    });
    CHECK(entries_right_after == 1);
    REQUIRE(log.entries.size() == 1);
    CHECK(log.entries[0].message == "custom report");
    CHECK(log.entries[0].task_name == "worker");
    CHECK(aio::describe(log.entries[0].exception) == "detail");
}

TEST_CASE("an exception thrown by the exception handler goes to the default reporter") {
    stderr_capture capture;
    bool escaped = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::loop lp = co_await aio::this_loop();
        lp.set_exception_handler(
            [](const aio::exception_context&) { throw std::runtime_error("handler broke"); });
        try {
            aio::exception_context ctx;
            ctx.message = "custom report";
            lp.call_exception_handler(ctx);
        } catch (...) {
            escaped = true;
        }
        co_return;
    });
    std::string written = capture.finish();
    CHECK_FALSE(escaped);
    CHECK(written.find("exception in the exception handler") != std::string::npos);
    CHECK(written.find("handler broke") != std::string::npos);
}

TEST_CASE("the default exception handler writes one line per report on stderr") {
    stderr_capture capture;
    aio::default_exception_handler(
        {"something went wrong", std::make_exception_ptr(std::runtime_error("detail")), "Task-9"});
    aio::default_exception_handler({"bare message", nullptr, {}});
    std::string written = capture.finish();
    auto first_end = written.find('\n');
    REQUIRE(first_end != std::string::npos);
    std::string first = written.substr(0, first_end);
    std::string second = written.substr(first_end + 1);
    auto message_at = first.find("something went wrong");
    auto name_at = first.find("Task-9");
    auto detail_at = first.find("detail");
    CHECK(message_at != std::string::npos);
    CHECK(name_at != std::string::npos);
    CHECK(detail_at != std::string::npos);
    CHECK(message_at < name_at);
    CHECK(name_at < detail_at);
    CHECK(second.find("bare message") != std::string::npos);
    CHECK(second.find('\n') == second.size() - 1);
}

// --- the loop driven by hand ---

TEST_CASE("create_task on a loop that does not run yet starts the body once the loop runs") {
    manual_loop m;
    std::vector<std::string> events;
    auto t = m.lp.create_task(
        [&]() -> aio::awaitable<int> {
            events.push_back("body");
            co_return 5;
        },
        "first");
    events.push_back("created");
    CHECK_FALSE(t.done());
    CHECK(t.name() == "first");
    CHECK_FALSE(m.lp.is_running());
    CHECK(m.lp.run_until_complete(t) == 5);
    CHECK(join(events) == "created|body");
    CHECK(t.done());
}

TEST_CASE("run_until_complete takes a task, an awaitable or a callable and returns its value") {
    manual_loop m;
    auto t = m.lp.create_task([]() -> aio::awaitable<int> {
        co_await aio::sleep(0s);
        co_return 1;
    });
    CHECK(m.lp.run_until_complete(t) == 1);
    auto two = []() -> aio::awaitable<int> {
        co_await aio::sleep(0s);
        co_return 2;
    };
    CHECK(m.lp.run_until_complete(two()) == 2);
    std::string captured = "three";
    CHECK(m.lp.run_until_complete([captured]() -> aio::awaitable<std::string> {
        co_await aio::sleep(0s);
        co_return captured;
    }) == "three");
    bool ran = false;
    m.lp.run_until_complete([&]() -> aio::awaitable<void> {
        co_await aio::sleep(0s);
        ran = true;
    });
    CHECK(ran);
    auto moved = m.lp.run_until_complete(
        []() -> aio::awaitable<std::unique_ptr<int>> { co_return std::make_unique<int>(4); });
    REQUIRE(moved != nullptr);
    CHECK(*moved == 4);
}

TEST_CASE("run_until_complete rethrows the task's exception, which is then not reported") {
    aio_test::report_log log;
    manual_loop m;
    log.install(m.lp);
    auto t = m.lp.create_task(fail_after_yield("broken"), "failing");
    std::string message;
    try {
        m.lp.run_until_complete(t);
    } catch (const std::runtime_error& e) {
        message = e.what();
    }
    CHECK(message == "broken");
    CHECK(
        throws_as<std::runtime_error>([&] { m.lp.run_until_complete(fail_after_yield("again")); }));
    m.lp.close();
    CHECK(log.entries.empty());
}

TEST_CASE("run_until_complete of a cancelled task throws cancelled_error") {
    manual_loop m;
    SUBCASE("cancelled before the loop ran it: the body never runs") {
        bool ran = false;
        auto t = m.lp.create_task([&]() -> aio::awaitable<int> {
            ran = true;
            co_return 1;
        });
        CHECK(t.cancel());
        CHECK(throws_as<aio::cancelled_error>([&] { m.lp.run_until_complete(t); }));
        CHECK(t.cancelled());
        CHECK_FALSE(ran);
    }
    SUBCASE("cancelled by another task while parked") {
        auto sleeper = m.lp.create_task(sleep_forever());
        m.lp.create_task([&]() -> aio::awaitable<void> {
            co_await aio::sleep(0s);
            sleeper.cancel();
        });
        CHECK(throws_as<aio::cancelled_error>([&] { m.lp.run_until_complete(sleeper); }));
        CHECK(sleeper.cancelled());
    }
}

TEST_CASE("tasks other than the awaited one stay pending between runs and go on in the next") {
    manual_loop m;
    aio::event go;
    std::vector<std::string> events;
    auto background = m.lp.create_task([&]() -> aio::awaitable<int> {
        events.push_back("background started");
        int v = co_await wait_then_return(go, 7);
        events.push_back("background resumed");
        co_return v;
    });
    m.lp.run_until_complete([&]() -> aio::awaitable<void> {
        co_await aio::sleep(0s);
        events.push_back("first run");
    });
    CHECK(join(events) == "background started|first run");
    CHECK_FALSE(background.done());
    CHECK(aio::all_tasks(m.lp).size() == 1);
    int got = m.lp.run_until_complete([&]() -> aio::awaitable<int> {
        go.set();
        int v = co_await background();
        events.push_back("second run");
        co_return v;
    });
    CHECK(got == 7);
    CHECK(join(events) == "background started|first run|background resumed|second run");
    CHECK(aio::all_tasks(m.lp).empty());
}

TEST_CASE("run_forever runs until stop() is called from a task") {
    manual_loop m;
    std::vector<std::string> events;
    m.lp.create_task([&]() -> aio::awaitable<void> {
        events.push_back("task");
        co_await aio::sleep(1ms);
        events.push_back("stopping");
        m.lp.stop();
    });
    m.lp.run_forever();
    CHECK(join(events) == "task|stopping");
    CHECK_FALSE(m.lp.is_running());
}

TEST_CASE("stop() from a callback returns after that callback, what is queued runs next time") {
    manual_loop m;
    std::vector<std::string> events;
    m.lp.call_soon([&] {
        events.push_back("a");
        m.lp.stop();
    });
    m.lp.call_soon([&] { events.push_back("b"); });
    m.lp.run_forever();
    CHECK(join(events) == "a");
    m.lp.call_soon([&] {
        events.push_back("c");
        m.lp.stop();
    });
    m.lp.run_forever();
    CHECK(join(events) == "a|b|c");
}

TEST_CASE("stop() before run_forever runs what is ready once and returns") {
    manual_loop m;
    std::vector<std::string> events;
    m.lp.call_soon([&] { events.push_back("a"); });
    m.lp.call_soon([&] { events.push_back("b"); });
    m.lp.stop();
    m.lp.run_forever();
    CHECK(join(events) == "a|b");
    CHECK_FALSE(m.lp.is_running());
    // The request was used up: the next run goes on until its task is done.
    int v = m.lp.run_until_complete([]() -> aio::awaitable<int> {
        co_await aio::sleep(1ms);
        co_return 3;
    });
    CHECK(v == 3);
}

TEST_CASE("run_until_complete ended early by stop() throws std::runtime_error") {
    manual_loop m;
    aio::event go;
    auto waiting = m.lp.create_task(wait_then_return(go, 9));
    m.lp.create_task([&]() -> aio::awaitable<void> {
        co_await aio::sleep(0s);
        m.lp.stop();
    });
    CHECK(throws_as<std::runtime_error>([&] { m.lp.run_until_complete(waiting); }));
    CHECK_FALSE(waiting.done());
    CHECK_FALSE(m.lp.is_running());
    // The task is still there, and a later run finishes it.
    int v = m.lp.run_until_complete([&]() -> aio::awaitable<int> {
        go.set();
        co_return co_await waiting();
    });
    CHECK(v == 9);
}

TEST_CASE("a task that calls stop() as it ends does not stop the next run") {
    manual_loop m;
    int first = m.lp.run_until_complete([&]() -> aio::awaitable<int> {
        m.lp.stop();
        co_return 1;
    });
    CHECK(first == 1);
    int second = m.lp.run_until_complete([]() -> aio::awaitable<int> {
        co_await aio::sleep(1ms);
        co_return 2;
    });
    CHECK(second == 2);
}

TEST_CASE("is_running is true inside the loop and false outside") {
    manual_loop m;
    CHECK_FALSE(m.lp.is_running());
    bool inside = false;
    bool in_callback = false;
    m.lp.call_soon([&] { in_callback = m.lp.is_running(); });
    m.lp.run_until_complete([&]() -> aio::awaitable<void> {
        co_await aio::sleep(0s);
        inside = m.lp.is_running();
    });
    CHECK(inside);
    CHECK(in_callback);
    CHECK_FALSE(m.lp.is_running());
    CHECK(throws_as<std::runtime_error>([&] { m.lp.run_until_complete(fail_after_yield("x")); }));
    CHECK_FALSE(m.lp.is_running());
}

TEST_CASE("running the loop again from inside it throws std::logic_error, the run goes on") {
    manual_loop m;
    bool nested_forever = false;
    bool nested_until = false;
    auto inner = m.lp.create_task([]() -> aio::awaitable<int> {
        co_await aio::sleep(1ms);
        co_return 5;
    });
    int got = m.lp.run_until_complete([&]() -> aio::awaitable<int> {
        nested_forever = throws_as<std::logic_error>([&] { m.lp.run_forever(); });
        nested_until = throws_as<std::logic_error>([&] { m.lp.run_until_complete(inner); });
        // inner ends during this run: the refused call above must not stop it.
        co_await inner.wait_done();
        co_await aio::sleep(1ms);
        co_return 6;
    });
    CHECK(nested_forever);
    CHECK(nested_until);
    CHECK(got == 6);
    CHECK(m.lp.run_until_complete(inner) == 5);
}

TEST_CASE("running a loop while another loop runs on this thread throws std::logic_error") {
    manual_loop other;
    bool refused = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        refused = throws_as<std::logic_error>([&] { other.lp.run_forever(); });
        co_return;
    });
    CHECK(refused);
    CHECK(other.lp.run_until_complete([]() -> aio::awaitable<int> { co_return 1; }) == 1);
}

TEST_CASE("run_until_complete of a pending task of another loop throws std::invalid_argument") {
    manual_loop a;
    manual_loop b;
    auto of_b = b.lp.create_task([]() -> aio::awaitable<int> { co_return 2; });
    CHECK(throws_as<std::invalid_argument>([&] { a.lp.run_until_complete(of_b); }));
    CHECK(b.lp.run_until_complete(of_b) == 2);
}

TEST_CASE("close with no pending tasks closes the loop for good") {
    aio_test::report_log log;
    manual_loop m;
    log.install(m.lp);
    CHECK(m.lp.run_until_complete([]() -> aio::awaitable<int> { co_return 1; }) == 1);
    CHECK_FALSE(m.lp.is_closed());
    m.lp.close();
    CHECK(m.lp.is_closed());
    m.lp.close(); // idempotent
    CHECK(m.lp.is_closed());
    auto body = []() -> aio::awaitable<int> { co_return 1; };
    CHECK(throws_as<std::logic_error>([&] { m.lp.create_task(body); }));
    CHECK(throws_as<std::logic_error>([&] { m.lp.run_until_complete(body); }));
    CHECK(throws_as<std::logic_error>([&] { m.lp.run_forever(); }));
    CHECK(throws_as<std::logic_error>([&] { m.lp.call_soon([] {}); }));
    CHECK(throws_as<std::logic_error>([&] { m.lp.call_later(1ms, [] {}); }));
    CHECK(throws_as<std::logic_error>([&] { m.lp.call_at(m.lp.time(), [] {}); }));
    CHECK(throws_as<std::logic_error>([&] { m.lp.get_executor(); }));
    CHECK(throws_as<std::runtime_error>([&] { m.lp.call_soon_threadsafe([] {}); }));
    CHECK(log.entries.empty());
}

TEST_CASE("a loop that never ran closes cleanly") {
    auto lp = aio::new_event_loop();
    lp.call_soon([] {});
    lp.close();
    CHECK(lp.is_closed());
}

TEST_CASE("close with tasks still pending reports each one and abandons it") {
    aio_test::report_log log;
    manual_loop m;
    log.install(m.lp);
    std::vector<std::string> events;
    m.lp.create_task(
        [&]() -> aio::awaitable<void> {
            events.push_back("parked");
            co_await aio::sleep(1h);
            events.push_back("resumed");
        },
        "parked-task");
    m.lp.run_until_complete([]() -> aio::awaitable<void> { co_await aio::sleep(0s); });
    m.lp.create_task(
        [&]() -> aio::awaitable<void> {
            events.push_back("never started");
            co_return;
        },
        "unstarted-task");
    m.lp.close();
    CHECK(m.lp.is_closed());
    CHECK(join(events) == "parked");
    REQUIRE(log.entries.size() == 2);
    CHECK(log.entries[0].message == "Task was abandoned pending when its loop closed");
    CHECK(log.entries[0].task_name == "parked-task");
    CHECK(log.entries[1].message == "Task was abandoned pending when its loop closed");
    CHECK(log.entries[1].task_name == "unstarted-task");
    CHECK(throws_as<std::logic_error>([&] { m.lp.run_forever(); }));
}

TEST_CASE("close while the loop runs throws std::logic_error") {
    manual_loop m;
    bool refused = false;
    bool closed_inside = true;
    m.lp.run_until_complete([&]() -> aio::awaitable<void> {
        refused = throws_as<std::logic_error>([&] { m.lp.close(); });
        closed_inside = m.lp.is_closed();
        co_return;
    });
    CHECK(refused);
    CHECK_FALSE(closed_inside);
    CHECK_FALSE(m.lp.is_closed());
}

TEST_CASE("call_later and call_at run their callbacks in the order they are due") {
    manual_loop m;
    std::vector<std::string> events;
    auto start = m.lp.time();
    aio::timer_handle c = m.lp.call_later(30ms, [&] {
        events.push_back("c");
        m.lp.stop();
    });
    aio::timer_handle a = m.lp.call_at(start + 10ms, [&] { events.push_back("a"); });
    aio::timer_handle b = m.lp.call_later(20ms, [&] { events.push_back("b"); });
    CHECK(a.when() == start + 10ms);
    CHECK(c.when() >= start + 30ms);
    CHECK(b.when() < c.when());
    m.lp.call_soon([&] { events.push_back("soon"); });
    m.lp.run_forever();
    CHECK(join(events) == "soon|a|b|c");
    CHECK(m.lp.time() - start >= 30ms);
    CHECK_FALSE(a.cancelled());
}

TEST_CASE("call_at with a time already passed runs the callback soon") {
    manual_loop m;
    bool ran = false;
    m.lp.call_at(m.lp.time() - 1h, [&] {
        ran = true;
        m.lp.stop();
    });
    m.lp.run_forever();
    CHECK(ran);
}

TEST_CASE("a cancelled timer_handle never runs its callback") {
    manual_loop m;
    std::vector<std::string> events;
    aio::timer_handle never = m.lp.call_later(1ms, [&] { events.push_back("never"); });
    aio::timer_handle also_never = m.lp.call_later(1h, [&] { events.push_back("also never"); });
    aio::timer_handle copy = also_never;
    never.cancel();
    CHECK(never.cancelled());
    m.lp.call_later(5ms, [&] {
        events.push_back("canceller");
        copy.cancel(); // through a copy, from a callback of the same loop
    });
    m.lp.call_later(10ms, [&] {
        events.push_back("last");
        m.lp.stop();
    });
    m.lp.run_forever();
    CHECK(join(events) == "canceller|last");
    CHECK(also_never.cancelled());
    aio::timer_handle empty;
    empty.cancel();
    CHECK_FALSE(empty.cancelled());
    CHECK(empty.when() == std::chrono::steady_clock::time_point{});
}

TEST_CASE("cancelling a timer_handle after its callback ran only marks it cancelled") {
    manual_loop m;
    int runs = 0;
    aio::timer_handle h = m.lp.call_later(0s, [&] {
        ++runs;
        m.lp.stop();
    });
    m.lp.run_forever();
    CHECK(runs == 1);
    h.cancel();
    CHECK(h.cancelled());
    CHECK(runs == 1);
}

TEST_CASE("a timer_handle may outlive its loop") {
    aio::timer_handle h;
    bool ran = false;
    {
        auto lp = aio::new_event_loop();
        h = lp.call_later(1h, [&] { ran = true; });
        lp.close();
    }
    h.cancel();
    CHECK(h.cancelled());
    CHECK_FALSE(ran);
}

TEST_CASE("an exception in a call_soon, call_later or call_at callback is reported") {
    aio_test::report_log log;
    manual_loop m;
    log.install(m.lp);
    std::vector<std::string> events;
    m.lp.call_soon([] { throw std::runtime_error("from call_soon"); });
    m.lp.call_later(1ms, [] { throw std::runtime_error("from call_later"); });
    m.lp.call_at(m.lp.time() + 2ms, [] { throw std::runtime_error("from call_at"); });
    m.lp.call_later(5ms, [&] {
        events.push_back("still running");
        m.lp.stop();
    });
    m.lp.run_forever();
    CHECK(join(events) == "still running");
    REQUIRE(log.entries.size() == 3);
    CHECK(log.entries[0].message == "exception in a callback");
    CHECK(aio::describe(log.entries[0].exception) == "from call_soon");
    CHECK(aio::describe(log.entries[1].exception) == "from call_later");
    CHECK(aio::describe(log.entries[2].exception) == "from call_at");
}

TEST_CASE("time() is monotonic and advances with the loop's timers") {
    manual_loop m;
    auto t0 = m.lp.time();
    auto t1 = m.lp.time();
    CHECK(t1 >= t0);
    auto inside = m.lp.run_until_complete([&]() -> aio::awaitable<std::chrono::nanoseconds> {
        co_await aio::sleep(10ms);
        co_return m.lp.time() - t1;
    });
    CHECK(inside >= 10ms);
    CHECK(m.lp.time() - t0 >= inside);
}

TEST_CASE("shutdown_default_executor waits for a running to_thread job, to_thread works after") {
    manual_loop m;
    std::promise<void> started;
    std::promise<void> release;
    std::shared_future<void> started_f = started.get_future().share();
    std::shared_future<void> release_f = release.get_future().share();
    bool job_finished = false;
    std::vector<std::string> events;
    m.lp.run_until_complete([&]() -> aio::awaitable<void> {
        auto job = aio::create_task(aio::to_thread([&] {
            started.set_value();
            release_f.wait();
            job_finished = true;
            return 1;
        }));
        co_await aio::to_thread([&] { started_f.wait(); });
        auto shutdown = aio::create_task(m.lp.shutdown_default_executor());
        for (int i = 0; i < 5; ++i) {
            co_await aio::sleep(0s);
        }
        CHECK_FALSE(shutdown.done()); // the job holds it until released
        release.set_value();
        co_await shutdown();
        CHECK(job_finished);
        events.push_back("job " + std::to_string(co_await job()));
        int after = co_await aio::to_thread([] { return 2; });
        events.push_back("later job " + std::to_string(after));
        co_await m.lp.shutdown_default_executor();
        co_await m.lp.shutdown_default_executor(); // no pool now: returns at once
        events.push_back("shut down twice");
    });
    CHECK(join(events) == "job 1|later job 2|shut down twice");
}

TEST_CASE("all_tasks(loop) gives the pending tasks of a loop that does not run") {
    manual_loop m;
    auto first = m.lp.create_task([]() -> aio::awaitable<int> { co_return 1; }, "first");
    auto second = m.lp.create_task(sleep_forever(), "second");
    std::vector<aio::any_task> before = aio::all_tasks(m.lp);
    REQUIRE(before.size() == 2);
    CHECK(before[0] == first);
    CHECK(before[1] == second);
    CHECK(m.lp.run_until_complete(first) == 1);
    std::vector<aio::any_task> after = aio::all_tasks(m.lp);
    REQUIRE(after.size() == 1);
    CHECK(after[0].name() == "second");
    second.cancel();
    CHECK(throws_as<aio::cancelled_error>([&] { m.lp.run_until_complete(second); }));
    CHECK(aio::all_tasks(m.lp).empty());
}

TEST_CASE("the manual shutdown recipe: cancel the pending tasks, gather them, close") {
    aio_test::report_log log;
    manual_loop m;
    log.install(m.lp);
    std::vector<std::string> events;
    int ticks = 0;
    aio::event ticked;
    m.lp.create_task(
        [&]() -> aio::awaitable<void> {
            for (;;) {
                co_await aio::sleep(1ms);
                ++ticks;
                ticked.set();
            }
        },
        "ticker");
    m.lp.create_task(
        [&]() -> aio::awaitable<int> {
            co_await aio_test::sleep_until_cancelled();
            co_await aio::sleep(1ms); // cleanup that awaits
            events.push_back("cleaned up");
            co_return 42; // swallows the cancellation
        },
        "stubborn");
    m.lp.run_until_complete([&]() -> aio::awaitable<void> { co_await ticked.wait(); });
    CHECK(ticks >= 1);

    std::vector<aio::any_task> pending = aio::all_tasks(m.lp);
    REQUIRE(pending.size() == 2);
    for (aio::any_task& t : pending) {
        t.cancel();
    }
    auto results = m.lp.run_until_complete(aio::gather(aio::return_exceptions, pending));
    REQUIRE(results.size() == 2);
    CHECK(results[0].cancelled());
    CHECK(results[1].has_value());
    CHECK(join(events) == "cleaned up");
    CHECK(aio::all_tasks(m.lp).empty());
    m.lp.close();
    CHECK(m.lp.is_closed());
    CHECK(log.entries.empty());
}

TEST_CASE("a signal handler may remove or replace itself while it runs") {
    std::vector<std::string> events;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::loop lp = co_await aio::this_loop();
        aio::future<void> first;
        aio::future<void> second;
        std::string text = "a capture long enough to live on the heap, read after the removal";
        lp.add_signal_handler(SIGUSR1, [&, lp, text] {
            lp.add_signal_handler(SIGUSR1, [&events, &second, lp] {
                events.push_back("replacement");
                lp.remove_signal_handler(SIGUSR1);
                second.set_result();
            });
            events.push_back(text.substr(0, 9)); // the captures are still alive
            first.set_result();
        });
        std::raise(SIGUSR1);
        co_await first();
        std::raise(SIGUSR1);
        co_await second();
    });
    CHECK(join(events) == "a capture|replacement");
}

TEST_CASE(
    "stop() before run_forever runs what is queued once, even with a task that keeps yielding") {
    manual_loop m;
    int yields = 0;
    aio::task<void> spinner = m.lp.create_task([&]() -> aio::awaitable<void> {
        for (;;) {
            ++yields;
            co_await aio::sleep(0s);
        }
    });
    m.lp.stop();
    m.lp.run_forever();
    CHECK(yields == 1);
    spinner.cancel();
    CHECK_THROWS_AS(m.lp.run_until_complete(spinner), aio::cancelled_error);
}

TEST_CASE("a signal handler that removes itself and then throws is reported") {
    aio_test::report_log log;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::loop lp = co_await aio::this_loop();
        log.install(lp);
        aio::future<void> ran;
        lp.add_signal_handler(SIGUSR1, [lp, ran]() mutable {
            ran.set_result();
            lp.remove_signal_handler(SIGUSR1);
            throw std::runtime_error("after removing itself");
        });
        std::raise(SIGUSR1);
        co_await ran();
        co_await aio::sleep(0s);
    });
    REQUIRE(log.entries.size() == 1);
    CHECK(log.entries[0].message == "exception in a signal handler");
    CHECK(aio::describe(log.entries[0].exception) == "after removing itself");
}

TEST_CASE("an Asio signal_set made before a loop's handler keeps receiving the signal") {
    int aio_calls = 0;
    int asio_calls = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::loop lp = co_await aio::this_loop();
        boost::asio::signal_set set(co_await boost::asio::this_coro::executor, SIGUSR1);
        aio::future<void> got;
        lp.add_signal_handler(SIGUSR1, [&] {
            ++aio_calls;
            if (!got.done()) {
                got.set_result();
            }
        });
        std::raise(SIGUSR1);
        int signum = co_await set.async_wait(boost::asio::use_awaitable);
        CHECK(signum == SIGUSR1);
        ++asio_calls;
        co_await got();
        CHECK(lp.remove_signal_handler(SIGUSR1));
        std::raise(SIGUSR1); // the signal_set's handler is back in place: it alone sees this one
        signum = co_await set.async_wait(boost::asio::use_awaitable);
        CHECK(signum == SIGUSR1);
        ++asio_calls;
    });
    CHECK(aio_calls == 1);
    CHECK(asio_calls == 2);
}

TEST_CASE("every loop with a handler for a signal runs it, each on its own thread") {
    std::promise<void> other_ready;
    std::future<void> other_handles = other_ready.get_future();
    std::thread::id other_ran_on;
    std::thread other([&] {
        aio_test::run([&]() -> aio::awaitable<void> {
            aio::loop lp = co_await aio::this_loop();
            aio::future<void> got;
            lp.add_signal_handler(SIGUSR2, [&] {
                other_ran_on = std::this_thread::get_id();
                if (!got.done()) {
                    got.set_result();
                }
            });
            other_ready.set_value();
            co_await got();
            lp.remove_signal_handler(SIGUSR2);
        });
    });
    std::thread::id other_id = other.get_id();
    std::thread::id ran_on;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::loop lp = co_await aio::this_loop();
        aio::future<void> got;
        lp.add_signal_handler(SIGUSR2, [&] {
            ran_on = std::this_thread::get_id();
            if (!got.done()) {
                got.set_result();
            }
        });
        co_await aio::to_thread([&] { other_handles.wait(); });
        std::raise(SIGUSR2);
        co_await got();
        lp.remove_signal_handler(SIGUSR2);
    });
    other.join();
    CHECK(ran_on == std::this_thread::get_id());
    CHECK(other_ran_on == other_id);
}

TEST_CASE("a loop dropped without close() reports its pending tasks and leaks nothing") {
    aio_test::report_log log;
    bool started = false;
    {
        aio::loop lp = aio::new_event_loop();
        log.install(lp);
        lp.create_task(
            [&]() -> aio::awaitable<void> {
                started = true;
                co_return;
            },
            "never-run");
    }
    CHECK_FALSE(started);
    REQUIRE(log.entries.size() == 1);
    CHECK(log.entries[0].message == "Task was abandoned pending when its loop closed");
    CHECK(log.entries[0].task_name == "never-run");
}

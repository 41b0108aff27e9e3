// Tests of aio/loop.hpp and aio/exception_handler.hpp: the loop handle, call_soon,
// call_soon_threadsafe, signal handlers and the reporter of lost errors.
#include "support.hpp"

#include <aio/exception_handler.hpp>
#include <aio/loop.hpp>

#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

using aio_test::join;

aio::awaitable<int> fail_with(std::string message) {
    co_await aio::sleep(0s);
    throw std::runtime_error(message);
}

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

TEST_CASE("set_exception_handler replaces the default reporter") {
    aio_test::report_log log;
    stderr_capture capture;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(co_await aio::this_loop());
        auto lost = aio::create_task(fail_with("lost"), "lost-task");
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
        auto lost = aio::create_task(fail_with("went missing"), "lost-task");
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

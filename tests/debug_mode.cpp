// Debug mode (asyncio's loop.set_debug): the switch, lost errors with their task's creation
// site, slow steps, and loop-affine calls made from another thread.
#include "support.hpp"

#include <aio/aio.hpp>
#include <aio/detail/monitor_commands.hpp>
#include <aio/streams.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

aio::awaitable<void> fail_soon(std::string what) {
    co_await aio::sleep(0s);
    throw std::runtime_error(what);
}

/// Holds the loop for three times its slow_callback_duration (a long block against a tiny
/// threshold: reported whatever the machine's speed).
aio::awaitable<void> block_loop() {
    aio::loop lp = co_await aio::this_loop();
    co_await aio::sleep(0s);
    std::this_thread::sleep_for(lp.slow_callback_duration() * 3);
}

/// Runs `fn` on a thread of its own and returns what it threw, as text ("" if nothing).
template <class F>
std::string thrown_on_other_thread(F fn) {
    std::string what;
    bool logic_error = false;
    std::thread t([&] {
        try {
            fn();
        } catch (const std::logic_error& e) {
            logic_error = true;
            what = e.what();
        } catch (...) {
            what = "another exception";
        }
    });
    t.join();
    CHECK(logic_error);
    return what;
}

bool mentions(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("debug mode: off by default, on with run_options::debug, set_debug or AIO_DEBUG") {
    aio::loop plain = aio::new_event_loop();
    CHECK_FALSE(plain.get_debug());
    CHECK(plain.slow_callback_duration() == std::chrono::milliseconds(100));
    plain.set_debug(true);
    CHECK(plain.get_debug());
    plain.set_slow_callback_duration(5ms);
    CHECK(plain.slow_callback_duration() == std::chrono::milliseconds(5));
    plain.set_debug(false);
    CHECK_FALSE(plain.get_debug());
    plain.close();

    bool seen = false;
    aio::run([&]() -> aio::awaitable<void> { seen = (co_await aio::this_loop()).get_debug(); },
             aio::run_options{.handle_signals = false, .debug = true});
    CHECK(seen);

    ::setenv("AIO_DEBUG", "1", 1);
    aio::run([&]() -> aio::awaitable<void> { seen = (co_await aio::this_loop()).get_debug(); },
             aio::run_options{.handle_signals = false});
    ::unsetenv("AIO_DEBUG");
    CHECK(seen);

    ::setenv("AIO_DEBUG", "0", 1);
    aio::run([&]() -> aio::awaitable<void> { seen = (co_await aio::this_loop()).get_debug(); },
             aio::run_options{.handle_signals = false});
    ::unsetenv("AIO_DEBUG");
    CHECK_FALSE(seen);
}

TEST_CASE("a lost error names where its task was created") {
    aio_test::report_log log;
    int line = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(co_await aio::this_loop());
        line = __LINE__ + 1;
        auto lost = aio::create_task(fail_soon("lost"), "lost-task");
        co_await lost.wait_done();
    });
    REQUIRE(log.entries.size() == 1);
    CHECK(log.entries[0].message == "Task exception was never retrieved");
    CHECK(log.entries[0].task_name == "lost-task");
    CHECK(log.entries[0].created_at.line() == static_cast<unsigned>(line));
    CHECK(mentions(log.entries[0].created_at.file_name(), "debug_mode.cpp"));
}

TEST_CASE("a task abandoned pending when its loop closes is reported with its creation site") {
    aio_test::report_log log;
    aio::loop lp = aio::new_event_loop();
    lp.set_debug(true);
    log.install(lp);
    aio::event never;
    int line = __LINE__ + 1;
    auto stuck = lp.create_task([&]() -> aio::awaitable<void> { co_await never.wait(); }, "stuck");
    lp.run_until_complete([]() -> aio::awaitable<void> { co_await aio::sleep(0s); });
    lp.close();
    REQUIRE(log.entries.size() == 1);
    CHECK(log.entries[0].message == "Task was abandoned pending when its loop closed");
    CHECK(log.entries[0].task_name == "stuck");
    CHECK(log.entries[0].created_at.line() == static_cast<unsigned>(line));
}

TEST_CASE("debug mode reports a task state freed while still pending") {
    // No public path frees a pending task: the loop holds each one until it ends, and keeps
    // those a close() abandons. The report is a safeguard against a bug in aio; the state is
    // made and dropped here by hand, as such a bug would drop it.
    aio_test::report_log log;
    aio::loop lp = aio::new_event_loop();
    log.install(lp);
    auto drop_pending_task = [&](const std::string& name) {
        auto s = aio::detail::ref<aio::detail::state<void>>::adopt(
            new aio::detail::state<void>(&lp.core(), true));
        s->set_name(name);
    };
    drop_pending_task("unseen");
    CHECK(log.entries.empty()); // out of debug mode: not looked at
    lp.set_debug(true);
    drop_pending_task("orphan");
    REQUIRE(log.entries.size() == 1);
    CHECK(log.entries[0].message == "Task was destroyed but it is pending");
    CHECK(log.entries[0].task_name == "orphan");
    lp.close();
}

TEST_CASE("debug mode reports a task step slower than slow_callback_duration") {
    aio_test::report_log log;
    aio::loop lp = aio::new_event_loop();
    lp.set_debug(true);
    lp.set_slow_callback_duration(1ms);
    log.install(lp);
    int line = __LINE__ + 1;
    auto slow = lp.create_task(block_loop(), "blocker");
    lp.run_until_complete(slow);
    // The blocking step is reported; another step may be too, on a machine slow enough (under a
    // sanitizer, or preempted) to take longer than 1 ms for it.
    REQUIRE(log.count("Executing <Task name='blocker' id=1") >= 1);
    auto blocking = std::find_if(log.entries.begin(), log.entries.end(), [](const auto& e) {
        return mentions(e.message, "Executing <Task name='blocker' id=1");
    });
    REQUIRE(blocking != log.entries.end());
    const aio::exception_context& r = *blocking;
    CHECK(mentions(r.message, "> took "));
    CHECK(mentions(r.message, " seconds"));
    CHECK(r.task_name == "blocker");
    CHECK(r.created_at.line() == static_cast<unsigned>(line));
    CHECK(lp.core().slow_steps() == log.entries.size());
    lp.close();
}

TEST_CASE("debug mode reports a slow callback") {
    aio_test::report_log log;
    aio::loop lp = aio::new_event_loop();
    lp.set_debug(true);
    lp.set_slow_callback_duration(1ms);
    log.install(lp);
    lp.call_soon([] { std::this_thread::sleep_for(3ms); });
    lp.call_soon([lp] { lp.stop(); });
    lp.run_forever();
    CHECK(log.count("Executing <callback> took") >= 1); // the stop callback too, if preempted
    lp.close();
}

TEST_CASE("without debug mode the same slow step is not reported") {
    aio_test::report_log log;
    aio::loop lp = aio::new_event_loop();
    lp.set_slow_callback_duration(1ms);
    log.install(lp);
    lp.run_until_complete(block_loop());
    CHECK(log.entries.empty());
    CHECK(lp.core().slow_steps() == 0);
    lp.close();
}

TEST_CASE("the monitor's stats show the slow steps") {
    aio::loop lp = aio::new_event_loop();
    lp.set_debug(true);
    lp.set_slow_callback_duration(1ms);
    lp.set_exception_handler([](const aio::exception_context&) {});
    lp.run_until_complete(block_loop());
    std::string stats = aio::detail::monitor_commands(lp.core(), {}).run("stats").text;
    std::string_view counted = "slow steps (debug mode, over 1 ms): ";
    REQUIRE(mentions(stats, std::string(counted)));
    std::size_t at = stats.find(counted) + counted.size();
    CHECK(std::stoul(stats.substr(at)) == lp.core().slow_steps()); // the blocking step at least
    CHECK(lp.core().slow_steps() >= 1);
    lp.close();
}

TEST_CASE("debug mode: loop-affine calls from another thread throw std::logic_error") {
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::loop lp = co_await aio::this_loop();
        lp.set_debug(true);

        aio::event ev;
        ev.clear(); // bound to this loop from here on
        ev.set();
        ev.clear();
        std::string what = thrown_on_other_thread([&] { ev.set(); });
        CHECK(mentions(what, "aio::event::set called from thread "));
        CHECK(mentions(what, "but its loop runs on thread "));
        CHECK_FALSE(ev.is_set());
        ev.set();
        CHECK(mentions(thrown_on_other_thread([&] { ev.clear(); }), "aio::event::clear"));
        CHECK(ev.is_set());

        aio::queue<int> q;
        q.put_nowait(1);
        CHECK(mentions(thrown_on_other_thread([&] { q.put_nowait(2); }), "aio::queue::put_nowait"));
        CHECK(mentions(thrown_on_other_thread([&] { (void)q.get_nowait(); }),
                       "aio::queue::get_nowait"));
        CHECK(q.size() == 1);

        // A lock or a semaphore is bound to its loop by its first wait (as asyncio's).
        aio::lock lk;
        co_await lk.acquire();
        auto next = aio::create_task([&]() -> aio::awaitable<void> {
            co_await lk.acquire();
            lk.release();
        });
        co_await aio::sleep(0s);
        CHECK(mentions(thrown_on_other_thread([&] { lk.release(); }), "aio::lock::release"));
        CHECK(lk.locked());
        lk.release();
        co_await next();

        aio::semaphore sem(1);
        co_await sem.acquire();
        auto other = aio::create_task([&]() -> aio::awaitable<void> {
            co_await sem.acquire();
            sem.release();
        });
        co_await aio::sleep(0s);
        CHECK(mentions(thrown_on_other_thread([&] { sem.release(); }), "aio::semaphore::release"));
        CHECK(sem.locked());
        sem.release();
        co_await other();

        aio::future<int> f;
        CHECK(
            mentions(thrown_on_other_thread([&] { f.set_result(1); }), "aio::future::set_result"));
        CHECK(mentions(thrown_on_other_thread([&] {
                           f.set_exception(std::make_exception_ptr(std::runtime_error("x")));
                       }),
                       "aio::future::set_exception"));
        CHECK_FALSE(f.done());
        f.set_result(2);

        aio::task<void> sleeper = aio::create_task(aio::sleep(1h));
        CHECK(mentions(thrown_on_other_thread([&] { sleeper.cancel(); }), "aio::any_task::cancel"));
        CHECK(sleeper.cancelling() == 0);
        std::size_t tasks = aio::all_tasks().size();
        CHECK(mentions(thrown_on_other_thread(
                           [&] { lp.create_task([]() -> aio::awaitable<void> { co_return; }); }),
                       "aio::loop::create_task"));
        CHECK(mentions(thrown_on_other_thread([&] { lp.create_task(aio::sleep(0s)); }),
                       "aio::loop::create_task"));
        CHECK(aio::all_tasks().size() == tasks);
        sleeper.cancel();
        co_await sleeper.wait_done();
    });
}

TEST_CASE("without debug mode no thread is checked") {
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::event ev;
        ev.clear();
        std::thread t([&] { ev.clear(); }); // a race in general; harmless here: nothing waits
        t.join();
        co_return;
    });
}

TEST_CASE("debug mode reports a stream still open when run ends") {
    std::vector<aio::exception_context> reports;
    std::optional<aio::server> kept_server;
    std::optional<aio::stream_pair> kept_client;
    aio::runner r(aio::run_options{.handle_signals = false, .debug = true});
    r.get_loop().set_slow_callback_duration(std::chrono::hours(1)); // only streams are reported
    r.get_loop().set_exception_handler([&](const aio::exception_context& c) {
        reports.push_back(c);
        kept_client.reset(); // closed while the loop is still there
        kept_server.reset();
    });
    r.run([&]() -> aio::awaitable<void> {
        auto serve = [](aio::stream_reader, aio::stream_writer) -> aio::awaitable<void> {
            co_return;
        };
        aio::server srv = co_await aio::start_server(serve, "127.0.0.1", 0);
        std::uint16_t port = srv.port();
        kept_server = std::move(srv); // closed by the shutdown: its accepting task is cancelled
        kept_client = co_await aio::open_connection("127.0.0.1", port);
    });
    r.close();
    REQUIRE(reports.size() == 1);
    CHECK(mentions(reports[0].message, "unclosed transport <stream fd="));
    CHECK(mentions(reports[0].message, "> still open when the run ended"));
    CHECK_FALSE(kept_client);
}

TEST_CASE("a stream closed before run ends is not reported in debug mode") {
    aio_test::report_log log;
    aio::runner r(aio::run_options{.handle_signals = false, .debug = true});
    r.get_loop().set_slow_callback_duration(std::chrono::hours(1)); // only streams are reported
    log.install(r.get_loop());
    r.run([&]() -> aio::awaitable<void> {
        auto serve = [](aio::stream_reader, aio::stream_writer) -> aio::awaitable<void> {
            co_return;
        };
        aio::server srv = co_await aio::start_server(serve, "127.0.0.1", 0);
        aio::stream_pair client = co_await aio::open_connection("127.0.0.1", srv.port());
        client.writer.close();
        srv.close();
        co_await srv.wait_closed();
    });
    r.close();
    CHECK(log.entries.empty());
}

TEST_CASE("debug mode reports a slow step resumed by a stream's read") {
    std::vector<aio::exception_context> reports;
    aio::runner r(aio::run_options{.handle_signals = false, .debug = true});
    aio::loop lp = r.get_loop();
    lp.set_slow_callback_duration(1ms);
    lp.set_exception_handler([&](const aio::exception_context& c) { reports.push_back(c); });
    r.run([&]() -> aio::awaitable<void> {
        aio::event reading;
        auto serve = [&](aio::stream_reader in, aio::stream_writer) -> aio::awaitable<void> {
            reading.set();
            std::string line = co_await in.readline(); // parked: the client has sent nothing
            std::this_thread::sleep_for(lp.slow_callback_duration() * 3);
        };
        aio::server srv = co_await aio::start_server(serve, "127.0.0.1", 0);
        aio::stream_pair client = co_await aio::open_connection("127.0.0.1", srv.port());
        co_await reading.wait();
        std::size_t before = reports.size();
        client.writer.write("go\n");
        std::string rest = co_await client.reader.read(); // EOF once the handler has ended
        CHECK(rest.empty());
        // That step is reported; others may be too, on a machine slow enough to take 1 ms.
        bool reported = std::any_of(
            reports.begin() + static_cast<std::ptrdiff_t>(before), reports.end(),
            [](const aio::exception_context& c) {
                return mentions(c.message, "Executing <Task name='aio.server.connection'");
            });
        CHECK(reported);
        client.writer.close();
        srv.close();
        co_await srv.wait_closed();
    });
}

// Tests of aio/monitor.hpp: the task monitor driven by a real TCP client (aio's own
// open_connection) on a port of 127.0.0.1 that the system picks.
#include "fixtures.hpp"

#include <aio/monitor.hpp>
#include <aio/streams.hpp>

#include <doctest/doctest.h>

#include <csignal>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>

using namespace std::chrono_literals;

namespace {

constexpr std::string_view prompt = "monitor >>> ";

aio::monitor start_on_free_port() {
    aio::monitor_options options;
    options.port = 0;
    return aio::start_monitor(options);
}

/// A client of the monitor: connected, the greeting read.
struct client {
    aio::stream_reader reader;
    aio::stream_writer writer;
    std::string greeting;

    static aio::awaitable<client> connect(const aio::monitor& m) {
        auto [r, w] = co_await aio::open_connection("127.0.0.1", m.port());
        client c{r, w, {}};
        std::string greeting = co_await c.reader.readuntil(std::string(prompt));
        c.greeting = greeting;
        co_return c;
    }

    /// Sends one command line and returns the reply, its prompt taken off.
    aio::awaitable<std::string> ask(std::string line) {
        writer.write(line + "\n");
        std::string reply = co_await reader.readuntil(std::string(prompt));
        reply.resize(reply.size() - prompt.size());
        co_return reply;
    }
};

/// The line of wait_for's await, which ps shows as the task's await site.
constexpr std::uint32_t wait_for_await_line = __LINE__ + 2;
aio::awaitable<void> wait_for(aio::event& e) {
    co_await e.wait();
}

/// Waits for `e`; sets `saw_cancel` if cancelled there, then ends cancelled.
aio::awaitable<void> wait_noting_cancel(aio::event& e, bool& saw_cancel) {
    try {
        co_await e.wait();
    } catch (const aio::cancelled_error&) {
        saw_cancel = true;
        throw;
    }
}

/// Yields until `t` is parked in the aio await named `what` (a few turns at most).
aio::awaitable<void> until_waiting_on(aio::any_task t, std::string_view what) {
    for (int turn = 0; turn < 10 && t.waiting_on() != what; ++turn) {
        co_await aio::sleep(0s);
    }
    REQUIRE(t.waiting_on() == what);
}

bool contains(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

/// The line of `text` that starts with `start`, without its newline; empty if none does.
std::string line_starting(const std::string& text, std::string_view start) {
    std::size_t at = text.find("\n" + std::string(start));
    if (at == std::string::npos) {
        return {};
    }
    std::size_t end = text.find('\n', at + 1);
    return text.substr(at + 1, end - at - 1);
}

std::string in_hex(std::uint64_t n) {
    std::ostringstream os;
    os << "0x" << std::hex << n;
    return os.str();
}

} // namespace

AIO_TEST_CASE("start_monitor listens on 127.0.0.1, on the port that port 0 picked") {
    aio::monitor m = start_on_free_port();
    CHECK(m.port() != 0);
    CHECK(m.is_serving());
    client c = co_await client::connect(m);
    CHECK(c.writer.peername().to_string() == "127.0.0.1:" + std::to_string(m.port()));
    CHECK(c.greeting.starts_with("aio monitor: "));
    CHECK(c.greeting.ends_with(prompt));
    m.close();
    co_await m.wait_closed();
    CHECK_FALSE(m.is_serving());
}

AIO_TEST_CASE("monitor: ps lists a task with its id, state, name, await and its sites") {
    aio::monitor m = start_on_free_port();
    aio::event never;
    std::uint32_t line = __LINE__ + 1;
    aio::task<void> t = aio::create_task(wait_for(never), "sleeper");
    co_await until_waiting_on(t, "aio::event.wait");
    client c = co_await client::connect(m);

    std::string ps = co_await c.ask("ps");
    CHECK(ps.starts_with("ID  STATE"));
    CHECK(contains(ps, "  CALLED AT  "));
    std::string row = std::to_string(t.id()) + "  ";
    CHECK(contains(ps, "\n" + row));
    CHECK(contains(ps, "pending"));
    CHECK(contains(ps, "sleeper"));
    CHECK(contains(ps, "aio::event.wait"));
    CHECK(contains(ps, "monitor.cpp:" + std::to_string(line)));
    CHECK(contains(ps, "monitor.cpp:" + std::to_string(wait_for_await_line)));
    CHECK(contains(ps, "main"));
    CHECK_FALSE(contains(ps, "aio.monitor")); // the monitor's own tasks are not shown
    CHECK(ps.ends_with("2 task(s)\n"));       // main and sleeper

    t.cancel();
    co_await t.wait_done();
    m.close();
}

AIO_TEST_CASE("monitor: ps shows a task that is winding down after a cancel as cancelling") {
    aio::monitor m = start_on_free_port();
    aio::event cleaned_up;
    aio::task<void> t = aio::create_task(
        [&cleaned_up]() -> aio::awaitable<void> {
            std::exception_ptr cancel = co_await aio_test::sleep_until_cancelled();
            co_await cleaned_up.wait();
            std::rethrow_exception(cancel);
        },
        "lingerer");
    co_await until_waiting_on(t, "aio::sleep");
    t.cancel();
    co_await until_waiting_on(t, "aio::event.wait");
    client c = co_await client::connect(m);

    std::string ps = co_await c.ask("ps");
    CHECK(line_starting(ps, std::to_string(t.id()) + " ").find(" cancelling ") !=
          std::string::npos);
    cleaned_up.set();
    co_await t.wait_done();
    m.close();
}

AIO_TEST_CASE("monitor: where shows the call graph of a task") {
    aio::monitor m = start_on_free_port();
    aio::event never;
    aio::task<void> inner = aio::create_task(wait_for(never), "inner");
    aio::task<void> outer =
        aio::create_task([inner]() -> aio::awaitable<void> { co_await inner(); }, "outer");
    co_await until_waiting_on(outer, "aio: await a task");
    client c = co_await client::connect(m);

    std::string graph = co_await c.ask("where " + std::to_string(inner.id()));
    CHECK(graph == aio::format_call_graph(inner) + "\n");
    CHECK(contains(graph, "name='inner'"));
    CHECK(contains(graph, "aio::event.wait"));
    CHECK(contains(graph, "name='outer'"));
    std::string hex = co_await c.ask("where " + in_hex(inner.id()));
    CHECK(hex == graph);

    outer.cancel();
    co_await outer.wait_done();
    m.close();
}

AIO_TEST_CASE("monitor: cancel cancels a task, which sees cancelled_error at its await") {
    aio::monitor m = start_on_free_port();
    aio::event never;
    bool saw_cancel = false;
    aio::task<void> t = aio::create_task(
        [&]() -> aio::awaitable<void> { co_await wait_noting_cancel(never, saw_cancel); },
        "victim");
    co_await until_waiting_on(t, "aio::event.wait");
    client c = co_await client::connect(m);

    std::string reply = co_await c.ask("cancel " + std::to_string(t.id()));
    CHECK(reply == "cancel requested: task " + std::to_string(t.id()) + " 'victim'\n");
    co_await t.wait_done();
    CHECK(t.cancelled());
    CHECK(saw_cancel);
    std::string again = co_await c.ask("cancel " + std::to_string(t.id()));
    CHECK(again.starts_with("error: no pending task with id"));
    m.close();
}

AIO_TEST_CASE("monitor: signal sends the signal to the process, and a loop's signal handler runs") {
    aio::monitor m = start_on_free_port();
    aio::loop lp = co_await aio::this_loop();
    aio::event got;
    lp.add_signal_handler(SIGUSR1, [&got] { got.set(); });
    client c = co_await client::connect(m);

    std::string reply = co_await c.ask("signal USR1");
    CHECK(reply.starts_with("sent SIGUSR1 to process "));
    co_await got.wait();
    got.clear();
    std::string again = co_await c.ask("signal sigusr1");
    CHECK(again.starts_with("sent SIGUSR1"));
    co_await got.wait();
    lp.remove_signal_handler(SIGUSR1);

    std::string unknown = co_await c.ask("signal NOPE");
    CHECK(unknown.starts_with("error: unknown signal 'NOPE' (known: HUP INT"));
    m.close();
}

AIO_TEST_CASE("monitor: stats counts the tasks by their await, help lists the commands") {
    aio::monitor m = start_on_free_port();
    aio::event never;
    aio::task<void> a = aio::create_task(wait_for(never), "a");
    aio::task<void> b = aio::create_task(wait_for(never), "b");
    co_await until_waiting_on(b, "aio::event.wait");
    client c = co_await client::connect(m);

    std::string stats = co_await c.ask("stats");
    CHECK(stats.starts_with("tasks pending: 3 (0 cancelling)\n")); // main, a, b
    CHECK(line_starting(stats, "  aio::event.wait ").ends_with(" 2"));
    // main, reading the reply (the monitor's task, which runs the command, is not counted)
    CHECK(line_starting(stats, "  aio: stream or server I/O ").ends_with(" 1"));
    CHECK(contains(stats, "tasks created on this loop: "));
    CHECK(contains(stats, "timers pending (sleeps, timeouts): 0\n"));
    CHECK(contains(stats, "executor jobs in flight: 0\n"));
    CHECK(contains(stats, "slow steps: not counted (debug mode is off)\n"));

    std::string help = co_await c.ask("help");
    for (std::string_view command :
         {"ps", "where ID", "cancel ID", "signal NAME", "stats", "help", "quit"}) {
        CHECK(contains(help, "  " + std::string(command) + " "));
    }
    a.cancel();
    b.cancel();
    co_await a.wait_done();
    co_await b.wait_done();
    m.close();
}

AIO_TEST_CASE("monitor: bad input gets an error line and the prompt, and the session goes on") {
    aio::monitor m = start_on_free_port();
    client c = co_await client::connect(m);

    std::string unknown = co_await c.ask("frobnicate now");
    CHECK(unknown == "error: unknown command 'frobnicate' (help lists the commands)\n");
    std::string not_id = co_await c.ask("where abc");
    CHECK(not_id == "error: 'abc' is not a task id (ps lists them)\n");
    std::string no_task = co_await c.ask("cancel 999999");
    CHECK(no_task == "error: no pending task with id 999999 (ps lists them)\n");
    std::string missing = co_await c.ask("where");
    CHECK(missing == "error: usage: where ID\n");
    std::string extra = co_await c.ask("ps now");
    CHECK(extra == "error: ps takes no argument\n");
    std::string binary = co_await c.ask(std::string("\x01\xff", 2));
    CHECK(binary == "error: unknown command '?\?' (help lists the commands)\n");
    std::string empty = co_await c.ask("");
    CHECK(empty.empty());
    std::string crlf = co_await c.ask("ps\r");
    CHECK(crlf.ends_with("1 task(s)\n"));
    m.close();
}

AIO_TEST_CASE("monitor: quit closes the connection, and the monitor goes on serving others") {
    aio::monitor m = start_on_free_port();
    client first = co_await client::connect(m);
    client second = co_await client::connect(m);
    first.writer.write("quit\n");
    std::string rest = co_await first.reader.read();
    CHECK(rest == "bye\n");

    std::string ps = co_await second.ask("ps");
    CHECK(ps.ends_with("1 task(s)\n")); // main only: no client task shows
    m.close();
}

AIO_TEST_CASE("monitor: an overlong line gets an error line and ends its connection") {
    aio::monitor m = start_on_free_port();
    client c = co_await client::connect(m);
    c.writer.write(std::string(5000, 'x') + "\n");
    c.writer.write_eof();
    std::string rest = co_await c.reader.read();
    CHECK(rest == "error: line longer than 1024 bytes; closing the connection\n");

    client other = co_await client::connect(m);
    std::string ps = co_await other.ask("ps");
    CHECK(ps.ends_with("1 task(s)\n"));
    m.close();
}

AIO_TEST_CASE("monitor: several clients at once each get their own replies") {
    aio::monitor m = start_on_free_port();
    client a = co_await client::connect(m);
    client b = co_await client::connect(m);
    a.writer.write("help\n");
    b.writer.write("stats\n");
    std::string to_b = co_await b.reader.readuntil(std::string(prompt));
    std::string to_a = co_await a.reader.readuntil(std::string(prompt));
    CHECK(to_a.starts_with("Commands, one per line:"));
    CHECK(to_b.starts_with("tasks pending: 1 "));
    m.close();
}

AIO_TEST_CASE("monitor: close() ends the clients' connections and stops accepting") {
    aio::monitor m = start_on_free_port();
    client c = co_await client::connect(m);
    std::uint16_t port = m.port();
    m.close();
    co_await m.wait_closed();
    std::string rest = co_await c.reader.read();
    CHECK(rest.empty());
    bool refused = co_await aio_test::co_throws_as<boost::system::system_error>(
        aio::open_connection("127.0.0.1", port));
    CHECK(refused);
}

AIO_TEST_CASE("an empty monitor handle does nothing") {
    aio::monitor empty;
    CHECK(empty.port() == 0);
    CHECK_FALSE(empty.is_serving());
    empty.close();
    co_await empty.wait_closed();
}

AIO_TEST_CASE("aio::with closes the monitor when its body ends") {
    aio::monitor m = start_on_free_port();
    auto body = [](aio::monitor& inside) -> aio::awaitable<void> {
        client c = co_await client::connect(inside);
        std::string ps = co_await c.ask("ps");
        CHECK(ps.ends_with("1 task(s)\n"));
    };
    co_await aio::with(m, body);
    CHECK_FALSE(m.is_serving());
}

TEST_CASE("a monitor left open, with a client connected, does not keep aio::run waiting") {
    aio_test::report_log log;
    bool client_ended = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(co_await aio::this_loop());
        aio::monitor m = start_on_free_port();
        client c = co_await client::connect(m);
        aio::create_task(
            [&client_ended, c]() mutable -> aio::awaitable<void> {
                try {
                    co_await c.reader.read(); // the monitor sends nothing more
                } catch (const aio::cancelled_error&) {
                    client_ended = true;
                    throw;
                }
            },
            "client");
    });
    CHECK(client_ended);
    CHECK(log.entries.empty());
}

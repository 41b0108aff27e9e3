// aio/monitor.hpp - the live task monitor (Python's aiomonitor): a line protocol on 127.0.0.1
// that lists the running loop's tasks, shows a task's call graph, cancels a task or sends the
// process a signal, from `nc localhost 20101` while the program runs. Not part of
// <aio/aio.hpp>: it brings the streams and the diagnostics with it.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/loop_core.hpp>
#include <aio/detail/monitor_commands.hpp>
#include <aio/error.hpp>
#include <aio/net/server.hpp>
#include <aio/net/stream_reader.hpp>
#include <aio/net/stream_writer.hpp>
#include <aio/task.hpp>

#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aio {

/// Options of start_monitor.
struct monitor_options {
    /// The port on 127.0.0.1 (aiomonitor's default, 20101); 0 picks a free one (monitor::port
    /// says which).
    std::uint16_t port = 20101;
    /// The longest command line taken, in bytes, its newline not counted. A longer line gets
    /// an error line and ends its connection.
    std::size_t max_line = 1024;
};

namespace detail {

/// What a monitor's connections share: the ids of the monitor's own tasks, which its commands
/// do not show. (The server holds the connection handler, which holds this; nothing here
/// refers back to the server.)
struct monitor_state {
    std::vector<std::uint64_t> own;
};

/// Keeps a client's task among the monitor's own while it serves the client.
class monitor_client_entry {
public:
    monitor_client_entry(monitor_state& s, std::uint64_t id) : s_(s), id_(id) {
        s_.own.push_back(id);
    }
    ~monitor_client_entry() { std::erase(s_.own, id_); }
    monitor_client_entry(const monitor_client_entry&) = delete;
    monitor_client_entry& operator=(const monitor_client_entry&) = delete;

private:
    monitor_state& s_;
    std::uint64_t id_;
};

inline constexpr std::string_view monitor_prompt = "monitor >>> ";

/// After an overlong line: the error line has gone out, then EOF (write_eof). What the client
/// still sends is read and dropped until it closes its side (up to `bound` bytes), so that the
/// socket is not closed with unread bytes in it: the kernel would answer them with a reset,
/// which can make the client lose the error line.
inline awaitable<void> drop_input(stream_reader r, std::size_t bound) {
    std::size_t dropped = 0;
    while (dropped < bound) {
        std::string chunk = co_await r.read(64 * 1024);
        if (chunk.empty()) {
            break;
        }
        dropped += chunk.size();
    }
}

/// One client's session: the greeting and a prompt, then a reply and a prompt per line.
inline awaitable<void> monitor_session(std::shared_ptr<monitor_state> s, stream_reader r,
                                       stream_writer w) {
    loop_core& loop = require_running_loop();
    monitor_commands commands(loop, s->own);
    w.write(commands.greeting());
    w.write(monitor_prompt);
    co_await w.drain();
    for (;;) {
        std::string line;
        bool overlong = false;
        try {
            line = co_await r.readline();
        } catch (const limit_overrun_error&) {
            overlong = true;
        }
        if (overlong) {
            w.write("error: line longer than " + std::to_string(r.limit()) +
                    " bytes; closing the connection\n");
            w.write_eof();
            co_await drop_input(r, 1024 * 1024);
            w.close();
            co_return;
        }
        if (line.empty()) { // EOF: the client is gone
            w.close();
            co_return;
        }
        monitor_reply reply = commands.run(line);
        w.write(std::move(reply.text));
        if (reply.close) {
            w.close();
            co_return;
        }
        w.write(monitor_prompt);
        co_await w.drain();
    }
}

/// The server's handler: a client's task, named and hidden from the commands while it runs. A
/// connection lost (reset by the client) ends the session quietly; a cancellation (the loop's
/// shutdown) goes on out.
inline awaitable<void> serve_monitor_client(std::shared_ptr<monitor_state> s, stream_reader r,
                                            stream_writer w) {
    any_task me = co_await current_task();
    me.set_name("aio.monitor.client");
    monitor_client_entry entry(*s, me.id());
    std::exception_ptr lost;
    try {
        co_await monitor_session(s, std::move(r), std::move(w));
    } catch (const boost::system::system_error&) {
        lost = std::current_exception();
    }
    if (lost && is_cancellation(lost)) {
        std::rethrow_exception(lost);
    }
}

} // namespace detail

/// A running task monitor (aiomonitor's Monitor), from start_monitor. A handle: copies control
/// the same monitor. Loop-affine.
///
/// The protocol is text, one command per line ("\n" or "\r\n"); nc and telnet are clients. A
/// client gets a greeting, then the prompt `monitor >>> ` (no newline after it); every reply
/// ends with that prompt, so a client reads up to it to get one reply whole. The commands, as
/// aiomonitor's:
///
///   ps           the pending tasks: id, state (pending, or cancelling once cancel() was
///                requested), name, what each waits on (any_task::waiting_on), creation site
///   where ID     format_call_graph of the task (aio/diagnostics.hpp)
///   cancel ID    any_task::cancel on it
///   signal NAME  kill(getpid(), NAME): USR1, SIGUSR1, HUP, TERM, ... (a handler set with
///                loop::add_signal_handler runs on the loop as for any signal)
///   stats        tasks by what they wait on, tasks created, timers pending, executor jobs
///   help         the list
///   quit, exit   "bye", then the connection closes
///
/// Bad input (an unknown command, a wrong id, missing words) gets a line starting with
/// `error: ` and the prompt; a line longer than monitor_options::max_line gets an error line,
/// then EOF. Any number of clients may be connected at once; each is served by a task of its
/// own, and none of the monitor's tasks appear in what the commands show or reach.
///
/// Cost: nothing runs until a client connects (one task waits on the listening socket); a
/// connected client costs a task and its connection, and a command reads the task list once.
class monitor {
public:
    monitor() = default;

    /// The port listened on, on 127.0.0.1: what port 0 picked. 0 for an empty handle
    /// (default-constructed).
    std::uint16_t port() const noexcept { return port_; }

    /// True until close() (or the loop's shutdown) closed it; false for an empty handle.
    bool is_serving() const noexcept { return port_ != 0 && server_.is_serving(); }

    /// Stops accepting and ends every client's connection at once, dropping what was not sent
    /// yet (their tasks end at their next read). Idempotent; never throws. aio::run's shutdown
    /// does the same: its cancellation of every task closes the monitor, whose tasks then end
    /// without keeping run waiting.
    /// A no-op on an empty handle.
    void close() noexcept {
        if (port_ != 0) {
            server_.close();
            server_.abort_clients();
        }
    }

    /// Waits until the monitor is closed and every client's task has ended (at once for an
    /// empty handle). Cancellation: throws cancelled_error; the monitor is untouched. Never
    /// throws otherwise.
    awaitable<void> wait_closed() {
        if (port_ != 0) {
            co_await server_.wait_closed();
        }
    }

    /// For aio::with: on leaving, closes the monitor and waits for its clients' tasks (which
    /// end at once: their connections are closed). Cancellation of that wait: throws
    /// cancelled_error, the monitor being closed already.
    awaitable<void> async_enter() { co_return; }
    awaitable<void> async_exit(std::exception_ptr) {
        close();
        co_await wait_closed();
    }

private:
    friend monitor start_monitor(monitor_options options);
    monitor(server s, std::uint16_t port) noexcept : server_(std::move(s)), port_(port) {}

    server server_;
    std::uint16_t port_ = 0;
};

/// Starts a task monitor on the running loop (aiomonitor's start_monitor): listens on
/// 127.0.0.1:options.port - never on another interface: anyone who can connect can cancel
/// tasks and signal the process - and serves the commands described at aio::monitor. Returns
/// at once (a plain call, as aiomonitor's: binding a loopback address needs no name lookup,
/// so there is nothing to await). The monitor runs until monitor::close() or the loop's
/// shutdown; it never keeps aio::run from finishing. With a loop driven by hand, close it
/// before loop::close, which otherwise reports its waiting task as abandoned.
/// Errors: throws boost::system::system_error naming the address if the port cannot be bound
/// (in use, say), std::logic_error outside a running loop. Cancellation: none (nothing is
/// awaited).
inline monitor start_monitor(monitor_options options) {
    detail::loop_core& loop = detail::require_running_loop();
    auto state = std::make_shared<detail::monitor_state>();
    server_options listening;
    listening.limit = options.max_line;
    auto handler = [state](stream_reader r, stream_writer w) {
        return detail::serve_monitor_client(state, std::move(r), std::move(w));
    };
    auto* s = new detail::server_state(loop, connection_handler(handler), listening);
    server handle(s);
    boost::asio::ip::tcp::endpoint ep(boost::asio::ip::address_v4::loopback(), options.port);
    s->listeners().push_back(
        detail::listen_on(loop, boost::asio::generic::stream_protocol::endpoint(ep), listening,
                          detail::host_port("127.0.0.1", options.port)));
    s->start_serving();
    for (const any_task& t : s->accepting()) {
        any_task accepting = t;
        accepting.set_name("aio.monitor.accept");
        state->own.push_back(t.id());
    }
    std::uint16_t port = handle.port();
    return monitor(std::move(handle), port);
}

/// start_monitor with the default monitor_options: port 20101.
inline monitor start_monitor() {
    return start_monitor(monitor_options{});
}

} // namespace aio

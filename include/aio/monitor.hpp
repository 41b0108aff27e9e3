// aio/monitor.hpp - the live task monitor (Python's aiomonitor): a line protocol on 127.0.0.1
// that lists the running loop's tasks, shows a task's call graph, cancels a task or sends the
// process a signal, from `nc localhost 20101` while the program runs. Not part of
// <aio/aio.hpp>: it brings the streams and the diagnostics with it.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/loop_core.hpp>
#include <aio/net/detail/monitor_session.hpp>
#include <aio/net/server.hpp>
#include <aio/net/stream_reader.hpp>
#include <aio/net/stream_writer.hpp>
#include <aio/task.hpp>

#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <utility>

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

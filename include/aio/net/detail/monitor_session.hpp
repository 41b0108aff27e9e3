// aio/net/detail/monitor_session.hpp - one client's session with the task monitor
// (aio/monitor.hpp): the greeting, then a command line in and a reply out, over the streams.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/loop_core.hpp>
#include <aio/detail/monitor_commands.hpp>
#include <aio/error.hpp>
#include <aio/net/stream_reader.hpp>
#include <aio/net/stream_writer.hpp>
#include <aio/task.hpp>

#include <boost/system/system_error.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aio {

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

} // namespace aio

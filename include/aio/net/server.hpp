// aio/net/server.hpp - start_server, start_unix_server and the server they return
// (asyncio.start_server, asyncio.Server).
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/intrusive_list.hpp>
#include <aio/detail/loop_core.hpp>
#include <aio/detail/ref.hpp>
#include <aio/error.hpp>
#include <aio/net/detail/transport.hpp>
#include <aio/net/open_connection.hpp>
#include <aio/net/socket_address.hpp>
#include <aio/net/stream_reader.hpp>
#include <aio/net/stream_writer.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace aio {

/// Options of start_server: the connections' (stream_options) and the listening sockets'.
struct server_options : stream_options {
    /// The listen queue's length (asyncio's backlog, 100).
    int backlog = 100;
    /// SO_REUSEADDR: rebind a port with connections still in TIME_WAIT (asyncio's default on
    /// POSIX).
    bool reuse_address = true;
    /// SO_REUSEPORT: several sockets, e.g. one per loop on its own thread, serve one port and
    /// the kernel spreads the connections over them.
    bool reuse_port = false;
};

/// What start_server calls for each connection, in a task of its own.
using connection_handler = std::function<awaitable<void>(stream_reader, stream_writer)>;

namespace detail {

/// SO_REUSEPORT as an Asio socket option (Asio has none).
class reuse_port_option {
public:
    explicit reuse_port_option(bool on) noexcept : value_(on ? 1 : 0) {}
    template <class Protocol>
    int level(const Protocol&) const noexcept {
        return SOL_SOCKET;
    }
    template <class Protocol>
    int name(const Protocol&) const noexcept {
        return SO_REUSEPORT;
    }
    template <class Protocol>
    const void* data(const Protocol&) const noexcept {
        return &value_;
    }
    template <class Protocol>
    std::size_t size(const Protocol&) const noexcept {
        return sizeof(value_);
    }

private:
    int value_;
};

using stream_acceptor = boost::asio::basic_socket_acceptor<boost::asio::generic::stream_protocol>;

/// A server's state, shared by its handles, its accepting tasks and its connections' tasks.
class server_state {
public:
    server_state(loop_core& loop, connection_handler handler, server_options opt)
        : loop_(&loop), handler_(std::move(handler)), options_(opt) {}
    server_state(const server_state&) = delete;
    server_state& operator=(const server_state&) = delete;

    void add_ref() noexcept { ++refs_; }
    void release() noexcept {
        if (--refs_ == 0) {
            delete this;
        }
    }

    /// One listening socket and the accept loop parked on it.
    struct listener {
        explicit listener(stream_acceptor a) : acceptor(std::move(a)) {}
        stream_acceptor acceptor;
        socket_address address;
        io_waiter* waiting = nullptr;
        bool wait_pending = false;
    };

    /// A connection being served: linked while its handler runs.
    struct connection final : list_hook {
        transport* t = nullptr;
    };

    loop_core& loop() const noexcept { return *loop_; }
    const server_options& options() const noexcept { return options_; }
    std::vector<std::unique_ptr<listener>>& listeners() noexcept { return listeners_; }
    bool serving() const noexcept { return serving_; }
    bool closed() const noexcept { return closed_; }
    std::size_t active() const noexcept { return active_; }
    /// The tasks accepting connections, one per listening socket (while serving).
    const std::vector<any_task>& accepting() const noexcept { return accepting_; }

    void start_serving() {
        if (serving_ || closed_) {
            return;
        }
        serving_ = true;
        for (auto& l : listeners_) {
            accepting_.push_back(create_task(accept_loop(ref(this), l.get()), "aio.server.accept"));
        }
    }

    /// Stops accepting: the listening sockets close; connections go on.
    void close() noexcept {
        if (closed_) {
            return;
        }
        closed_ = true;
        serving_ = false;
        for (auto& l : listeners_) {
            boost::system::error_code ignored;
            l->acceptor.close(ignored); // a parked accept loop wakes and ends
        }
        wake_all(forever_);
        maybe_done();
    }

    void close_clients() noexcept {
        connections_.for_each([](connection& c) { c.t->close(); });
    }
    void abort_clients() noexcept {
        connections_.for_each([](connection& c) { c.t->abort(); });
    }

    park_operation wait_closed(io_waiter& w) {
        closers_.push_back(w);
        return park(w);
    }
    park_operation wait_close_requested(io_waiter& w) {
        forever_.push_back(w);
        return park(w);
    }
    bool serving_forever = false;

private:
    using ref = detail::ref<server_state>;

    ~server_state() = default;

    static park_operation readable(ref self, listener& l, io_waiter& w) {
        w.watch(l.waiting);
        if (!l.wait_pending) {
            l.wait_pending = true;
            l.acceptor.async_wait(boost::asio::socket_base::wait_read,
                                  [self, &l](const boost::system::error_code&) {
                                      l.wait_pending = false;
                                      if (io_waiter* parked = std::exchange(l.waiting, nullptr)) {
                                          parked->resume_now();
                                      }
                                  });
        }
        return park(w);
    }

    /// Accepts every connection that is ready, then waits for the next; ends when the server
    /// closes. Cancelled (the loop shutting down): closes the server.
    static awaitable<void> accept_loop(ref self, listener* l) {
        for (;;) {
            bool retry_later = false;
            while (!self->closed_) {
                stream_socket socket(self->loop_->executor());
                boost::system::error_code ec;
                l->acceptor.accept(socket, ec);
                if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
                    break;
                }
                if (ec == boost::asio::error::interrupted ||
                    ec == boost::asio::error::connection_aborted) {
                    continue;
                }
                if (ec) {
                    if (self->closed_) {
                        co_return;
                    }
                    // Out of descriptors, most likely: say so, and try again in a second
                    // (asyncio's ACCEPT_RETRY_DELAY) rather than spin.
                    self->loop_->report(
                        {"aio: start_server: accepting on " + l->address.to_string() + " failed",
                         std::make_exception_ptr(boost::system::system_error(ec)), ""});
                    retry_later = true;
                    break;
                }
                stream_pair streams = make_streams(std::move(socket), self->options_);
                create_task(serve_connection(self, std::move(streams)), "aio.server.connection");
            }
            if (self->closed_) {
                co_return;
            }
            bool cancelled = false;
            if (retry_later) {
                co_await aio::sleep(std::chrono::seconds(1));
            } else {
                io_waiter w;
                cancelled = co_await readable(self, *l, w);
            }
            if (cancelled) {
                self->close();
                throw cancelled_error();
            }
        }
    }

    /// Runs the user's handler for one connection. An error it lets out is reported (asyncio
    /// logs it) and closes the connection; a cancellation ends the task cancelled.
    static awaitable<void> serve_connection(ref self, stream_pair streams) {
        connection entry;
        entry.t = stream_access::of(streams.writer);
        self->connections_.push_back(entry);
        ++self->active_;
        connection_finished at_end{*self, entry};
        std::exception_ptr error;
        if (self->options_.ssl) {
            try {
                transport_handle t(entry.t);
                co_await tls_handshake(std::move(t), *self->options_.ssl, true, std::string(),
                                       self->options_.ssl_handshake_timeout);
            } catch (...) {
                if (is_cancellation(std::current_exception())) {
                    throw;
                }
                error = std::current_exception();
            }
            if (error) { // asyncio logs it too; the server goes on
                self->loop_->report({"aio: start_server: TLS handshake failed (peer " +
                                         streams.writer.peername().to_string() + ")",
                                     error, ""});
                co_return;
            }
        }
        try {
            co_await self->handler_(streams.reader, streams.writer);
        } catch (...) {
            if (is_cancellation(std::current_exception())) {
                throw;
            }
            error = std::current_exception();
        }
        if (error) {
            self->loop_->report({"aio: unhandled exception in a start_server handler (peer " +
                                     streams.writer.peername().to_string() + ")",
                                 error, ""});
            streams.writer.close();
        }
    }

    /// Takes a connection off the server's list when its handler's frame ends, however it ends.
    /// (A class of the server's rather than of serve_connection: GCC 12 fails with an internal
    /// error on a class local to a coroutine once the header is precompiled.)
    struct connection_finished {
        server_state& s;
        connection& entry;
        ~connection_finished() {
            entry.unlink();
            --s.active_;
            s.maybe_done();
        }
    };

    /// Wakes wait_closed() once the server is closed and no connection is left.
    void maybe_done() noexcept {
        if (closed_ && active_ == 0) {
            wake_all(closers_);
        }
    }

    loop_core* loop_;
    connection_handler handler_;
    server_options options_;
    std::vector<std::unique_ptr<listener>> listeners_;
    std::vector<any_task> accepting_;
    intrusive_list<connection> connections_;
    intrusive_list<io_waiter> closers_;
    intrusive_list<io_waiter> forever_;
    std::uint32_t refs_ = 0;
    std::size_t active_ = 0;
    bool serving_ = false;
    bool closed_ = false;
};

} // namespace detail

/// A listening server (asyncio.Server), from start_server. A handle: copies control the same
/// server. The server lives while a handle, an accepting task or a connection refers to it.
/// Loop-affine.
class server {
public:
    server() = default;
    explicit server(detail::server_state* s) noexcept : s_(s) {}

    /// The addresses the server listens on (asyncio's sockets), e.g. to learn the port that
    /// port 0 picked.
    std::vector<socket_address> sockets() const {
        std::vector<socket_address> out;
        for (const auto& l : s_->listeners()) {
            out.push_back(l->address);
        }
        return out;
    }
    /// The port of the first listening socket: what port 0 picked.
    std::uint16_t port() const { return s_->listeners().empty() ? 0 : sockets().front().port(); }

    /// True while accepting connections (asyncio's is_serving).
    bool is_serving() const noexcept { return s_->serving(); }

    /// Stops accepting: the listening sockets close; connections being served go on (asyncio's
    /// close). Idempotent.
    void close() noexcept { s_->close(); }
    /// Closes every connection being served, after sending what was written to it (Python
    /// 3.13's close_clients).
    void close_clients() noexcept { s_->close_clients(); }
    /// Closes every connection being served at once, dropping unsent data (abort_clients).
    void abort_clients() noexcept { s_->abort_clients(); }

    /// Waits until the server is closed and every connection's handler has ended (asyncio
    /// 3.12+). Cancellation: throws cancelled_error; the server is untouched.
    awaitable<void> wait_closed() {
        detail::server_state& s = *s_;
        if (s.closed() && s.active() == 0) {
            co_return;
        }
        detail::io_waiter w;
        bool cancelled = co_await s.wait_closed(w);
        if (cancelled) {
            throw cancelled_error();
        }
    }

    /// Serves until close() (asyncio's serve_forever). Cancellation (e.g. aio::run shutting
    /// down on SIGINT): closes the server - no new connections - and throws cancelled_error;
    /// the handlers are cancelled like every other task. Throws std::logic_error if the server
    /// is closed or another task already serves forever on it.
    awaitable<void> serve_forever() {
        detail::server_state& s = *s_;
        if (s.closed()) {
            throw std::logic_error("aio: server::serve_forever on a closed server");
        }
        if (s.serving_forever) {
            throw std::logic_error("aio: server::serve_forever is already running on this server");
        }
        s.serving_forever = true;
        s.start_serving();
        detail::io_waiter w;
        bool cancelled = co_await s.wait_close_requested(w);
        s.serving_forever = false;
        if (cancelled) {
            s.close();
            throw cancelled_error();
        }
    }

    /// For aio::with (asyncio's `async with server`): on leaving, closes the server; after a
    /// normal exit also waits for the handlers (wait_closed). After an exception or a
    /// cancellation it does not wait - a handler blocked on a client would keep the exit
    /// (and a shutdown) waiting; the loop's shutdown cancels the handlers.
    awaitable<void> async_enter() { co_return; }
    awaitable<void> async_exit(std::exception_ptr error) {
        close();
        if (!error) {
            co_await wait_closed();
        }
    }

private:
    detail::ref<detail::server_state> s_;
};

namespace detail {

/// Binds one listening socket for start_server; errors name the address.
inline std::unique_ptr<server_state::listener>
listen_on(loop_core& loop, const boost::asio::generic::stream_protocol::endpoint& ep,
          const server_options& opt, const std::string& what) {
    stream_acceptor acceptor(loop.executor());
    boost::system::error_code ec;
    auto fail = [&](const char* step) {
        throw boost::system::system_error(ec, "aio: start_server: cannot " + std::string(step) +
                                                  " " + what);
    };
    if (acceptor.open(ep.protocol(), ec)) {
        fail("open a socket for");
    }
    int family = ep.data()->sa_family;
    if (family == AF_INET || family == AF_INET6) {
        if (opt.reuse_address) {
            acceptor.set_option(boost::asio::socket_base::reuse_address(true), ec);
        }
        if (opt.reuse_port && !ec) {
            acceptor.set_option(reuse_port_option(true), ec);
        }
        if (family == AF_INET6 && !ec) {
            acceptor.set_option(boost::asio::ip::v6_only(true), ec);
        }
        if (ec) {
            fail("set the socket options of");
        }
    }
    if (acceptor.bind(ep, ec)) {
        fail("listen on");
    }
    if (acceptor.listen(opt.backlog, ec)) {
        fail("listen on");
    }
    acceptor.non_blocking(true);
    auto l = std::make_unique<server_state::listener>(std::move(acceptor));
    l->address = socket_address(l->acceptor.local_endpoint());
    return l;
}

} // namespace detail

/// asyncio.start_server: listens on `host`:`port` and runs `handler(reader, writer)` in a task
/// of its own for each connection (it starts serving at once). `host` may be a name or an
/// address; every address it resolves to is listened on; empty means every interface (IPv4
/// and IPv6). Port 0 picks a free port: server::port() says which. Errors:
/// boost::system::system_error naming the address (in use, not resolvable, no permission).
/// A handler's exception is reported through the loop's exception handler and closes its
/// connection; the server goes on. With options.ssl (a server context: create_server_context
/// in <aio/net/tls.hpp>), each connection's TLS handshake completes before its handler runs;
/// a failed one (a bad certificate, a client not speaking TLS, no handshake within
/// options.ssl_handshake_timeout) is reported likewise and closes that connection only.
/// Cancellation: as open_connection's name lookup.
template <class Handler>
awaitable<server> start_server(Handler handler, std::string host, std::uint16_t port,
                               server_options options) {
    detail::loop_core& loop = detail::require_running_loop();
    boost::asio::ip::tcp::resolver resolver(loop.executor());
    auto [ec, results] = co_await resolver.async_resolve(
        host, std::to_string(port), boost::asio::ip::resolver_base::passive,
        boost::asio::as_tuple(boost::asio::use_awaitable));
    if (ec) {
        throw boost::system::system_error(ec, "aio: start_server: cannot resolve " +
                                                  detail::host_port(host, port));
    }
    auto* s = new detail::server_state(loop, connection_handler(std::move(handler)), options);
    server handle(s);
    for (const auto& entry : results) {
        auto ep = entry.endpoint();
        s->listeners().push_back(
            detail::listen_on(loop, boost::asio::generic::stream_protocol::endpoint(ep), options,
                              detail::host_port(ep.address().to_string(), ep.port())));
    }
    s->start_serving();
    co_return handle;
}

/// asyncio.start_unix_server: as start_server, on a Unix socket at `path` (which must not
/// exist yet: remove a stale one first).
template <class Handler>
awaitable<server> start_unix_server(Handler handler, std::string path, server_options options) {
    detail::loop_core& loop = detail::require_running_loop();
    auto* s = new detail::server_state(loop, connection_handler(std::move(handler)), options);
    server handle(s);
    s->listeners().push_back(
        detail::listen_on(loop,
                          boost::asio::generic::stream_protocol::endpoint(
                              boost::asio::local::stream_protocol::endpoint(path)),
                          options, path));
    s->start_serving();
    co_return handle;
}

// Without options: functions of their own, not default arguments (see open_connection).

/// start_server with the default server_options.
template <class Handler>
awaitable<server> start_server(Handler handler, std::string host, std::uint16_t port) {
    return start_server(std::move(handler), std::move(host), port, server_options{});
}

/// start_unix_server with the default server_options.
template <class Handler>
awaitable<server> start_unix_server(Handler handler, std::string path) {
    return start_unix_server(std::move(handler), std::move(path), server_options{});
}

} // namespace aio

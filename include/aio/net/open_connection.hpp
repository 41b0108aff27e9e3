// aio/net/open_connection.hpp - open_connection, open_unix_connection: a client connection as a
// reader and a writer (asyncio.open_connection).
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/loop_core.hpp>
#include <aio/error.hpp>
#include <aio/net/detail/tls_layer.hpp>
#include <aio/net/detail/transport.hpp>
#include <aio/net/ssl_error.hpp>
#include <aio/net/stream_reader.hpp>
#include <aio/net/stream_writer.hpp>
#include <aio/wait.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

namespace aio {

/// Options of a stream connection, client or server side.
struct stream_options {
    /// The longest line or chunk readline/readuntil accept (asyncio's limit, 64 KiB).
    std::size_t limit = 64 * 1024;
    /// TCP_NODELAY: small writes go out at once (asyncio sets it on every TCP connection).
    bool no_delay = true;
    /// SO_KEEPALIVE.
    bool keep_alive = false;

    /// TLS (asyncio's ssl=): the context connections are made with, e.g.
    /// `aio::create_default_context()` from <aio/net/tls.hpp>; null (the default) for plain
    /// TCP. The handshake completes before open_connection returns or a server's handler runs.
    std::shared_ptr<const detail::tls_context> ssl;
    /// The name a client's TLS checks the server's certificate against and sends as SNI
    /// (asyncio's server_hostname); empty means the host open_connection was given.
    std::string server_hostname;
    /// How long the TLS handshake may take (asyncio's ssl_handshake_timeout, 60 s); then the
    /// connection is aborted.
    std::chrono::milliseconds ssl_handshake_timeout = std::chrono::seconds(60);
};

/// A connection's two halves, as open_connection returns them:
/// `auto [reader, writer] = co_await aio::open_connection("example.com", 80);`
struct stream_pair {
    stream_reader reader;
    stream_writer writer;
};

namespace detail {

/// Makes the reader and writer of a connected socket, with the options applied.
inline stream_pair make_streams(stream_socket socket, const stream_options& opt) {
    boost::system::error_code ignored;
    int family = socket.local_endpoint(ignored).data()->sa_family;
    if (family == AF_INET || family == AF_INET6) {
        socket.set_option(boost::asio::ip::tcp::no_delay(opt.no_delay), ignored);
    }
    if (opt.keep_alive) {
        socket.set_option(boost::asio::socket_base::keep_alive(true), ignored);
    }
    socket.non_blocking(true);
    auto* t = new transport(std::move(socket), opt.limit);
    transport_handle handle(t);
    t->record_addresses();
    if (running_loop != nullptr && running_loop->debug()) [[unlikely]] {
        t->track_on(*running_loop);
    }
    return {stream_reader(handle), stream_writer(handle)};
}

/// Connects a new socket to `ep`; gives the error instead of throwing it. Cancellation: the
/// socket is closed and cancelled_error thrown.
inline awaitable<boost::system::error_code>
connect_one(loop_core& loop, const boost::asio::generic::stream_protocol::endpoint& ep,
            stream_socket& out) {
    auto* t = new transport(stream_socket(loop.executor()), 0);
    transport_handle handle(t);
    boost::system::error_code ec;
    t->socket().open(ep.protocol(), ec);
    if (ec) {
        co_return ec;
    }
    io_waiter w;
    bool cancelled = co_await t->connect(ep, w);
    if (cancelled) {
        t->abort();
        throw cancelled_error();
    }
    ec = t->connect_error();
    if (!ec) {
        out = std::move(t->socket());
    }
    co_return ec;
}

/// Runs the TLS handshake of a new connection with `ctx`. Errors: ssl_error (a certificate
/// that does not verify: ssl_cert_verification_error), boost::system::system_error
/// (connection_aborted) after `limit`; either way the connection is aborted. Cancellation:
/// the connection is aborted and cancelled_error thrown.
inline awaitable<void> tls_handshake(transport_handle t, const tls_context& ctx, bool server_side,
                                     std::string server_hostname, std::chrono::milliseconds limit) {
    auto handshake = [&]() -> awaitable<void> {
        t->start_tls(ctx.make_session(server_side, server_hostname));
        while (!t->tls()->handshake_done()) {
            if (t->error()) {
                std::rethrow_exception(t->error());
            }
            if (t->eof()) {
                throw ssl_error("the peer closed the connection during the handshake");
            }
            io_waiter w;
            if (co_await t->receive(w)) {
                throw cancelled_error();
            }
        }
        if (t->error()) {
            std::rethrow_exception(t->error());
        }
    };
    try {
        co_await aio::timeout(limit, handshake);
    } catch (const timeout_error&) {
        t->abort();
        throw boost::system::system_error(boost::asio::error::connection_aborted,
                                          "aio: SSL handshake is taking longer than " +
                                              std::to_string(limit.count()) +
                                              " ms: aborting the connection");
    } catch (...) {
        t->abort();
        throw;
    }
}

inline std::string host_port(const std::string& host, std::uint16_t port) {
    return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
           std::to_string(port);
}

} // namespace detail

/// asyncio.open_connection: resolves `host` (a name or an address) and connects to `port`,
/// trying each resolved address in turn; returns the connection's reader and writer.
/// Errors: boost::system::system_error naming host and port - a name that does not resolve,
/// or the last address's error (connection refused, unreachable) when none accepts.
/// With options.ssl, the TLS handshake follows (checking the certificate against
/// options.server_hostname, by default `host`): errors as tls_handshake's - ssl_error,
/// ssl_cert_verification_error ("certificate verify failed: ..."), a timeout after
/// options.ssl_handshake_timeout.
/// Cancellation: while connecting or in the handshake, the attempt is abandoned (its socket
/// closed) and cancelled_error thrown; a name lookup in progress (run by Asio's resolver thread)
/// finishes first, then the next await throws.
inline awaitable<stream_pair> open_connection(std::string host, std::uint16_t port,
                                              stream_options options) {
    detail::loop_core& loop = detail::require_running_loop();
    boost::asio::ip::tcp::resolver resolver(loop.executor());
    auto [resolve_error, results] = co_await resolver.async_resolve(
        host, std::to_string(port), boost::asio::as_tuple(boost::asio::use_awaitable));
    if (resolve_error) {
        throw boost::system::system_error(resolve_error, "aio: open_connection: cannot resolve " +
                                                             detail::host_port(host, port));
    }
    boost::system::error_code last = boost::asio::error::host_not_found;
    for (const auto& entry : results) {
        detail::stream_socket socket(loop.executor());
        last = co_await detail::connect_one(
            loop, boost::asio::generic::stream_protocol::endpoint(entry.endpoint()), socket);
        if (!last) {
            stream_pair streams = detail::make_streams(std::move(socket), options);
            if (options.ssl) {
                // Named, not temporaries inside the co_await: GCC 12 destroys a ?: temporary
                // there twice.
                std::string name = options.server_hostname.empty() ? host : options.server_hostname;
                detail::transport_handle t(detail::stream_access::of(streams.writer));
                co_await detail::tls_handshake(std::move(t), *options.ssl, false, std::move(name),
                                               options.ssl_handshake_timeout);
            }
            co_return streams;
        }
    }
    throw boost::system::system_error(last, "aio: open_connection: cannot connect to " +
                                                detail::host_port(host, port));
}

/// asyncio.open_unix_connection: connects to the Unix socket at `path`. Errors and
/// cancellation as open_connection.
inline awaitable<stream_pair> open_unix_connection(std::string path, stream_options options) {
    detail::loop_core& loop = detail::require_running_loop();
    detail::stream_socket socket(loop.executor());
    boost::system::error_code ec =
        co_await detail::connect_one(loop,
                                     boost::asio::generic::stream_protocol::endpoint(
                                         boost::asio::local::stream_protocol::endpoint(path)),
                                     socket);
    if (ec) {
        throw boost::system::system_error(ec,
                                          "aio: open_unix_connection: cannot connect to " + path);
    }
    stream_pair streams = detail::make_streams(std::move(socket), options);
    if (options.ssl) {
        detail::transport_handle t(detail::stream_access::of(streams.writer));
        co_await detail::tls_handshake(std::move(t), *options.ssl, false, options.server_hostname,
                                       options.ssl_handshake_timeout);
    }
    co_return streams;
}

// The forms without options are functions of their own rather than default arguments: GCC 12
// destroys a default argument's temporary twice when the call is inside a co_await.

/// open_connection with the default stream_options (plain TCP).
inline awaitable<stream_pair> open_connection(std::string host, std::uint16_t port) {
    return open_connection(std::move(host), port, stream_options{});
}

/// open_unix_connection with the default stream_options.
inline awaitable<stream_pair> open_unix_connection(std::string path) {
    return open_unix_connection(std::move(path), stream_options{});
}

} // namespace aio

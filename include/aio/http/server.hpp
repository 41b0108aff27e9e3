// aio/http/server.hpp - serving an application over HTTP/1.1 (aiohttp's AppRunner + TCPSite,
// web.run_app).
#pragma once

#include <aio/awaitable.hpp>
#include <aio/error.hpp>
#include <aio/http/application.hpp>
#include <aio/http/detail/connection.hpp>
#include <aio/net/server.hpp>
#include <aio/net/socket_address.hpp>
#include <aio/run.hpp>
#include <aio/run_loops.hpp>
#include <aio/wait.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace aio::http {

/// A running HTTP server, from start_server (aiohttp's AppRunner with its TCPSite). A handle:
/// copies control the same server; keep one while it serves (the connections it is serving
/// go on without it, new ones are closed at once). Loop-affine.
class server {
public:
    server() = default;
    explicit server(std::shared_ptr<detail::server_state> s) noexcept : s_(std::move(s)) {}

    /// The port of the first listening socket: what port 0 picked.
    std::uint16_t port() const { return s_->listener.port(); }
    /// The addresses listened on (aiohttp's TCPSite.name, asyncio's server.sockets).
    std::vector<socket_address> sockets() const { return s_->listener.sockets(); }
    /// True while accepting connections.
    bool is_serving() const noexcept { return s_->listener.is_serving(); }
    /// The number of connections being served.
    std::size_t connections() const noexcept { return s_->active; }

    /// Stops accepting connections (the listening sockets close); the connections being
    /// served go on (aiohttp's site.stop() before the shutdown). Idempotent.
    void close() noexcept { s_->listener.close(); }

    /// The graceful shutdown, in aiohttp's order (AppRunner.cleanup): stops accepting,
    /// closes the idle keep-alive connections (and those still receiving a request's header),
    /// lets the requests in flight finish and closes their connections after the response
    /// (Connection: close), and once `timeout` has passed cancels the handlers still running
    /// and waits for them to end. Returns when no connection is left. Cancellation of the
    /// caller: cancels the handlers at once (as if the timeout had passed), waits for them,
    /// then throws cancelled_error. Never throws otherwise.
    awaitable<void> shutdown(std::chrono::steady_clock::duration timeout) {
        std::shared_ptr<detail::server_state> s = s_;
        s->listener.close();
        s->closing = true;
        for_each_connection(*s, [](detail::connection& c) { c.on_shutdown(); });
        if (s->active == 0) {
            co_return;
        }
        std::exception_ptr error;
        try {
            co_await aio::wait_for(s->drained.wait(), timeout);
        } catch (...) {
            error = std::current_exception();
        }
        if (!error) {
            co_return;
        }
        for_each_connection(*s, [](detail::connection& c) { c.cancel(); });
        if (s->active != 0) {
            co_await s->drained.wait();
        }
        if (is_cancellation(error)) {
            std::rethrow_exception(error);
        }
    }
    /// shutdown(timeout) with the server's options.shutdown_timeout (60 s by default).
    awaitable<void> shutdown() { return shutdown(s_->options.shutdown_timeout); }

    /// Serves until close() (aiohttp's run_app serving until a signal). Cancellation (aio::run
    /// on SIGINT or SIGTERM): runs shutdown() - in-flight requests finish, up to
    /// shutdown_timeout - then throws cancelled_error. Throws std::logic_error if the server
    /// is closed or already serving forever.
    awaitable<void> serve_forever() {
        std::shared_ptr<detail::server_state> s = s_;
        std::exception_ptr error;
        try {
            co_await s->listener.serve_forever();
        } catch (...) {
            error = std::current_exception();
        }
        if (error && is_cancellation(error)) {
            co_await shutdown();
        }
        if (error) {
            std::rethrow_exception(error);
        }
    }

private:
    template <class F>
    static void for_each_connection(detail::server_state& s, F f) {
        // Collected first: closing or cancelling one may end it, and unlink it, at once.
        std::vector<std::shared_ptr<detail::connection>> all;
        s.connections.for_each([&](detail::connection& c) { all.push_back(c.shared_from_this()); });
        for (auto& c : all) {
            f(*c);
        }
    }

    std::shared_ptr<detail::server_state> s_;
};

/// Serves `app` on `host`:`port` (aiohttp's AppRunner(app) + TCPSite(runner, host, port) +
/// site.start()): listens, and serves each connection in a task of its own on the running
/// loop, HTTP/1.1 with keep-alive and pipelining (answers in order). Takes a snapshot of the
/// application's routes and middlewares. Built on aio::start_server: `host` and `port` are
/// as there (port 0 picks one: server::port()), and options.reuse_port lets one loop per
/// thread (aio::run_loops) each serve the same port.
///
/// A handler's exception other than http_error becomes a 500 and is reported through the
/// loop's exception handler (naming the method, target and peer); the connection goes on. A
/// request that does not parse gets 400, one whose header is too large 431, one that
/// declares a body larger than client_max_size 413; each then closes its connection.
/// Errors: boost::system::system_error naming the address (in use, not resolvable).
/// Cancellation: as aio::start_server's name lookup.
inline awaitable<server> start_server(const application& app, std::string host, std::uint16_t port,
                                      server_options options) {
    auto state = std::make_shared<detail::server_state>(app, options);
    std::weak_ptr<detail::server_state> weak = state;
    // Named, not a temporary inside the co_await: GCC 12 (docs/streams.md).
    auto serve = [weak](stream_reader reader, stream_writer writer) -> awaitable<void> {
        std::shared_ptr<detail::server_state> s = weak.lock();
        if (!s || s->closing) {
            writer.abort();
            co_return;
        }
        co_await detail::connection::serve(std::move(s), std::move(reader), std::move(writer));
    };
    state->listener = co_await aio::start_server(serve, std::move(host), port, options);
    co_return server(std::move(state));
}

/// start_server with the default server_options: a function of its own, not a default argument
/// (GCC 12 destroys a default argument's temporary twice when the call is inside a co_await).
inline awaitable<server> start_server(const application& app, std::string host,
                                      std::uint16_t port) {
    return start_server(app, std::move(host), port, server_options{});
}

/// Options of run_app: the server's, where to listen, and how many loops.
struct run_app_options : server_options {
    /// The interface to listen on (aiohttp: every interface, 0.0.0.0).
    std::string host = "0.0.0.0";
    /// The port (aiohttp's 8080); 0 picks one (printed).
    std::uint16_t port = 8080;
    /// Loops on threads of their own serving the port together (aio::run_loops, with
    /// reuse_port); 1 runs on the calling thread.
    std::size_t loops = 1;
    /// Print "======== Running on http://host:port ========" once listening (aiohttp's
    /// print).
    bool print = true;
};

/// aiohttp's web.run_app: runs a loop (aio::run, or aio::run_loops for options.loops > 1),
/// serves `app` until SIGINT or SIGTERM, then shuts down gracefully (server::shutdown, up to
/// options.shutdown_timeout) and returns. Errors: what start_server throws (the address in
/// use, ...) leaves run_app. Blocks the calling thread, which must not run a loop already.
inline void run_app(const application& app, run_app_options options = {}) {
    auto main = [&app, &options](std::size_t index) -> awaitable<void> {
        server_options serving = options;
        serving.reuse_port = serving.reuse_port || options.loops > 1;
        server srv = co_await start_server(app, options.host, options.port, serving);
        if (index == 0 && options.print) {
            std::cout << "======== Running on " << (options.ssl ? "https" : "http") << "://"
                      << options.host << ':' << srv.port() << " ========\n(Press CTRL+C to quit)"
                      << std::endl;
        }
        co_await srv.serve_forever();
    };
    try {
        if (options.loops <= 1) {
            aio::run([&main]() { return main(0); });
        } else {
            aio::run_loops(options.loops, main);
        }
    } catch (const interrupted_error&) {
        // SIGINT or SIGTERM: the way a served application ends (aiohttp's GracefulExit)
    }
}

} // namespace aio::http

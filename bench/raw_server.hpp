// raw_server.hpp - what the raw Asio servers in bench/ share: reading the PORT argument, and a
// single-threaded io_context that runs one coroutine per accepted connection on 127.0.0.1 until
// SIGINT or SIGTERM. Each server supplies only its connection coroutine.
#pragma once

#include <boost/asio.hpp>

#include <charconv>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <exception>
#include <iostream>
#include <optional>

namespace raw_server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

/// PORT as a number in 1..65535, or nothing.
inline std::optional<std::uint16_t> parse_port(const char* text) {
    unsigned value = 0;
    const char* end = text + std::strlen(text);
    auto [rest, ec] = std::from_chars(text, end, value);
    if (ec != std::errc() || rest != end || value == 0 || value > 65535) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(value);
}

/// Starts `serve_connection(socket)` as a coroutine per connection; an accept error ends the
/// server.
template <class ServeConnection>
asio::awaitable<void> accept_connections(tcp::acceptor acceptor, ServeConnection serve_connection) {
    for (;;) {
        tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
        asio::co_spawn(acceptor.get_executor(), serve_connection(std::move(socket)),
                       asio::detached);
    }
}

/// The whole main() of a server named `name` taking `PORT`: exit 0 when stopped by a signal, 1
/// when the port cannot be served (the error printed), 2 on a bad argument.
template <class ServeConnection>
int serve_main(int argc, char** argv, const char* name, ServeConnection serve_connection) {
    std::optional<std::uint16_t> port = argc == 2 ? parse_port(argv[1]) : std::nullopt;
    if (!port) {
        std::cerr << "usage: " << name << " PORT   (PORT in 1..65535)\n";
        return 2;
    }
    try {
        asio::io_context context(1);
        tcp::acceptor acceptor(context, tcp::endpoint(asio::ip::address_v4::loopback(), *port));
        asio::signal_set signals(context, SIGINT, SIGTERM);
        signals.async_wait([&](boost::system::error_code, int) { context.stop(); });
        auto rethrow = [](std::exception_ptr e) {
            if (e) {
                std::rethrow_exception(e); // out of context.run()
            }
        };
        asio::co_spawn(context, accept_connections(std::move(acceptor), serve_connection), rethrow);
        context.run();
    } catch (const boost::system::system_error& e) {
        std::cerr << name << ": " << e.code().message() << '\n';
        return 1;
    }
    return 0;
}

} // namespace raw_server

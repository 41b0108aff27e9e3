// raw_echo_server: a TCP echo server written directly on Boost.Asio (co_spawn + use_awaitable,
// one coroutine per connection, one thread): the floor that aio's echo server is measured
// against, with the same echo logic as examples/echo_server.cpp.
//
//   g++ -std=c++20 -O2 bench/raw_echo_server.cpp -pthread -o raw_echo_server
//   ./raw_echo_server PORT        serves on 127.0.0.1:PORT; SIGINT or SIGTERM stops it (exit 0)
#include <boost/asio.hpp>

#include <charconv>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <exception>
#include <iostream>
#include <optional>
#include <vector>

namespace asio = boost::asio;
using asio::ip::tcp;

// Echoes until the client closes the connection or an error ends it.
asio::awaitable<void> echo(tcp::socket socket) {
    std::vector<char> buffer(64 * 1024);
    try {
        socket.set_option(tcp::no_delay(true));
        for (;;) {
            std::size_t n =
                co_await socket.async_read_some(asio::buffer(buffer), asio::use_awaitable);
            co_await asio::async_write(socket, asio::buffer(buffer, n), asio::use_awaitable);
        }
    } catch (const boost::system::system_error&) {
        // end of stream or a connection error: only this connection ends
    }
}

// Starts one echo coroutine per connection; an accept error ends the server.
asio::awaitable<void> accept_connections(tcp::acceptor acceptor) {
    for (;;) {
        tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
        asio::co_spawn(acceptor.get_executor(), echo(std::move(socket)), asio::detached);
    }
}

std::optional<std::uint16_t> parse_port(const char* text) {
    unsigned value = 0;
    const char* end = text + std::strlen(text);
    auto [rest, ec] = std::from_chars(text, end, value);
    if (ec != std::errc() || rest != end || value == 0 || value > 65535) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(value);
}

int main(int argc, char** argv) {
    std::optional<std::uint16_t> port = argc == 2 ? parse_port(argv[1]) : std::nullopt;
    if (!port) {
        std::cerr << "usage: raw_echo_server PORT   (PORT in 1..65535)\n";
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
        asio::co_spawn(context, accept_connections(std::move(acceptor)), rethrow);
        context.run();
    } catch (const boost::system::system_error& e) {
        std::cerr << "raw_echo_server: " << e.code().message() << '\n';
        return 1;
    }
    return 0;
}

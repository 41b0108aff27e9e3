// raw_hello_server: an HTTP/1.1 "Hello, world" server written directly on Boost.Beast (co_spawn
// + use_awaitable, one coroutine per connection, one thread, keep-alive): the floor for aio's
// HTTP layer, and the C++ peer of the aiohttp hello server.
//
//   g++ -std=c++20 -O2 bench/raw_hello_server.cpp -pthread -o raw_hello_server
//   ./raw_hello_server PORT       serves on 127.0.0.1:PORT; SIGINT or SIGTERM stops it (exit 0)
//   wrk -t1 -c64 -d10s http://127.0.0.1:PORT/
//
// GET / answers 200 text/plain "Hello, world"; anything else 404. A request that does not parse
// closes the connection.
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <charconv>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <exception>
#include <iostream>
#include <optional>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

http::response<http::string_body> answer(const http::request<http::string_body>& request) {
    bool hello = request.method() == http::verb::get && request.target() == "/";
    http::response<http::string_body> response(hello ? http::status::ok : http::status::not_found,
                                               request.version());
    response.set(http::field::content_type, "text/plain; charset=utf-8");
    response.body() = hello ? "Hello, world" : "Not Found";
    response.keep_alive(request.keep_alive());
    response.prepare_payload();
    return response;
}

// Serves requests on one connection until the client closes it, asks to (need_eof), sends a
// request that does not parse, or an error ends it.
asio::awaitable<void> serve_connection(tcp::socket socket) {
    beast::flat_buffer buffer;
    try {
        socket.set_option(tcp::no_delay(true));
        for (;;) {
            http::request<http::string_body> request;
            co_await http::async_read(socket, buffer, request, asio::use_awaitable);
            http::response<http::string_body> response = answer(request);
            co_await http::async_write(socket, response, asio::use_awaitable);
            if (response.need_eof()) {
                break;
            }
        }
    } catch (const boost::system::system_error&) {
        // end of stream, a bad request or a connection error: only this connection ends
    }
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_send, ignored);
}

// Starts one coroutine per connection; an accept error ends the server.
asio::awaitable<void> accept_connections(tcp::acceptor acceptor) {
    for (;;) {
        tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
        asio::co_spawn(acceptor.get_executor(), serve_connection(std::move(socket)),
                       asio::detached);
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
        std::cerr << "usage: raw_hello_server PORT   (PORT in 1..65535)\n";
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
        std::cerr << "raw_hello_server: " << e.code().message() << '\n';
        return 1;
    }
    return 0;
}

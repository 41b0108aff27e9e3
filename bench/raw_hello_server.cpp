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
#include "raw_server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

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

int main(int argc, char** argv) {
    return raw_server::serve_main(argc, argv, "raw_hello_server", serve_connection);
}

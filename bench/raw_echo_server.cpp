// raw_echo_server: a TCP echo server written directly on Boost.Asio (co_spawn + use_awaitable,
// one coroutine per connection, one thread): the floor that aio's echo server is measured
// against: bench/aio_echo_server.cpp does the same on aio's streams.
//
//   g++ -std=c++20 -O2 bench/raw_echo_server.cpp -pthread -o raw_echo_server
//   ./raw_echo_server PORT        serves on 127.0.0.1:PORT; SIGINT or SIGTERM stops it (exit 0)
#include "raw_server.hpp"

#include <boost/asio.hpp>

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

int main(int argc, char** argv) {
    return raw_server::serve_main(argc, argv, "raw_echo_server", echo);
}

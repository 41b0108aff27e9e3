// aio_echo_server: a TCP echo server on aio's streams, the program of bench/peers/echo_server.py
// (asyncio streams: read what arrived, write it back, drain, until EOF or a connection error) in
// the zero-copy form docs/streams.md gives for it: fill() reads the socket into the reader's
// buffer, write() sends straight from it, consume() drops it - the bytes are copied by the
// kernel only, as in raw_echo_server. (`std::string chunk = co_await reader.read(65536);
// writer.write(std::move(chunk));` does the same with an allocation and a copy per message.)
// The echo rows of bench/compare.sh drive it with bench/echo_load against raw_echo_server and
// the Python peers.
//
//   ./aio_echo_server PORT        serves on 127.0.0.1:PORT; SIGINT or SIGTERM stops it (exit 0)
#include "raw_server.hpp" // parse_port, shared with the raw servers

#include <aio/aio.hpp>
#include <aio/streams.hpp>

#include <cstddef>
#include <cstdint>
#include <iostream>
#include <optional>

aio::awaitable<void> echo(aio::stream_reader reader, aio::stream_writer writer) {
    try {
        for (;;) {
            std::size_t got = co_await reader.fill(); // nothing was buffered: got is all of it
            if (got == 0) {
                break; // EOF
            }
            writer.write(reader.buffered());
            reader.consume(got);
            co_await writer.drain();
        }
    } catch (const boost::system::system_error&) {
        // a connection error: only this connection ends
    }
    writer.close();
}

int main(int argc, char** argv) {
    std::optional<std::uint16_t> port = argc == 2 ? raw_server::parse_port(argv[1]) : std::nullopt;
    if (!port) {
        std::cerr << "usage: aio_echo_server PORT   (PORT in 1..65535)\n";
        return 2;
    }
    try {
        // SIGINT/SIGTERM cancel main: serve_forever closes the server; run's shutdown then
        // cancels the connections' handlers.
        aio::run([port]() -> aio::awaitable<void> {
            aio::server server = co_await aio::start_server(echo, "127.0.0.1", *port);
            co_await server.serve_forever();
        });
    } catch (const aio::interrupted_error&) {
        return 0;
    } catch (const boost::system::system_error& e) {
        std::cerr << "aio_echo_server: " << e.what() << '\n';
        return 1;
    }
    return 0;
}

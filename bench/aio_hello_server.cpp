// aio_hello_server: the HTTP "Hello, world" server of bench/raw_hello_server.cpp (raw Beast) and
// bench/peers/hello_server.py (aiohttp), on aio's HTTP layer. The http_hello row of
// bench/compare.sh drives the three with wrk.
//
//   ./aio_hello_server PORT       serves on 127.0.0.1:PORT; SIGINT or SIGTERM stops it (exit 0)
//
// GET / answers 200 text/plain "Hello, world"; anything else 404.
#include "raw_server.hpp" // parse_port, shared with the raw servers

#include <aio/http/boost_sources.hpp>
#include <aio/http/server.hpp>

#include <cstdint>
#include <iostream>
#include <optional>

aio::awaitable<aio::http::response> hello(aio::http::request&) {
    co_return aio::http::response::text("Hello, world");
}

int main(int argc, char** argv) {
    std::optional<std::uint16_t> port = argc == 2 ? raw_server::parse_port(argv[1]) : std::nullopt;
    if (!port) {
        std::cerr << "usage: aio_hello_server PORT   (PORT in 1..65535)\n";
        return 2;
    }
    aio::http::application app;
    app.get("/", hello);
    aio::http::run_app_options options;
    options.host = "127.0.0.1";
    options.port = *port;
    options.print = false;
    try {
        aio::http::run_app(app, options);
    } catch (const boost::system::system_error& e) {
        std::cerr << "aio_hello_server: " << e.what() << '\n';
        return 1;
    }
    return 0;
}

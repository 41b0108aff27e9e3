// echo_server: a TCP echo server made of aio tasks over Boost.Asio sockets - one task per
// connection, graceful shutdown on SIGINT/SIGTERM. Without arguments it serves on a free port,
// talks to itself with three clients, and exits; with --port PORT it serves until interrupted.
//
//   ./echo_server                 demo: three clients echo a few messages through the server
//   ./echo_server --port PORT     serves on 127.0.0.1:PORT until SIGINT or SIGTERM (exit 0)
#include <aio/aio.hpp>

#include <boost/asio.hpp>

#include <charconv>
#include <cstdint>
#include <cstring>
#include <exception>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace asio = boost::asio;
using asio::ip::tcp;

// One connection: echoes until the client closes it. An error ends this connection only; a
// cancellation (the server shutting down) is let through, so the task ends cancelled.
aio::awaitable<void> echo(tcp::socket socket) {
    std::vector<char> buffer(64 * 1024);
    try {
        socket.set_option(tcp::no_delay(true));
        for (;;) {
            std::size_t n =
                co_await socket.async_read_some(asio::buffer(buffer), asio::use_awaitable);
            co_await asio::async_write(socket, asio::buffer(buffer, n), asio::use_awaitable);
        }
    } catch (const boost::system::system_error&) {
        if (aio::is_cancellation(std::current_exception())) {
            throw;
        }
    }
}

// Accepts connections, one task each; the loop keeps the tasks alive. Cancelling serve stops
// accepting; aio::run's shutdown then cancels the connections still open.
aio::awaitable<void> serve(tcp::acceptor acceptor) {
    for (;;) {
        tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
        aio::create_task(echo(std::move(socket)));
    }
}

aio::awaitable<tcp::acceptor> listen(std::uint16_t port) {
    aio::loop loop = co_await aio::this_loop();
    co_return tcp::acceptor(loop.get_executor(), {asio::ip::address_v4::loopback(), port});
}

// A client: sends each message, reads the echo back and checks it; returns the bytes echoed.
aio::awaitable<std::size_t> client(tcp::endpoint server, int id) {
    aio::loop loop = co_await aio::this_loop();
    tcp::socket socket(loop.get_executor());
    co_await socket.async_connect(server, asio::use_awaitable);
    std::size_t echoed = 0;
    for (int i = 1; i <= 3; ++i) {
        std::string message = "message " + std::to_string(i) + " from client " + std::to_string(id);
        co_await asio::async_write(socket, asio::buffer(message), asio::use_awaitable);
        std::string reply(message.size(), '\0');
        co_await asio::async_read(socket, asio::buffer(reply), asio::use_awaitable);
        if (reply != message) {
            throw std::runtime_error("client " + std::to_string(id) + ": wrong echo: " + reply);
        }
        echoed += reply.size();
    }
    co_return echoed;
}

aio::awaitable<void> demo() {
    tcp::acceptor acceptor = co_await listen(0); // port 0: any free port
    tcp::endpoint endpoint = acceptor.local_endpoint();
    aio::task<void> server = aio::create_task(serve(std::move(acceptor)), "server");

    auto [a, b, c] =
        co_await aio::gather(client(endpoint, 1), client(endpoint, 2), client(endpoint, 3));
    std::cout << "3 clients, 3 messages each: " << a << ", " << b << " and " << c
              << " bytes echoed back intact\n";

    server.cancel();
    co_await server.wait_done();
    std::cout << "server cancelled: " << std::boolalpha << server.cancelled() << '\n';
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
    if (argc == 1) {
        aio::run(demo());
        return 0;
    }
    std::optional<std::uint16_t> port =
        argc == 3 && std::strcmp(argv[1], "--port") == 0 ? parse_port(argv[2]) : std::nullopt;
    if (!port) {
        std::cerr << "usage: echo_server [--port PORT]   (PORT in 1..65535)\n";
        return 2;
    }
    try {
        // SIGINT/SIGTERM cancel main (serve stops accepting); run's shutdown then cancels the
        // connection tasks, waits for them to end, and throws interrupted_error.
        aio::run([port]() -> aio::awaitable<void> { co_await serve(co_await listen(*port)); });
    } catch (const aio::interrupted_error& e) {
        std::cerr << "echo_server: " << e.what() << ", stopped\n";
    } catch (const boost::system::system_error& e) {
        std::cerr << "echo_server: " << e.code().message() << '\n';
        return 1;
    }
    return 0;
}

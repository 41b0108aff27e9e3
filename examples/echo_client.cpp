// echo_client: a client of echo_server (asyncio.open_connection): sends lines, prints what
// comes back, then half-closes and reads until the server closes the connection.
//
//   ./echo_client                                  demo: against an upper-casing echo server
//                                                  that it starts itself on a free port
//   ./echo_client [--host HOST] --port PORT [LINE...]
//                                                  sends each LINE (default: two lines) to the
//                                                  echo server at HOST (127.0.0.1) : PORT
#include <aio/aio.hpp>
#include <aio/streams.hpp>

#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

aio::awaitable<void> talk(std::string host, std::uint16_t port, std::vector<std::string> lines) {
    auto [reader, writer] = co_await aio::open_connection(host, port);
    std::cout << "connected\n";
    for (const std::string& line : lines) {
        writer.write(line + '\n');
        co_await writer.drain();
        std::string reply = co_await reader.readline();
        if (reply.empty()) {
            std::cout << "the server closed the connection\n";
            co_return;
        }
        std::cout << "sent: " << line << "  got: " << reply;
    }
    writer.write_eof(); // as Ctrl-D in telnet: the server sees EOF and closes its side
    std::string rest = co_await reader.read();
    std::cout << "the server closed the connection" << (rest.empty() ? "" : " after: " + rest)
              << '\n';
    writer.close();
    co_await writer.wait_closed();
}

// The demo's server: echo_server's handler without the shutdown goodbye.
aio::awaitable<void> upper_echo(aio::stream_reader reader, aio::stream_writer writer) {
    while (true) {
        std::string data = co_await reader.readline();
        if (data.empty()) {
            break;
        }
        for (char& c : data) {
            c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
        writer.write(std::move(data));
        co_await writer.drain();
    }
    writer.close();
}

aio::awaitable<void> demo() {
    aio::server server = co_await aio::start_server(upper_echo, "127.0.0.1", 0);
    std::vector<std::string> lines{"hello from the client", "second line"};
    co_await talk("127.0.0.1", server.port(), std::move(lines));
    server.close();
    co_await server.wait_closed(); // the handler has ended too
    std::cout << "server closed\n";
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

} // namespace

int main(int argc, char** argv) {
    if (argc == 1) {
        aio::run(demo());
        return 0;
    }
    std::string host = "127.0.0.1";
    std::optional<std::uint16_t> port;
    std::vector<std::string> lines;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--host" && i + 1 < argc) {
            host = argv[++i];
        } else if (arg == "--port" && i + 1 < argc) {
            port = parse_port(argv[++i]);
            if (!port) {
                break;
            }
        } else {
            lines.emplace_back(arg);
        }
    }
    if (!port) {
        std::cerr
            << "usage: echo_client [--host HOST] --port PORT [LINE...]   (PORT in 1..65535)\n";
        return 2;
    }
    if (lines.empty()) {
        lines = {"hello", "second line"};
    }
    try {
        aio::run(talk(host, *port, std::move(lines)));
    } catch (const aio::interrupted_error& e) { // Ctrl-C
        std::cerr << "echo_client: " << e.what() << '\n';
        return 1;
    } catch (const boost::system::system_error& e) { // refused, reset, not resolvable
        std::cerr << "echo_client: " << host << " port " << *port << ": " << e.code().message()
                  << '\n';
        return 1;
    }
    return 0;
}

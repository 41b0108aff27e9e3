// echo_server: the aio port of the book's Telnet echo server (chapter 3's telnetdemo.py, with a
// goodbye line): asyncio.start_server, each connection's lines sent back upper-cased. On
// SIGINT or SIGTERM every client gets "Server shutting down, goodbye!" and is closed; the task
// each handler creates while cancelled (send_event) still runs - aio::run's shutdown runs the
// tasks created during it to their end - and the program prints "Bye!" and exits 0.
//
//   ./echo_server              demo: serves on a free port, runs the book's test client on a
//                              thread of its own, which presses Ctrl-C itself; then prints what
//                              the client received
//   ./echo_server [--host HOST] [--port PORT] [--loops N]
//                              serves on HOST (127.0.0.1) : PORT (8888) until SIGINT/SIGTERM
//
// --loops N (default 1): aio::run_loops runs the book's main() on N loops, each on its own
// thread (the main thread's is loop 0), each with a server on the same port (server_options::
// reuse_port: the kernel spreads the connections over them). SIGINT or SIGTERM cancels every
// loop's main, all shut down gracefully at once, and then the program prints "Bye!".
//
// With AIO_ECHO_DEBUG set in the environment it also prints "debug: ..." lines: each loop's
// port once it serves, and which loop serves which client (for tests/echo_server_client.py).
#include <aio/aio.hpp>
#include <aio/run_loops.hpp>
#include <aio/streams.hpp>

#include <cctype>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace {

const bool debug = std::getenv("AIO_ECHO_DEBUG") != nullptr;

// print(line, flush=True): one write per line, so that loops on several threads never mix
// their lines.
void print(const std::string& line) {
    std::cout << line + '\n' << std::flush;
}

std::string upper(std::string data) {
    for (char& c : data) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return data;
}

aio::awaitable<void> send_event(std::string msg) {
    co_await aio::sleep(1s);
    print("Event sent: " + msg);
}

aio::awaitable<void> echo(aio::stream_reader reader, aio::stream_writer writer) {
    print("New connection.");
    struct finally_close {
        aio::stream_writer& writer;
        ~finally_close() { writer.close(); }
    } finally{writer};
    bool cancelled = false;
    try {
        while (true) {
            std::string data = co_await reader.readline();
            if (data.empty()) {
                break;
            }
            writer.write(upper(std::move(data)));
            co_await writer.drain();
        }
        print("Leaving Connection.");
    } catch (const aio::cancelled_error&) {
        cancelled = true; // C++ cannot co_await in a catch block: the except body follows it
    }
    if (cancelled) {
        std::string msg = "Connection dropped!";
        print(msg);
        writer.write("Server shutting down, goodbye!\n");
        co_await writer.drain();
        aio::create_task(send_event(msg)); // run's shutdown lets it finish
    }
}

struct settings {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8888;
    int loops = 1;
};

// The book's main(), for loop `index`; `serving` (if any) is told the port once it serves.
aio::awaitable<void> amain(settings s, int index,
                           std::function<void(std::uint16_t)> serving = nullptr) {
    aio::server_options options;
    options.reuse_port = s.loops > 1;
    auto handler = [index](aio::stream_reader reader, aio::stream_writer writer) {
        if (debug) {
            print("debug: loop " + std::to_string(index) + " serves " +
                  writer.peername().to_string());
        }
        return echo(std::move(reader), std::move(writer));
    };
    aio::server server = co_await aio::start_server(handler, s.host, s.port, options);
    if (debug) {
        print("debug: loop " + std::to_string(index) + " serving on port " +
              std::to_string(server.port()));
    }
    if (serving) {
        serving(server.port());
    }
    auto serve_forever = [](aio::server& srv) { return srv.serve_forever(); };
    co_await aio::with(server, serve_forever); // async with server: ...
}

// The book's asyncio.run(main()), on s.loops loops stopped together (see the top).
int serve(const settings& s) {
    auto main = [&s](std::size_t index) { return amain(s, static_cast<int>(index)); };
    try {
        aio::run_loops(static_cast<std::size_t>(s.loops), main);
    } catch (const aio::interrupted_error&) {
        print("Bye!"); // except KeyboardInterrupt: print('Bye!') - once every loop is done
    } catch (const std::exception& e) {
        std::cerr << "echo_server: " << e.what() << '\n';
        return 1;
    }
    return 0;
}

// The demo: the book's test client (p7_client.py), on a thread and a loop of its own, as the
// process of its own it is in the book: three connections send two lines each and read the
// replies; #2 half-closes and reads to EOF (the server's handler leaves); then Ctrl-C, and
// #0 and #1 read what the server sends until it closes them. It returns what it would print,
// printed by main once the server is down, so that the lines come in a fixed order.

// Python's repr() of bytes, for the characters the demo meets.
std::string repr(std::string_view data) {
    std::string out = "b'";
    for (char c : data) {
        out += c == '\n' ? "\\n" : c == '\'' ? "\\'" : c == '\\' ? "\\\\" : std::string(1, c);
    }
    return out + "'";
}

aio::awaitable<std::vector<std::string>> book_client(std::uint16_t port, bool& pressed_ctrl_c) {
    std::vector<std::string> out;
    std::vector<aio::stream_pair> socks;
    for (int i = 0; i < 3; ++i) {
        aio::stream_pair sock = co_await aio::open_connection("127.0.0.1", port);
        socks.push_back(std::move(sock));
    }
    for (int i = 0; i < 3; ++i) {
        aio::stream_pair& sock = socks[static_cast<std::size_t>(i)];
        sock.writer.write("hello from client " + std::to_string(i) + "\n");
        sock.writer.write("second line\n");
        std::string first = co_await sock.reader.readline();
        std::string second = co_await sock.reader.readline();
        out.push_back("client " + std::to_string(i) + " reply: " + repr(first) + " " +
                      repr(second));
    }
    socks[2].writer.write_eof();
    std::string rest = co_await socks[2].reader.read();
    out.push_back("client 2 after shutdown: " + repr(rest));
    pressed_ctrl_c = true;
    std::raise(SIGINT); // this loop does not handle signals; the server's does
    for (std::size_t i : {0u, 1u}) {
        std::string got = co_await aio::wait_for(socks[i].reader.read(), 6s);
        out.push_back("client " + std::to_string(i) + " got at close: " + repr(got));
    }
    co_return out;
}

int demo() {
    settings s;
    s.port = 0; // any free port
    std::thread client;
    std::vector<std::string> client_lines;
    std::exception_ptr client_error;
    bool pressed_ctrl_c = false;
    auto start_client = [&](std::uint16_t port) {
        client = std::thread([&, port] {
            try {
                client_lines = aio::run(book_client(port, pressed_ctrl_c),
                                        aio::run_options{.handle_signals = false});
            } catch (...) {
                client_error = std::current_exception();
                if (!pressed_ctrl_c) {
                    std::raise(SIGINT); // the server must not wait for a client that is gone
                }
            }
        });
    };
    bool interrupted = false;
    try {
        aio::run(amain(s, 0, start_client));
    } catch (const aio::interrupted_error&) {
        interrupted = true;
    }
    if (client.joinable()) {
        client.join();
    }
    if (client_error) {
        try {
            std::rethrow_exception(client_error);
        } catch (const std::exception& e) {
            std::cerr << "echo_server: the demo's client failed: " << e.what() << '\n';
            return 1;
        }
    }
    for (const std::string& line : client_lines) {
        print(line);
    }
    if (interrupted) {
        print("Bye!");
    }
    return 0;
}

std::optional<long> parse_number(const char* text, long low, long high) {
    long value = 0;
    const char* end = text + std::strlen(text);
    auto [rest, ec] = std::from_chars(text, end, value);
    if (ec != std::errc() || rest != end || value < low || value > high) {
        return std::nullopt;
    }
    return value;
}

// --host HOST --port PORT --loops N, each optional; false if anything else is given.
bool parse(int argc, char** argv, settings& s) {
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string_view option = argv[i];
        if (option == "--host") {
            s.host = argv[i + 1];
        } else if (option == "--port") {
            std::optional<long> port = parse_number(argv[i + 1], 0, 65535);
            if (!port) {
                return false;
            }
            s.port = static_cast<std::uint16_t>(*port);
        } else if (option == "--loops") {
            std::optional<long> loops = parse_number(argv[i + 1], 1, 64);
            if (!loops) {
                return false;
            }
            s.loops = static_cast<int>(*loops);
        } else {
            return false;
        }
    }
    // Port 0 would give each loop a port of its own.
    return argc % 2 == 1 && (s.port != 0 || s.loops == 1);
}

} // namespace

int main(int argc, char** argv) {
    if (argc == 1) {
        return demo();
    }
    settings s;
    if (!parse(argc, argv, s)) {
        std::cerr << "usage: echo_server [--host HOST] [--port PORT] [--loops N]\n"
                     "  (PORT in 0..65535, default 8888, not 0 with N > 1; N in 1..64)\n";
        return 2;
    }
    return serve(s);
}

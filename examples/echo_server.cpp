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
// --loops N (default 1): N loops, each its own aio::run on its own thread (the main thread's is
// loop 0), each with a server on the same port (server_options::reuse_port: the kernel spreads
// the connections over them). Only loop 0 handles SIGINT and SIGTERM (run_options::
// handle_signals is off for the others); when its main task ends - cancelled by the signal - it
// posts a cancel of the other loops' main tasks (loop::call_soon_threadsafe), so that all of
// them shut down gracefully at once; the main thread joins them, then prints "Bye!".
//
// With AIO_ECHO_DEBUG set in the environment it also prints "debug: ..." lines: each loop's
// port once it serves, and which loop serves which client (for tests/echo_server_client.py).
#include <aio/aio.hpp>
#include <aio/streams.hpp>

#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <future>
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

// --loops N: loops 1..N-1, each on a thread of its own, stopped by loop 0.

// Runs on one of those loops, posted there by loop 0: cancels its main task (the one
// runner::run names "main"), as the signal does to loop 0's.
void cancel_main() {
    for (aio::any_task& task : aio::all_tasks()) {
        if (task.name() == "main") {
            task.cancel();
        }
    }
}

void run_other_loop(settings s, int index, std::promise<aio::loop> started,
                    std::atomic<bool>& failed) {
    try {
        aio::runner runner(aio::run_options{.handle_signals = false});
        started.set_value(runner.get_loop());
        try {
            runner.run(amain(s, index));
        } catch (const aio::cancelled_error&) {
            // stopped by loop 0
        }
        runner.close(); // the graceful shutdown: the handlers say goodbye, send_event runs
    } catch (const std::exception& e) {
        std::cerr << "echo_server: loop " << index << ": " << e.what() << '\n';
        failed = true;
    }
}

class other_loops {
public:
    explicit other_loops(const settings& s) {
        for (int i = 1; i < s.loops; ++i) {
            std::promise<aio::loop> started;
            std::future<aio::loop> loop = started.get_future();
            threads_.emplace_back(run_other_loop, s, i, std::move(started), std::ref(failed_));
            loops_.push_back(loop.get());
        }
    }
    // Cancels their main tasks, once (a second cancel would interrupt their cleanup).
    void stop() {
        if (std::exchange(stopped_, true)) {
            return;
        }
        for (aio::loop& loop : loops_) {
            try {
                loop.call_soon_threadsafe(cancel_main);
            } catch (const std::runtime_error&) {
                // that loop is closed already: it failed
            }
        }
    }
    // Waits for them; false if one failed.
    bool join() {
        stop();
        for (std::thread& t : threads_) {
            t.join();
        }
        return !failed_;
    }

private:
    std::vector<aio::loop> loops_;
    std::vector<std::thread> threads_;
    std::atomic<bool> failed_ = false;
    bool stopped_ = false;
};

// Loop 0's main: the book's main(), then - cancelled by the signal, or failed - stops the others.
aio::awaitable<void> serve_then_stop(settings s, other_loops& others) {
    std::exception_ptr ended;
    try {
        co_await amain(s, 0);
    } catch (...) {
        ended = std::current_exception();
    }
    others.stop();
    if (ended) {
        std::rethrow_exception(ended);
    }
}

int serve(const settings& s) {
    other_loops others(s);
    int status = 0;
    try {
        aio::run(serve_then_stop(s, others));
    } catch (const aio::interrupted_error&) {
        // except KeyboardInterrupt: print('Bye!') - once the other loops are done too
    } catch (const std::exception& e) {
        std::cerr << "echo_server: " << e.what() << '\n';
        status = 1;
    }
    if (!others.join()) {
        status = 1;
    }
    if (status == 0) {
        print("Bye!");
    }
    return status;
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

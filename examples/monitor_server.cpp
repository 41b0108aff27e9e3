// monitor_server: a small job server with the task monitor on (aio::start_monitor, Python's
// aiomonitor). Clients send job lines over TCP; two workers take them from a queue; a
// heartbeat task sleeps between beats; SIGUSR1 asks for a reload.
//
//   ./monitor_server           runs a scripted monitor client against itself (port 0), prints
//                              what it sends and what it sees, shuts down, exits 0
//   ./monitor_server --serve [--port PORT]
//                              serves jobs on a free port and the monitor on 127.0.0.1:PORT
//                              (20101) until SIGINT or SIGTERM, then exits 0; talk to it with
//                              `nc localhost 20101`
#include <aio/aio.hpp>
#include <aio/monitor.hpp>
#include <aio/streams.hpp>

#include <charconv>
#include <chrono>
#include <csignal>
#include <iostream>
#include <string>
#include <string_view>

using namespace std::chrono_literals;

// The job server: each line a client sends is a job for the workers.
struct job_server {
    aio::queue<std::string> jobs;
    aio::event reloaded;

    aio::awaitable<void> take_jobs(aio::stream_reader reader, aio::stream_writer writer) {
        for (;;) {
            std::string line = co_await reader.readline();
            if (line.empty()) {
                break;
            }
            co_await jobs.put(std::move(line));
            writer.write("queued\n");
        }
    }

    aio::awaitable<void> worker() {
        for (;;) {
            std::string job = co_await jobs.get();
            co_await aio::sleep(10ms); // the work
            jobs.task_done();
        }
    }

    aio::awaitable<void> heartbeat() {
        for (;;) {
            co_await aio::sleep(1h);
        }
    }

    /// Starts the server, the workers and the heartbeat; SIGUSR1 "reloads".
    aio::awaitable<aio::server> start(std::vector<aio::any_task>& tasks) {
        auto handler = [this](aio::stream_reader r, aio::stream_writer w) {
            return take_jobs(std::move(r), std::move(w));
        };
        aio::server server = co_await aio::start_server(handler, "127.0.0.1", 0);
        tasks.push_back(aio::create_task([this] { return worker(); }, "worker-1"));
        tasks.push_back(aio::create_task([this] { return worker(); }, "worker-2"));
        tasks.push_back(aio::create_task([this] { return heartbeat(); }, "heartbeat"));
        aio::loop lp = co_await aio::this_loop();
        lp.add_signal_handler(SIGUSR1, [this] { reloaded.set(); });
        co_return server;
    }

    /// Stops what start() started: the tasks refer to this object.
    aio::awaitable<void> stop(aio::server& server, std::vector<aio::any_task>& tasks) {
        server.close();
        for (aio::any_task& t : tasks) {
            t.cancel();
        }
        for (aio::any_task& t : tasks) {
            co_await t.wait_done();
        }
        aio::loop lp = co_await aio::this_loop();
        lp.remove_signal_handler(SIGUSR1);
    }
};

// The scripted monitor client: what a user at `nc localhost 20101` would type and see.
struct transcript {
    aio::stream_reader reader;
    aio::stream_writer writer;

    static constexpr std::string_view prompt = "monitor >>> ";

    /// Prints a reply, up to the prompt that ends it.
    aio::awaitable<void> read_reply() {
        std::string reply = co_await reader.readuntil(std::string(prompt));
        std::cout << reply.substr(0, reply.size() - prompt.size());
    }
    /// Prints the prompt and the line, sends it, prints the reply.
    aio::awaitable<void> type(std::string line) {
        std::cout << prompt << line << '\n';
        writer.write(line + "\n");
        co_await read_reply();
    }
};

aio::awaitable<void> demo() {
    job_server app;
    std::vector<aio::any_task> tasks; // worker-1, worker-2, heartbeat
    aio::server server = co_await app.start(tasks);
    aio::monitor_options options;
    options.port = 0; // a free port: the tests run examples side by side
    aio::monitor monitor = aio::start_monitor(options);

    // Let the workers and the heartbeat reach their awaits.
    while (tasks.back().waiting_on() != "aio::sleep") {
        co_await aio::sleep(0s);
    }

    auto [reader, writer] = co_await aio::open_connection("127.0.0.1", monitor.port());
    transcript t{reader, writer};
    co_await t.read_reply(); // the greeting and the first prompt
    co_await t.type("ps");
    co_await t.type("where " + std::to_string(tasks.front().id()));
    co_await t.type("stats");
    co_await t.type("cancel " + std::to_string(tasks.back().id()));
    co_await tasks.back().wait_done();
    std::cout << "[the heartbeat task ended "
              << (tasks.back().cancelled() ? "cancelled" : "on its own") << "]\n";
    co_await t.type("signal USR1");
    co_await app.reloaded.wait();
    std::cout << "[the SIGUSR1 handler ran]\n";
    co_await t.type("frobnicate");
    std::cout << transcript::prompt << "quit\n";
    writer.write("quit\n");
    std::string bye = co_await reader.read(); // up to EOF: the monitor closed the connection
    std::cout << bye;

    monitor.close();
    co_await app.stop(server, tasks);
}

/// --serve [--port PORT]: the job server and the monitor, until SIGINT or SIGTERM.
aio::awaitable<void> serve(std::uint16_t monitor_port) {
    job_server app;
    std::vector<aio::any_task> tasks;
    aio::server server = co_await app.start(tasks);
    aio::monitor_options options;
    options.port = monitor_port;
    aio::monitor monitor = aio::start_monitor(options);
    std::cout << "jobs on 127.0.0.1:" << server.port()
              << ", monitor on 127.0.0.1:" << monitor.port() << " (nc localhost " << monitor.port()
              << ")" << std::endl;
    aio::event stop;
    aio::loop lp = co_await aio::this_loop();
    for (int signum : {SIGINT, SIGTERM}) {
        lp.add_signal_handler(signum, [&stop] { stop.set(); });
    }
    co_await stop.wait();
    monitor.close();
    co_await app.stop(server, tasks);
    std::cout << "Bye!" << std::endl;
}

constexpr std::string_view usage = "usage: monitor_server [--serve [--port PORT]]\n";

int main(int argc, char** argv) {
    if (argc == 1) {
        aio::run(demo());
        return 0;
    }
    std::uint16_t port = 20101;
    if (std::string_view(argv[1]) != "--serve") {
        std::cerr << usage;
        return 2;
    }
    if (argc == 4 && std::string_view(argv[2]) == "--port") {
        std::string_view value = argv[3];
        auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), port);
        if (ec != std::errc() || end != value.data() + value.size()) {
            std::cerr << usage;
            return 2;
        }
    } else if (argc != 2) {
        std::cerr << usage;
        return 2;
    }
    try {
        aio::run(serve(port));
    } catch (const boost::system::system_error& e) {
        std::cerr << "monitor_server: " << e.what() << '\n';
        return 1;
    }
    return 0;
}

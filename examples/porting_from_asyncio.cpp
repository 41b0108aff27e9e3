// porting_from_asyncio: the aio port of examples/porting_from_asyncio.py, walked through step by
// step in docs/porting-from-asyncio.md. A small service: at start-up it fetches reports from a
// few services at once, gives up on a slow one, saves the reports with a blocking call, stops
// its monitor, then serves until Ctrl-C (which this demo presses itself).
#include <aio/aio.hpp>

#include <chrono>
#include <csignal>
#include <cstddef>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

// Coroutine parameters are taken by value: a reference could dangle once the caller moves on.
aio::awaitable<std::string> fetch(std::string name, std::chrono::milliseconds delay) {
    co_await aio::sleep(delay); // stands for a network round trip
    if (name == "gamma") {
        throw std::runtime_error("connection refused");
    }
    co_return "report from " + name;
}

std::size_t save_reports(const std::vector<std::string>& reports) {
    std::this_thread::sleep_for(20ms); // a blocking call: a synchronous database client...
    return reports.size();
}

aio::awaitable<void> close_connection() {
    co_await aio::sleep(10ms);
    std::cout << "monitor: connection closed\n";
}

aio::awaitable<void> poll_forever() {
    for (;;) {
        co_await aio::sleep(10ms); // poll something
    }
}

// try: ... finally: await ...  -  C++ cannot co_await in a catch block, aio::finally can.
aio::awaitable<void> monitor() {
    co_await aio::finally(poll_forever(), close_connection());
}

aio::awaitable<void> close_server() {
    co_await aio::sleep(10ms); // say goodbye to the clients
    std::cout << "main: server closed\n";
}

aio::awaitable<void> press_ctrl_c(std::chrono::milliseconds delay) {
    co_await aio::sleep(delay);
    std::cout << "(Ctrl-C)\n";
    std::raise(SIGINT);
}

aio::awaitable<void> amain() {
    aio::task<void> monitor_task = aio::create_task(monitor(), "monitor");

    const std::vector<std::pair<std::string, std::chrono::milliseconds>> services{
        {"alpha", 30ms}, {"beta", 10ms}, {"gamma", 20ms}};
    std::vector<aio::task<std::string>> tasks;
    for (const auto& [name, delay] : services) {
        tasks.push_back(aio::create_task(fetch(name, delay), name));
    }
    std::vector<aio::outcome<std::string>> results =
        co_await aio::gather(aio::return_exceptions, tasks);
    std::vector<std::string> reports;
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        if (results[i].has_value()) {
            std::cout << tasks[i].name() << ": " << results[i].value() << '\n';
            reports.push_back(results[i].value());
        } else {
            std::cout << tasks[i].name() << ": failed: " << aio::describe(results[i].exception())
                      << '\n';
        }
    }

    try {
        co_await aio::wait_for(fetch("delta", 10s), 50ms);
    } catch (const aio::timeout_error&) {
        std::cout << "delta: no answer within 50 ms, cancelled\n";
    }

    std::size_t saved = co_await aio::to_thread(save_reports, reports);
    std::cout << "saved " << saved << " reports\n";

    monitor_task.cancel();
    try {
        co_await monitor_task();
    } catch (const aio::cancelled_error&) {
        std::cout << "monitor: cancelled\n";
    }

    std::cout << "serving until Ctrl-C\n";
    aio::create_task(press_ctrl_c(50ms), "ctrl-c"); // the loop keeps it alive: no handle needed
    co_await aio::finally(aio::sleep(1h), close_server()); // sleep(1h): server.serve_forever()
}

int main() {
    try {
        aio::run(amain());
    } catch (const aio::interrupted_error&) {
        std::cout << "interrupted: shut down cleanly\n";
    }
    return 0;
}

// book_signals: the aio port of examples/book_signals.py - a service that shuts down cleanly on
// SIGINT or SIGTERM, through handlers added with loop::add_signal_handler. The handler cancels
// every task and makes a second signal harmless; each worker cleans up; main, cancelled, waits
// for the workers. To run unattended, the program presses Ctrl-C itself.
#include <aio/aio.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <exception>
#include <iostream>
#include <string>
#include <variant>
#include <vector>

using namespace std::chrono_literals;

aio::awaitable<void> worker(std::string name, std::chrono::milliseconds period) {
    std::cout << name << ": ticking every " << period.count() / 1000.0 << " s\n";
    std::exception_ptr cancelled;
    try {
        while (true) {
            co_await aio::sleep(period); // one tick of work
        }
    } catch (const aio::cancelled_error&) {
        std::cout << name << ": cancelled, cleaning up\n";
        cancelled = std::current_exception();
    }
    // C++ cannot co_await inside a catch block: the cleanup comes after it.
    co_await aio::sleep(period / 2); // say goodbye, flush, close...
    std::cout << name << ": cleaned up\n";
    std::rethrow_exception(cancelled);
}

const char* signal_name(int sig) {
    return sig == SIGINT ? "SIGINT" : "SIGTERM";
}

void on_signal(aio::loop loop, int sig) {
    // all_tasks() is in creation order; sorted by name as in the Python version.
    std::vector<aio::any_task> tasks = aio::all_tasks();
    std::ranges::sort(tasks, {}, &aio::any_task::name);
    std::cout << "Got signal " << signal_name(sig) << ": cancelling " << tasks.size() << " tasks\n";
    for (aio::any_task& task : tasks) {
        task.cancel();
    }
    // From now on a second Ctrl-C must not interrupt the cleanup.
    loop.remove_signal_handler(SIGTERM);
    loop.add_signal_handler(SIGINT, [] {});
}

aio::awaitable<void> press_ctrl_c(std::chrono::milliseconds delay) {
    co_await aio::sleep(delay);
    std::cout << "(Ctrl-C)\n";
    std::raise(SIGINT);
}

// The outcome's type name, as Python's type(r).__name__ prints it.
std::string type_name(const aio::outcome<std::monostate>& r) {
    if (r.has_value()) {
        return "NoneType";
    }
    return r.cancelled() ? "CancelledError" : "Exception";
}

aio::awaitable<void> amain() {
    aio::loop loop = aio::get_running_loop();
    for (int sig : {SIGINT, SIGTERM}) {
        loop.add_signal_handler(sig, [loop, sig] { on_signal(loop, sig); });
    }
    std::vector<aio::task<void>> workers{
        aio::create_task(worker("worker-1", 200ms), "worker-1"),
        aio::create_task(worker("worker-2", 300ms), "worker-2"),
    };
    aio::create_task(press_ctrl_c(500ms), "ctrl-c"); // the loop keeps it: no reference needed
    std::cout << "main: serving until a signal\n";
    try {
        co_await aio::sleep(1h); // stands for server.serve_forever()
    } catch (const aio::cancelled_error&) {
        std::cout << "main: cancelled, shutting down\n";
    }
    std::cout << "(Ctrl-C again)\n";
    std::raise(SIGINT);
    auto results = co_await aio::gather(aio::return_exceptions, workers);
    std::string types;
    for (const aio::outcome<std::monostate>& r : results) {
        types += (types.empty() ? "" : ", ") + type_name(r);
    }
    std::cout << "main: workers ended: " << types << '\n';
    std::cout << "main: bye\n";
}

int main() {
    aio::run(amain());
    return 0;
}

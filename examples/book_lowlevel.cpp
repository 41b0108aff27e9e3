// book_lowlevel: the aio port of examples/book_lowlevel.py - asyncio's low-level loop API, the
// loop made and driven by hand. A main task waits for a ticker's third tick; then the program
// shuts down the way aio::run would: it cancels the tasks still pending, gathers them with
// return_exceptions, and closes the loop.
#include <aio/aio.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <string>
#include <variant>
#include <vector>

using namespace std::chrono_literals;

// The event lives in main() and outlives both tasks, so a reference parameter is safe here.
aio::awaitable<void> ticker(aio::event& three_ticks) {
    int ticks = 0;
    try {
        while (true) {
            co_await aio::sleep(100ms);
            ticks += 1;
            std::cout << "ticker: tick " << ticks << '\n';
            if (ticks == 3) {
                three_ticks.set();
            }
        }
    } catch (const aio::cancelled_error&) {
        std::cout << "ticker: cancelled after " << ticks << " ticks\n";
        throw;
    }
}

aio::awaitable<std::string> amain(aio::event& three_ticks) {
    std::cout << "main: waiting for three ticks\n";
    co_await three_ticks.wait();
    std::cout << "main: done\n";
    co_return "three ticks seen";
}

// What Python's type(r).__name__ says of an element of gather(..., return_exceptions=True).
std::string type_name(const aio::outcome<std::monostate>& r) {
    if (r.has_value()) {
        return "NoneType";
    }
    return r.cancelled() ? "CancelledError" : "Exception";
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const std::string& item : items) {
        out += (out.empty() ? "" : ", ") + item;
    }
    return out;
}

int main() {
    aio::loop loop = aio::new_event_loop();
    aio::event three_ticks;
    aio::task<std::string> main_task = loop.create_task(amain(three_ticks), "main");
    loop.create_task(ticker(three_ticks), "ticker");
    std::cout << "running: " << (loop.is_running() ? "True" : "False") << '\n';
    std::string result = loop.run_until_complete(main_task);
    std::cout << "run_until_complete(main) returned: " << result << '\n';

    // The shutdown that aio::run does: cancel what is left, let it finish, close.
    std::vector<aio::any_task> pending = aio::all_tasks(loop);
    std::vector<std::string> names;
    for (const aio::any_task& task : pending) {
        names.push_back(task.name());
    }
    std::ranges::sort(names);
    std::cout << pending.size() << " task(s) still pending: " << join(names) << '\n';
    for (aio::any_task& task : pending) {
        task.cancel();
    }
    auto results = loop.run_until_complete(aio::gather(aio::return_exceptions, pending));
    std::vector<std::string> types;
    for (const aio::outcome<std::monostate>& r : results) {
        types.push_back(type_name(r));
    }
    std::cout << "gathered: " << join(types) << '\n';
    loop.close();
    std::cout << "closed: " << (loop.is_closed() ? "True" : "False") << '\n';
    return 0;
}

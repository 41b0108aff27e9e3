// quickstart: aio's core in one program - tasks, gather with return_exceptions, to_thread, a
// timeout, and a graceful shutdown that the program triggers itself with SIGINT.
#include <aio/aio.hpp>

#include <chrono>
#include <csignal>
#include <iostream>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;

// A coroutine: lazy, runs when awaited or made a task (asyncio's `async def`).
aio::awaitable<std::string> fetch(int id) {
    co_await aio::sleep(id * 100ms);
    if (id == 3) {
        throw std::runtime_error("service 3 is down");
    }
    co_return "reply " + std::to_string(id);
}

// Blocking, CPU-bound work: it belongs on a thread, not on the loop.
long fib(int n) {
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

aio::awaitable<void> heartbeat() {
    for (int beat = 1;; ++beat) {
        co_await aio::sleep(200ms);
        std::cout << "  heartbeat " << beat << '\n';
    }
}

aio::awaitable<void> amain() {
    // A task runs concurrently; the loop keeps it alive, and cancels it at shutdown.
    aio::create_task(heartbeat(), "heartbeat");

    // gather runs the three concurrently; with return_exceptions each slot is an outcome.
    auto [r1, r2, r3] = co_await aio::gather(aio::return_exceptions, fetch(1), fetch(2), fetch(3));
    for (const aio::outcome<std::string>* r : {&r1, &r2, &r3}) {
        if (r->has_value()) {
            std::cout << "gather: " << r->value() << '\n';
        } else {
            std::cout << "gather: failed: " << aio::describe(r->exception()) << '\n';
        }
    }

    // to_thread keeps the loop responsive while a thread computes.
    long f = co_await aio::to_thread(fib, 32);
    std::cout << "to_thread: fib(32) = " << f << '\n';

    // wait_for cancels work that takes too long, waits for it, then throws timeout_error.
    try {
        co_await aio::wait_for(fetch(20), 300ms);
    } catch (const aio::timeout_error&) {
        std::cout << "wait_for: fetch(20) timed out and was cancelled\n";
    }

    // Graceful shutdown: SIGINT cancels main; finally's cleanup may await.
    std::cout << "raising SIGINT\n";
    std::raise(SIGINT);
    co_await aio::finally(aio::sleep(1h), []() -> aio::awaitable<void> {
        std::cout << "main: cancelled, closing up\n";
        co_await aio::sleep(50ms);
        std::cout << "main: closed\n";
    });
}

int main() {
    try {
        aio::run(amain());
    } catch (const aio::interrupted_error& e) {
        std::cout << "run: " << e.what() << "; every task ended, exiting cleanly\n";
    }
    return 0;
}

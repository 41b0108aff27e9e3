// book_async_with: the aio port of examples/book_async_with.py (both print the same lines; the
// test suite compares them). A class with async_enter/async_exit (__aenter__/__aexit__) used
// with a body that returns, a body that throws and a body whose task is cancelled; then a
// context_manager (@asynccontextmanager) whose enter and exit run blocking calls in a thread.
#include <aio/aio.hpp>

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

std::string describe(const std::exception_ptr& e) {
    if (aio::is_cancellation(e)) {
        return "a cancellation";
    }
    return "an error (" + aio::describe(e) + ")";
}

// A connection opened by aio::with: async_enter connects, async_exit closes. async_enter returns
// nothing, so the body receives the connection itself (Python's `return self`).
class connection {
public:
    explicit connection(std::string host) : host_(std::move(host)) {}

    aio::awaitable<void> async_enter() {
        co_await aio::sleep(10ms); // stands for the handshake
        std::cout << host_ << ": connected\n";
    }

    aio::awaitable<void> async_exit(std::exception_ptr error) {
        co_await aio::sleep(10ms); // the goodbye message: awaiting works, also when cancelled
        if (!error) {
            std::cout << host_ << ": closed\n";
        } else {
            std::cout << host_ << ": closed after " << describe(error) << '\n';
        }
        // Returning void never suppresses the exception (awaitable<bool> could, like __aexit__).
    }

    aio::awaitable<std::string> query(std::string sql) {
        co_await aio::sleep(10ms);
        if (sql.find("DROP") != std::string::npos) {
            throw std::invalid_argument("permission denied");
        }
        co_return "3 rows for '" + sql + "'";
    }

private:
    std::string host_;
};

aio::awaitable<void> serve_forever(aio::event& started) {
    co_await aio::with(connection("replica"), [&](connection& conn) -> aio::awaitable<void> {
        started.set();
        co_await aio::sleep(1h); // until cancelled
        co_await conn.query("never");
    });
}

// Blocking calls, as a synchronous file API makes them.
struct log_file {
    std::string path;
    std::vector<std::string> lines;
};

log_file blocking_open(const std::string& path) {
    std::this_thread::sleep_for(20ms);
    return {path, {}};
}

std::size_t blocking_close(log_file& log) {
    std::this_thread::sleep_for(20ms);
    return log.lines.size();
}

// @asynccontextmanager: the code before the co_yield enters, the code after it exits. The body
// receives what is yielded: a pointer to the log this generator keeps.
aio::context_manager<log_file*> open_log(std::string path) {
    log_file log = co_await aio::run_in_executor(nullptr, blocking_open, path)();
    std::cout << "open_log: opened " << path << '\n';
    std::exception_ptr error; // try/except/finally: C++ cannot co_await in a catch block, so
    try {                     // the handlers record the exception and the finally part awaits
        co_yield &log;        // after them, then rethrows it
    } catch (const std::invalid_argument& e) {
        std::cout << "open_log: the body failed: " << e.what() << '\n';
        error = std::current_exception();
    } catch (...) {
        error = std::current_exception();
    }
    // std::ref: run_in_executor copies its arguments, as a thread's arguments are copied.
    std::size_t count = co_await aio::run_in_executor(nullptr, blocking_close, std::ref(log))();
    std::cout << "open_log: closed " << path << " after " << count << " line(s)\n";
    if (error) {
        std::rethrow_exception(error);
    }
}

aio::awaitable<void> amain() {
    std::cout << "-- a body that returns\n";
    co_await aio::with(connection("primary"), [](connection& conn) -> aio::awaitable<void> {
        std::cout << "body: " << co_await conn.query("SELECT 1") << '\n';
    });

    std::cout << "-- a body that raises\n";
    try {
        co_await aio::with(connection("primary"), [](connection& conn) -> aio::awaitable<void> {
            co_await conn.query("DROP TABLE users");
        });
    } catch (const std::invalid_argument& e) {
        std::cout << "main: caught " << e.what() << '\n';
    }

    std::cout << "-- a body whose task is cancelled\n";
    aio::event started;
    auto task = aio::create_task(serve_forever(started));
    co_await started.wait();
    task.cancel();
    try {
        co_await task();
    } catch (const aio::cancelled_error&) {
        std::cout << "main: the task ended cancelled\n";
    }

    std::cout << "-- @asynccontextmanager with blocking enter and exit\n";
    co_await aio::with(open_log("app.log"), [](log_file* log) -> aio::awaitable<void> {
        log->lines.push_back("started");
        log->lines.push_back("ready");
        std::cout << "body: wrote " << log->lines.size() << " line(s)\n";
        co_return;
    });

    std::cout << "-- @asynccontextmanager, a body that raises\n";
    try {
        co_await aio::with(open_log("app.log"), [](log_file* log) -> aio::awaitable<void> {
            log->lines.push_back("about to fail");
            throw std::invalid_argument("disk full");
            co_return;
        });
    } catch (const std::invalid_argument& e) {
        std::cout << "main: caught " << e.what() << '\n';
    }
}

int main() {
    aio::run(amain());
    return 0;
}

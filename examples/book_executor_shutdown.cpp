// book_executor_shutdown: the aio port of examples/book_executor_shutdown.py (both print the same
// lines; the test suite compares them). A blocking job still running in a thread when main
// returns, and three ways to see it through.
//
// Each job waits for a signal before it finishes, so that every run prints the same lines in the
// same order: the demo decides when a job may end instead of racing a timer.
#include <aio/aio.hpp>

#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

using namespace std::chrono_literals;

// Python's threading.Event, for the signal a job waits for.
class thread_event {
public:
    void set() {
        std::lock_guard lock(mutex_);
        set_ = true;
        cv_.notify_all();
    }
    void wait() {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return set_; });
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool set_ = false;
};

std::size_t blocking_job(std::string name, std::shared_ptr<thread_event> may_finish) {
    may_finish->wait();
    std::this_thread::sleep_for(50ms); // the last of the work
    std::cout << name << ": finished in its thread\n";
    return name.size();
}

// The problem: the future is dropped; main returns while the job still runs. aio::run, like
// asyncio.run since Python 3.9, waits for it before it returns.
aio::awaitable<void> fire_and_forget() {
    auto may_finish = std::make_shared<thread_event>();
    aio::run_in_executor(nullptr, blocking_job, "job", may_finish); // not awaited
    std::cout << "main: returning while the job runs\n";
    may_finish->set();
    co_return;
}

// Fix 1: main awaits the future in its finally, whatever its own work does.
aio::awaitable<void> await_in_finally() {
    auto may_finish = std::make_shared<thread_event>();
    aio::future<std::size_t> future =
        aio::run_in_executor(nullptr, blocking_job, "job", may_finish);
    auto own_work = [&]() -> aio::awaitable<void> {
        std::cout << "main: doing its own work\n";
        may_finish->set();
        co_return;
    };
    auto await_the_job = [&]() -> aio::awaitable<void> {
        std::size_t result = co_await future();
        std::cout << "main: the job returned " << result << '\n';
    };
    co_await aio::finally(own_work, await_the_job);
}

// A task that awaits the future to its end, even when it is cancelled meanwhile: shield stops
// one wait without cancelling the future, and run's shutdown cancels tasks, not futures.
aio::awaitable<void> see_it_through(aio::future<std::size_t> future,
                                    std::shared_ptr<thread_event> may_finish) {
    std::size_t result = 0;
    for (;;) {
        try {
            result = co_await aio::shield(future);
            break;
        } catch (const aio::cancelled_error&) {
            std::cout << "waiter: cancelled, still waiting for the job\n";
            may_finish->set();
        }
    }
    std::cout << "waiter: the job returned " << result << '\n';
}

// Fix 2: the shutdown cancels the waiter task, which waits for the job all the same.
aio::awaitable<void> wrapper_task() {
    auto may_finish = std::make_shared<thread_event>();
    aio::future<std::size_t> future =
        aio::run_in_executor(nullptr, blocking_job, "job", may_finish);
    aio::create_task(see_it_through(future, may_finish));
    co_await aio::sleep(0s); // the waiter starts waiting
    std::cout << "main: returning while the job runs\n";
}

// Fix 3: main owns the thread pool and shuts it down with wait: join() (the destructor of an
// Asio thread_pool would stop it first, dropping the jobs that have not started).
aio::awaitable<void> own_pool() {
    auto may_finish = std::make_shared<thread_event>();
    boost::asio::thread_pool pool(1);
    aio::future<std::size_t> future = aio::run_in_executor(pool, blocking_job, "job", may_finish);
    std::cout << "main: shutting the pool down, waiting for its jobs\n";
    may_finish->set();
    pool.join(); // blocks until the job is done
    std::cout << "main: the pool is shut down; the job returned " << co_await future() << '\n';
}

void demo(const char* title, aio::awaitable<void> (*main)()) {
    std::cout << "-- " << title << '\n';
    aio::run(main());
    std::cout << "run returned\n";
}

int main() {
    demo("fire and forget", fire_and_forget);
    demo("fix 1: await the future in main's finally", await_in_finally);
    demo("fix 2: a task that awaits the future even when cancelled", wrapper_task);
    demo("fix 3: an own thread pool, shut down with wait", own_pool);
    return 0;
}

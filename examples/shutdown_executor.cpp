// shutdown_executor: a blocking job still running in a thread when main returns is waited for
// before run() returns (the book's "waiting for the executor during shutdown"; asyncio.run does
// the same since Python 3.9).
#include <aio/aio.hpp>

#include <atomic>
#include <chrono>
#include <iostream>
#include <thread>

using namespace std::chrono_literals;

std::atomic<bool> job_finished{false};

void blocking_job() {
    std::cout << "job: started in a thread, working for 1 s\n";
    std::this_thread::sleep_for(1s);
    job_finished = true;
    std::cout << "job: finished\n";
}

aio::awaitable<void> amain() {
    // Fire and forget: the task awaits the job, main does not await the task.
    aio::create_task(aio::to_thread(blocking_job), "job");
    co_await aio::sleep(100ms);
    std::cout << "main: returning while the job still runs\n";
}

int main() {
    aio::run(amain(), aio::run_options{.shutdown_timeout = 10s});
    std::cout << "run returned; job finished: " << (job_finished ? "yes" : "no") << '\n';
    return job_finished ? 0 : 1;
}

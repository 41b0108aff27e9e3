// janus_queue: aio::thread_queue joins plain threads and the coroutines of a loop (the book's
// janus case study). First threads produce and a coroutine consumes, then a coroutine produces
// and threads consume. Closing the queue is how the consumers learn that the producers are done:
// they drain what is left, then get queue_shut_down.
#include <aio/aio.hpp>
#include <aio/thread_queue.hpp>

#include <functional>
#include <iostream>

struct tally {
    int count = 0;
    long sum = 0;
};

// Blocking code, as a thread runs it: janus's `queue.sync_q.put(i)`.
void produce(aio::thread_queue<int>& q, int first, int count) {
    for (int i = first; i < first + count; ++i) {
        q.sync().put(i); // blocks while the queue is full
    }
}

tally consume_in_thread(aio::thread_queue<int>& q) {
    tally t;
    try {
        for (;;) {
            t.sum += q.sync().get(); // blocks while the queue is empty
            ++t.count;
        }
    } catch (const aio::queue_shut_down&) {
        return t; // closed and drained
    }
}

aio::awaitable<tally> consume_in_loop(aio::thread_queue<int>& q) {
    tally t;
    try {
        for (;;) {
            t.sum += co_await q.async().get(); // parks this task, not the loop
            ++t.count;
        }
    } catch (const aio::queue_shut_down&) {
        co_return t;
    }
}

aio::awaitable<void> threads_to_coroutine() {
    aio::thread_queue<int> q(16); // bounded: producer threads wait while the loop catches up
    auto consumer = aio::create_task(consume_in_loop(q));
    co_await aio::gather(aio::to_thread(produce, std::ref(q), 1, 10000),
                         aio::to_thread(produce, std::ref(q), 10001, 10000),
                         aio::to_thread(produce, std::ref(q), 20001, 10000));
    q.close();
    tally t = co_await consumer();
    std::cout << "3 threads -> 1 coroutine: " << t.count << " items, sum " << t.sum
              << " (expected 30000 items, sum " << 30000L * 30001 / 2 << ")\n";
}

aio::awaitable<void> coroutine_to_threads() {
    aio::thread_queue<int> q(16); // bounded: the producing task parks while the threads catch up
    auto consumers = aio::create_task(aio::gather(aio::to_thread(consume_in_thread, std::ref(q)),
                                                  aio::to_thread(consume_in_thread, std::ref(q)),
                                                  aio::to_thread(consume_in_thread, std::ref(q))));
    for (int i = 1; i <= 30000; ++i) {
        co_await q.async().put(i);
    }
    q.close();
    auto [a, b, c] = co_await consumers();
    std::cout << "1 coroutine -> 3 threads: " << a.count << " + " << b.count << " + " << c.count
              << " = " << a.count + b.count + c.count << " items, sum " << a.sum + b.sum + c.sum
              << " (expected 30000 items, sum " << 30000L * 30001 / 2 << ")\n";
}

aio::awaitable<void> amain() {
    co_await threads_to_coroutine();
    co_await coroutine_to_threads();
}

int main() {
    aio::run(amain());
    return 0;
}

// producer_consumer: producers and consumers over a bounded aio::queue. The bound applies
// backpressure (producers wait while it is full), join() waits until every order has been
// processed, and shutdown() tells the consumers to stop (asyncio.Queue, Python 3.13).
#include <aio/aio.hpp>
#include <aio/queue.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <iostream>
#include <vector>

using namespace std::chrono_literals;

struct order {
    int producer;
    int number;
};

constexpr int producers = 3;
constexpr int orders_each = 20;
constexpr int consumers = 4;
constexpr std::size_t capacity = 5;

aio::awaitable<void> produce(aio::queue<order>& orders, int id, std::size_t& peak_size) {
    for (int n = 0; n < orders_each; ++n) {
        order next{id, n};
        co_await orders.put(next); // waits while `capacity` orders are queued
        peak_size = std::max(peak_size, orders.size());
    }
}

aio::awaitable<void> consume(aio::queue<order>& orders, int& handled,
                             std::vector<int>& handled_per_producer) {
    for (;;) {
        order next;
        try {
            next = co_await orders.get();
        } catch (const aio::queue_shut_down&) {
            co_return; // shut down and drained: nothing more will come
        }
        co_await aio::sleep(1ms); // the work
        ++handled;
        ++handled_per_producer[next.producer];
        orders.task_done();
    }
}

aio::awaitable<void> amain() {
    aio::queue<order> orders(capacity);
    std::size_t peak_size = 0;
    std::vector<int> handled(consumers, 0);
    std::vector<int> handled_per_producer(producers, 0);

    std::vector<aio::task<void>> consumer_tasks;
    for (int c = 0; c < consumers; ++c) {
        consumer_tasks.push_back(
            aio::create_task(consume(orders, handled[c], handled_per_producer)));
    }
    std::vector<aio::task<void>> producer_tasks;
    for (int p = 0; p < producers; ++p) {
        producer_tasks.push_back(aio::create_task(produce(orders, p, peak_size)));
    }

    for (auto& t : producer_tasks) {
        co_await t();
    }
    std::cout << "producers: done; " << orders.size() << " orders still queued\n";

    co_await orders.join(); // every order put has been marked task_done
    std::cout << "join: all " << producers * orders_each << " orders processed\n";

    orders.shutdown(); // the consumers' next get throws queue_shut_down
    for (auto& t : consumer_tasks) {
        co_await t();
    }

    int total = 0;
    for (int c = 0; c < consumers; ++c) {
        std::cout << "consumer " << c << ": handled " << handled[c] << " orders\n";
        total += handled[c];
    }
    std::cout << "per producer:";
    for (int count : handled_per_producer) {
        std::cout << ' ' << count;
    }
    std::cout << "\ntotal handled: " << total << "; queue never held more than " << peak_size
              << " of " << capacity << " orders\n";
}

int main() {
    aio::run(amain());
    return 0;
}

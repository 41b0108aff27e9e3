// Tests of aio/queue.hpp: queue, lifo_queue, priority_queue - order, backpressure, nowait
// errors, task_done/join, shutdown, cancellation, move-only items and the fast path.
#include "support.hpp"

#include <aio/queue.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace {

using aio_test::join;
using aio_test::throws_as;

using log_t = std::vector<std::string>;

/// Gets one item and records "name=item", or "name shut down".
template <class Q>
aio::awaitable<void> record_get(Q& q, log_t& log, std::string name) {
    try {
        auto item = co_await q.get();
        log.push_back(name + "=" + std::to_string(item));
    } catch (const aio::queue_shut_down&) {
        log.push_back(name + " shut down");
    }
}

/// Puts `item` and records "put item", or "item shut down".
template <class Q>
aio::awaitable<void> record_put(Q& q, log_t& log, int item) {
    try {
        co_await q.put(item);
        log.push_back("put " + std::to_string(item));
    } catch (const aio::queue_shut_down&) {
        log.push_back(std::to_string(item) + " shut down");
    }
}

/// Awaits join and records "joined".
template <class Q>
aio::awaitable<void> record_join(Q& q, log_t& log) {
    co_await q.join();
    log.push_back("joined");
}

/// Takes every item left without waiting, as "a|b|c".
template <class Q>
std::string drain(Q& q) {
    log_t items;
    while (!q.empty()) {
        items.push_back(std::to_string(q.get_nowait()));
    }
    return join(items);
}

/// Ends a test that would otherwise hang: the task must finish well within 10 s.
template <class T>
aio::awaitable<void> finishes(aio::task<T> t) {
    co_await aio::wait_for(std::move(t), 10s);
}

} // namespace

TEST_CASE("queue gives items first in, first out, and reports its size") {
    std::string order;
    std::string wrapped;
    std::size_t size = 0;
    bool empty_before = false;
    bool empty_after = false;
    bool full = true;
    std::size_t maxsize = 99;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::queue<int> q;
        empty_before = q.empty();
        for (int i = 1; i <= 5; ++i) {
            co_await q.put(i);
        }
        size = q.size();
        full = q.full();
        maxsize = q.maxsize();
        log_t got;
        for (int i = 0; i < 5; ++i) {
            got.push_back(std::to_string(co_await q.get()));
        }
        order = join(got);
        empty_after = q.empty();

        // Grow the buffer while its head is in the middle: the order survives.
        for (int i = 0; i < 10; ++i) {
            q.put_nowait(i);
        }
        for (int i = 0; i < 6; ++i) {
            (void)q.get_nowait();
        }
        for (int i = 10; i < 40; ++i) {
            q.put_nowait(i);
        }
        log_t rest;
        while (!q.empty()) {
            rest.push_back(std::to_string(co_await q.get()));
        }
        wrapped = join(rest);
    });
    CHECK(order == "1|2|3|4|5");
    CHECK(size == 5);
    CHECK(empty_before);
    CHECK(empty_after);
    CHECK_FALSE(full);
    CHECK(maxsize == 0);
    log_t expected;
    for (int i = 6; i < 40; ++i) {
        expected.push_back(std::to_string(i));
    }
    CHECK(wrapped == join(expected));
}

TEST_CASE("lifo_queue gives the newest item first") {
    std::string order;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::lifo_queue<int> q(3);
        for (int i = 1; i <= 3; ++i) {
            co_await q.put(i);
        }
        log_t got;
        got.push_back(std::to_string(co_await q.get()));
        co_await q.put(4);
        while (!q.empty()) {
            got.push_back(std::to_string(co_await q.get()));
        }
        order = join(got);
    });
    CHECK(order == "3|4|2|1");
}

TEST_CASE("priority_queue gives the smallest item first, or the first by a custom Compare") {
    std::string smallest_first;
    std::string largest_first;
    std::string by_priority;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::priority_queue<int> q;
        std::vector<int> inputs{5, 1, 4, 2, 3};
        for (int i : inputs) {
            co_await q.put(i);
        }
        smallest_first = drain(q);

        aio::priority_queue<int, std::greater<int>> reversed;
        for (int i : inputs) {
            reversed.put_nowait(i);
        }
        largest_first = drain(reversed);

        // As in Python: (priority, sequence, payload) entries keep equal priorities in order.
        using entry = std::pair<std::pair<int, int>, std::string>;
        aio::priority_queue<entry> jobs;
        jobs.put_nowait(entry{{2, 0}, "low"});
        jobs.put_nowait(entry{{1, 1}, "urgent-a"});
        jobs.put_nowait(entry{{1, 2}, "urgent-b"});
        jobs.put_nowait(entry{{0, 3}, "critical"});
        log_t names;
        while (!jobs.empty()) {
            names.push_back((co_await jobs.get()).second);
        }
        by_priority = join(names);
    });
    CHECK(smallest_first == "1|2|3|4|5");
    CHECK(largest_first == "5|4|3|2|1");
    CHECK(by_priority == "critical|urgent-a|urgent-b|low");
}

TEST_CASE("put parks while the queue is full and parked putters resume in FIFO order") {
    log_t log;
    std::string got;
    bool full = false;
    std::size_t size_while_parked = 0;
    std::size_t log_while_parked = 99;
    std::size_t size_after_first_get = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::queue<int> q(2);
        co_await q.put(1);
        co_await q.put(2);
        full = q.full();
        std::vector<aio::task<void>> putters;
        for (int item : {10, 11, 12}) {
            putters.push_back(aio::create_task(record_put(q, log, item)));
        }
        co_await aio::sleep(0s);
        size_while_parked = q.size();
        log_while_parked = log.size();
        log_t items;
        items.push_back(std::to_string(co_await q.get()));
        // The freed slot is promised to the first putter, which inserts when it resumes.
        size_after_first_get = q.size();
        for (int i = 0; i < 4; ++i) {
            items.push_back(std::to_string(co_await q.get()));
        }
        got = join(items);
        for (auto& p : putters) {
            co_await finishes(p);
        }
    });
    CHECK(full);
    CHECK(size_while_parked == 2);
    CHECK(log_while_parked == 0);
    CHECK(size_after_first_get == 1);
    CHECK(got == "1|2|10|11|12");
    CHECK(join(log) == "put 10|put 11|put 12");
}

TEST_CASE("get parks while the queue is empty and parked getters are served in FIFO order") {
    log_t log;
    std::size_t log_while_parked = 99;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::queue<int> q;
        std::vector<aio::task<void>> getters;
        for (const char* name : {"g1", "g2", "g3"}) {
            getters.push_back(aio::create_task(record_get(q, log, name)));
        }
        co_await aio::sleep(0s);
        log_while_parked = log.size();
        for (int i = 1; i <= 3; ++i) {
            co_await q.put(i);
        }
        for (auto& g : getters) {
            co_await finishes(g);
        }
    });
    CHECK(log_while_parked == 0);
    CHECK(join(log) == "g1=1|g2=2|g3=3");
}

TEST_CASE("put_nowait and get_nowait throw queue_full and queue_empty") {
    bool empty_threw = false;
    bool full_threw = false;
    bool item_kept = false;
    int first = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::queue<std::unique_ptr<int>> q(1);
        empty_threw = throws_as<aio::queue_empty>([&] { (void)q.get_nowait(); });
        q.put_nowait(std::make_unique<int>(1));
        auto second = std::make_unique<int>(2);
        full_threw = throws_as<aio::queue_full>([&] { q.put_nowait(std::move(second)); });
        item_kept = second != nullptr && *second == 2;
        first = *q.get_nowait();
        co_return;
    });
    CHECK(empty_threw);
    CHECK(full_threw);
    CHECK(item_kept);
    CHECK(first == 1);
}

TEST_CASE("an item or slot promised to a woken waiter is not taken by the nowait calls") {
    log_t log;
    std::size_t size_with_promised_item = 0;
    bool item_withheld = false;
    bool slot_withheld = false;
    std::string left;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::queue<int> q(1);
        auto getter = aio::create_task(record_get(q, log, "g"));
        co_await aio::sleep(0s);
        q.put_nowait(1);
        size_with_promised_item = q.size();
        item_withheld = throws_as<aio::queue_empty>([&] { (void)q.get_nowait(); });
        co_await finishes(getter);

        q.put_nowait(2);
        auto putter = aio::create_task(record_put(q, log, 3));
        co_await aio::sleep(0s);
        (void)q.get_nowait();
        slot_withheld = throws_as<aio::queue_full>([&] { q.put_nowait(4); });
        co_await finishes(putter);
        left = drain(q);
    });
    CHECK(size_with_promised_item == 1);
    CHECK(item_withheld);
    CHECK(slot_withheld);
    CHECK(join(log) == "g=1|put 3");
    CHECK(left == "3");
}

TEST_CASE("join waits until every item put is marked done") {
    log_t log;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::queue<int> q;
        for (int i = 1; i <= 3; ++i) {
            q.put_nowait(i);
        }
        auto joiner = aio::create_task(record_join(q, log));
        for (int i = 0; i < 3; ++i) {
            int item = co_await q.get();
            co_await aio::sleep(0s);
            log.push_back("done " + std::to_string(item));
            q.task_done();
        }
        co_await finishes(joiner);
    });
    CHECK(join(log) == "done 1|done 2|done 3|joined");
}

TEST_CASE("join returns at once, without yielding, when nothing is unfinished") {
    bool other_ran = true;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::queue<int> q;
        bool ran = false;
        auto other = aio::create_task([&]() -> aio::awaitable<void> {
            ran = true;
            co_return;
        });
        co_await q.join();
        q.put_nowait(1);
        (void)q.get_nowait();
        q.task_done();
        co_await q.join();
        other_ran = ran;
        co_await other();
    });
    CHECK_FALSE(other_ran);
}

TEST_CASE("task_done called more often than items were put throws std::logic_error") {
    bool threw_when_fresh = false;
    bool threw_after_one = false;
    bool first_ok = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::queue<int> q;
        threw_when_fresh = throws_as<std::logic_error>([&] { q.task_done(); });
        q.put_nowait(1);
        (void)q.get_nowait();
        first_ok = !throws_as<std::logic_error>([&] { q.task_done(); });
        threw_after_one = throws_as<std::logic_error>([&] { q.task_done(); });
        co_return;
    });
    CHECK(threw_when_fresh);
    CHECK(first_ok);
    CHECK(threw_after_one);
}

TEST_CASE("after shutdown puts fail at once and gets fail once the queue is drained") {
    bool put_threw = false;
    bool put_nowait_threw = false;
    std::string left;
    bool get_threw = false;
    bool get_nowait_threw = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::queue<int> q(5);
        q.put_nowait(1);
        q.put_nowait(2);
        q.shutdown();
        try {
            co_await q.put(3);
        } catch (const aio::queue_shut_down&) {
            put_threw = true;
        }
        put_nowait_threw = throws_as<aio::queue_shut_down>([&] { q.put_nowait(4); });
        log_t items;
        items.push_back(std::to_string(co_await q.get()));
        items.push_back(std::to_string(q.get_nowait()));
        left = join(items);
        try {
            co_await q.get();
        } catch (const aio::queue_shut_down&) {
            get_threw = true;
        }
        get_nowait_threw = throws_as<aio::queue_shut_down>([&] { (void)q.get_nowait(); });
    });
    CHECK(put_threw);
    CHECK(put_nowait_threw);
    CHECK(left == "1|2");
    CHECK(get_threw);
    CHECK(get_nowait_threw);
}

TEST_CASE("shutdown wakes parked putters, and parked getters that have no item coming") {
    log_t putters_log;
    log_t getters_log;
    std::string left;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::queue<int> full(1);
        full.put_nowait(1);
        auto p2 = aio::create_task(record_put(full, putters_log, 2));
        auto p3 = aio::create_task(record_put(full, putters_log, 3));
        co_await aio::sleep(0s);
        // The slot freed now is promised to p2, which has not resumed when shutdown comes.
        (void)full.get_nowait();
        full.shutdown();
        co_await finishes(p2);
        co_await finishes(p3);
        left = drain(full);

        aio::queue<int> empty;
        auto g1 = aio::create_task(record_get(empty, getters_log, "g1"));
        auto g2 = aio::create_task(record_get(empty, getters_log, "g2"));
        co_await aio::sleep(0s);
        // The item is promised to g1, which still gets it; g2 has nothing coming.
        empty.put_nowait(7);
        empty.shutdown();
        co_await finishes(g1);
        co_await finishes(g2);
    });
    CHECK(join(putters_log) == "2 shut down|3 shut down");
    CHECK(left.empty());
    CHECK(join(getters_log) == "g1=7|g2 shut down");
}

TEST_CASE("shutdown(true) discards the items, fails every get and releases join") {
    log_t log;
    std::size_t size_after = 99;
    bool task_done_threw = false;
    bool put_threw = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::queue<int> q;
        for (int i = 1; i <= 3; ++i) {
            q.put_nowait(i);
        }
        auto joiner = aio::create_task(record_join(q, log));
        co_await aio::sleep(0s);
        log.push_back("shutdown");
        q.shutdown(true);
        size_after = q.size();
        co_await finishes(joiner);
        auto g1 = aio::create_task(record_get(q, log, "g1"));
        co_await finishes(g1);
        task_done_threw = throws_as<std::logic_error>([&] { q.task_done(); });
        put_threw = throws_as<aio::queue_shut_down>([&] { q.put_nowait(4); });

        // An item promised to a getter that has not resumed yet is discarded too.
        aio::queue<int> q2;
        auto g2 = aio::create_task(record_get(q2, log, "g2"));
        co_await aio::sleep(0s);
        q2.put_nowait(1);
        q2.shutdown(true);
        co_await finishes(g2);
    });
    CHECK(join(log) == "shutdown|joined|g1 shut down|g2 shut down");
    CHECK(size_after == 0);
    CHECK(task_done_threw);
    CHECK(put_threw);
}

TEST_CASE("shutdown(true) counts only the discarded items as done") {
    log_t log;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::queue<int> q;
        q.put_nowait(1);
        q.put_nowait(2);
        q.put_nowait(3);
        int taken = q.get_nowait();
        auto joiner = aio::create_task(record_join(q, log));
        q.shutdown(true);
        co_await aio::sleep(0s);
        log.push_back("done " + std::to_string(taken));
        q.task_done();
        co_await finishes(joiner);
    });
    CHECK(join(log) == "done 1|joined");
}

TEST_CASE("a getter cancelled while parked leaves the line: the next put goes to the next one") {
    log_t log;
    bool g1_cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::queue<int> q;
        auto g1 = aio::create_task(record_get(q, log, "g1"));
        auto g2 = aio::create_task(record_get(q, log, "g2"));
        co_await aio::sleep(0s);
        g1.cancel();
        co_await g1.wait_done();
        g1_cancelled = g1.cancelled();
        q.put_nowait(5);
        co_await finishes(g2);
    });
    CHECK(g1_cancelled);
    CHECK(join(log) == "g2=5");
}

TEST_CASE("a getter cancelled after it was woken leaves its item to the next getter") {
    log_t log;
    bool g1_cancelled = false;
    std::size_t size_after = 99;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::queue<int> q;
        auto g1 = aio::create_task(record_get(q, log, "g1"));
        auto g2 = aio::create_task(record_get(q, log, "g2"));
        co_await aio::sleep(0s);
        q.put_nowait(7); // wakes g1 for the item...
        g1.cancel();     // ...which is cancelled before it resumes
        co_await g1.wait_done();
        g1_cancelled = g1.cancelled();
        co_await finishes(g2);
        size_after = q.size();
    });
    CHECK(g1_cancelled);
    CHECK(join(log) == "g2=7");
    CHECK(size_after == 0);
}

TEST_CASE("a getter cancelled after it was woken, with nobody else waiting, leaves the item") {
    bool cancelled = false;
    std::string left;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::queue<int> q;
        log_t log;
        auto g = aio::create_task(record_get(q, log, "g"));
        co_await aio::sleep(0s);
        q.put_nowait(7);
        g.cancel();
        co_await g.wait_done();
        cancelled = g.cancelled() && log.empty();
        left = drain(q);
    });
    CHECK(cancelled);
    CHECK(left == "7");
}

TEST_CASE("a putter cancelled while parked on a full queue never inserts and takes no slot") {
    bool cancelled = false;
    std::string left;
    bool full_again = false;
    log_t log;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::queue<int> q(1);
        q.put_nowait(1);
        auto p = aio::create_task(record_put(q, log, 2));
        co_await aio::sleep(0s);
        p.cancel();
        co_await p.wait_done();
        cancelled = p.cancelled();
        left = drain(q);
        q.put_nowait(3);
        full_again = q.full();
        co_await aio::sleep(0s);
        left += "|" + drain(q);
    });
    CHECK(cancelled);
    CHECK(log.empty());
    CHECK(left == "1|3");
    CHECK(full_again);
}

TEST_CASE("a putter cancelled after it was woken hands its slot to the next putter") {
    log_t log;
    bool p2_cancelled = false;
    std::string left;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::queue<int> q(1);
        q.put_nowait(1);
        auto p2 = aio::create_task(record_put(q, log, 2));
        auto p3 = aio::create_task(record_put(q, log, 3));
        co_await aio::sleep(0s);
        (void)q.get_nowait(); // wakes p2 for the slot...
        p2.cancel();          // ...which is cancelled before it resumes
        co_await p2.wait_done();
        p2_cancelled = p2.cancelled();
        co_await finishes(p3);
        left = drain(q);
    });
    CHECK(p2_cancelled);
    CHECK(join(log) == "put 3");
    CHECK(left == "3");
}

TEST_CASE("a cancelled join throws cancelled_error and leaves the queue's count alone") {
    bool caught = false;
    log_t log;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::queue<int> q;
        q.put_nowait(1);
        auto cancelled_joiner = aio::create_task([&]() -> aio::awaitable<void> {
            try {
                co_await q.join();
            } catch (const aio::cancelled_error&) {
                caught = true;
            }
        });
        auto joiner = aio::create_task(record_join(q, log));
        co_await aio::sleep(0s);
        cancelled_joiner.cancel();
        co_await cancelled_joiner();
        log.push_back("done");
        (void)q.get_nowait();
        q.task_done();
        co_await finishes(joiner);
    });
    CHECK(caught);
    CHECK(join(log) == "done|joined");
}

TEST_CASE("destroying a queue wakes every task still waiting on it with queue_shut_down") {
    log_t log;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto q = std::make_unique<aio::queue<int>>();
        auto g1 = aio::create_task(record_get(*q, log, "g1"));
        auto g2 = aio::create_task(record_get(*q, log, "g2"));
        auto unfinished = std::make_unique<aio::queue<int>>();
        unfinished->put_nowait(1);
        auto joiner = aio::create_task([&, &jq = *unfinished]() -> aio::awaitable<void> {
            try {
                co_await jq.join();
            } catch (const aio::queue_shut_down&) {
                log.push_back("join shut down");
            }
        });
        auto full = std::make_unique<aio::queue<int>>(1);
        full->put_nowait(1);
        auto p = aio::create_task(record_put(*full, log, 2));
        co_await aio::sleep(0s);
        q->put_nowait(1); // promised to g1, which has not resumed when the queue goes
        q.reset();
        unfinished.reset();
        full.reset();
        co_await finishes(g1);
        co_await finishes(g2);
        co_await finishes(joiner);
        co_await finishes(p);
    });
    CHECK(join(log) == "g1 shut down|g2 shut down|join shut down|2 shut down");
}

TEST_CASE("move-only items pass through every kind of queue, waiting or not") {
    std::string fifo;
    std::string lifo;
    std::string priority;
    aio_test::run([&]() -> aio::awaitable<void> {
        using item = std::unique_ptr<int>;
        aio::queue<item> q(1);
        auto consumer = aio::create_task([&]() -> aio::awaitable<void> {
            for (int i = 0; i < 3; ++i) {
                item p = co_await q.get();
                fifo += std::to_string(*p);
            }
        });
        for (int i = 1; i <= 3; ++i) {
            co_await q.put(std::make_unique<int>(i));
        }
        co_await finishes(consumer);

        aio::lifo_queue<item> stack;
        for (int i = 1; i <= 3; ++i) {
            co_await stack.put(std::make_unique<int>(i));
        }
        while (!stack.empty()) {
            lifo += std::to_string(*co_await stack.get());
        }

        auto by_value = [](const item& a, const item& b) { return *a < *b; };
        aio::priority_queue<item, decltype(by_value)> heap(0, by_value);
        for (int i : {2, 3, 1}) {
            heap.put_nowait(std::make_unique<int>(i));
        }
        while (!heap.empty()) {
            priority += std::to_string(*heap.get_nowait());
        }
    });
    CHECK(fifo == "123");
    CHECK(lifo == "321");
    CHECK(priority == "123");
}

TEST_CASE("get with an item there and put with room complete without yielding to the loop") {
    int other_steps = -1;
    int got = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::queue<int> q(2);
        int steps = 0;
        auto other = aio::create_task([&]() -> aio::awaitable<void> {
            ++steps;
            co_return;
        });
        for (int i = 0; i < 100; ++i) {
            co_await q.put(i);
            got += co_await q.get();
        }
        other_steps = steps;
        co_await other();
    });
    CHECK(other_steps == 0);
    CHECK(got == 4950);
}

TEST_CASE("a queue used by a second loop after its first one ended throws logic_error") {
    aio::queue<int> q;
    aio_test::run([&]() -> aio::awaitable<void> {
        co_await q.put(1);
        CHECK(co_await q.get() == 1);
    });
    bool threw = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        try {
            co_await q.put(2);
        } catch (const std::logic_error& e) {
            threw = std::string(e.what()).find("bound to another event loop") != std::string::npos;
        }
    });
    CHECK(threw);
    CHECK(q.empty());
}

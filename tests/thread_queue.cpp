// Tests of aio/thread_queue.hpp: thread_queue<T>, its sync and async sides, close/wait_closed.
// Every test is named "thread_queue: ..." so that CI can run just these under ThreadSanitizer
// (ctest -R "thread_queue: ").
#include "support.hpp"

#include <aio/thread_queue.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

using aio_test::join;
using aio_test::throws_as;

/// An item that says who produced it and its place in that producer's sequence.
struct stamped {
    int producer = 0;
    int seq = 0;
};

/// Awaits `get` and says what came of it: the value, "cancelled" or "shut down".
aio::awaitable<std::string> outcome_of_get(aio::thread_queue<int>& q) {
    try {
        co_return std::to_string(co_await q.async().get());
    } catch (const aio::cancelled_error&) {
        co_return "cancelled";
    } catch (const aio::queue_shut_down&) {
        co_return "shut down";
    }
}

aio::awaitable<std::string> outcome_of_put(aio::thread_queue<int>& q, int item) {
    try {
        co_await q.async().put(item);
        co_return "put " + std::to_string(item);
    } catch (const aio::cancelled_error&) {
        co_return "cancelled";
    } catch (const aio::queue_shut_down&) {
        co_return "shut down";
    }
}

/// `producers` threads each put `per_producer` stamped items; one coroutine gets them all and
/// checks that each producer's items arrive once, in order.
void threads_into_coroutine(std::size_t maxsize, int producers, int per_producer) {
    std::vector<int> next_seq(producers, 0);
    int out_of_order = 0;
    std::int64_t seq_sum = 0;
    int received = 0;
    bool surplus = true;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::thread_queue<stamped> q(maxsize);
        std::vector<std::thread> threads;
        for (int p = 0; p < producers; ++p) {
            threads.emplace_back([&q, p, per_producer] {
                for (int i = 0; i < per_producer; ++i) {
                    q.sync().put(stamped{p, i});
                }
            });
        }
        for (int n = 0; n < producers * per_producer; ++n) {
            stamped item = co_await q.async().get();
            if (item.seq != next_seq[item.producer]) {
                ++out_of_order;
            }
            next_seq[item.producer] = item.seq + 1;
            seq_sum += item.seq;
            ++received;
        }
        surplus = !q.async().empty();
        for (auto& t : threads) {
            t.join(); // all puts have returned: the last items were received
        }
    });
    const std::int64_t per = per_producer;
    CHECK(received == producers * per_producer);
    CHECK(out_of_order == 0);
    CHECK(next_seq == std::vector<int>(producers, per_producer));
    CHECK(seq_sum == producers * (per * (per - 1) / 2));
    CHECK_FALSE(surplus);
}

} // namespace

TEST_CASE(
    "thread_queue: items a thread puts reach a coroutine in order and it resumes on the loop") {
    std::vector<int> received;
    int resumed_elsewhere = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        const auto loop_thread = std::this_thread::get_id();
        aio::thread_queue<int> q;
        std::thread producer([&q] {
            for (int i = 0; i < 1000; ++i) {
                q.sync().put(i);
            }
        });
        for (int i = 0; i < 1000; ++i) {
            received.push_back(co_await q.async().get());
            if (std::this_thread::get_id() != loop_thread) {
                ++resumed_elsewhere;
            }
        }
        producer.join();
    });
    std::vector<int> expected;
    for (int i = 0; i < 1000; ++i) {
        expected.push_back(i);
    }
    CHECK(received == expected);
    CHECK(resumed_elsewhere == 0);
}

TEST_CASE("thread_queue: items a coroutine puts reach a thread in order") {
    std::vector<int> received;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::thread_queue<int> q(4);
        auto consume = [&q, &received] {
            for (int i = 0; i < 1000; ++i) {
                received.push_back(q.sync().get());
            }
        };
        auto consumer = aio::create_task(aio::to_thread(consume));
        for (int i = 0; i < 1000; ++i) {
            co_await q.async().put(i);
        }
        co_await consumer();
    });
    std::vector<int> expected;
    for (int i = 0; i < 1000; ++i) {
        expected.push_back(i);
    }
    CHECK(received == expected);
}

TEST_CASE(
    "thread_queue: 4 producer threads x 100k items reach a coroutine once each and in order") {
    threads_into_coroutine(0, 4, 100'000);
}

TEST_CASE("thread_queue: 4 producer threads x 100k items through a bounded queue (maxsize 64)") {
    threads_into_coroutine(64, 4, 100'000);
}

TEST_CASE("thread_queue: a coroutine's 100k items reach 4 consumer threads once each") {
    constexpr int total = 100'000;
    std::vector<std::vector<int>> taken(4);
    std::vector<int> shut_down_seen(4, 0);
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::thread_queue<int> q(16);
        std::vector<std::thread> consumers;
        for (int c = 0; c < 4; ++c) {
            consumers.emplace_back([&, c] {
                try {
                    for (;;) {
                        taken[c].push_back(q.sync().get());
                    }
                } catch (const aio::queue_shut_down&) {
                    shut_down_seen[c] = 1;
                }
            });
        }
        for (int i = 0; i < total; ++i) {
            co_await q.async().put(i);
        }
        q.close();
        for (auto& t : consumers) {
            t.join();
        }
    });
    std::vector<int> count(total, 0);
    int increasing_violations = 0;
    for (const auto& mine : taken) {
        for (std::size_t k = 0; k < mine.size(); ++k) {
            ++count[mine[k]];
            if (k > 0 && mine[k] <= mine[k - 1]) {
                ++increasing_violations;
            }
        }
    }
    CHECK(count == std::vector<int>(total, 1));
    CHECK(increasing_violations == 0);
    CHECK(shut_down_seen == std::vector<int>(4, 1));
}

TEST_CASE("thread_queue: maxsize holds a producer thread back until the coroutine gets") {
    constexpr std::size_t maxsize = 3;
    constexpr int total = 200;
    std::atomic<int> puts_returned{0};
    int ahead_of_consumer = 0;
    bool full_reached = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::thread_queue<int> q(maxsize);
        std::thread producer([&] {
            for (int i = 0; i < total; ++i) {
                q.sync().put(i);
                ++puts_returned;
            }
        });
        while (!q.async().full()) {
            co_await aio::sleep(0s);
        }
        full_reached = true;
        for (int got = 0; got < total; ++got) {
            // A put returns only once its item is in: never more than maxsize ahead.
            if (puts_returned.load() > got + static_cast<int>(maxsize)) {
                ++ahead_of_consumer;
            }
            co_await q.async().get();
        }
        producer.join();
    });
    CHECK(full_reached);
    CHECK(ahead_of_consumer == 0);
    CHECK(puts_returned.load() == total);
}

TEST_CASE("thread_queue: maxsize parks a producer coroutine until a thread gets") {
    constexpr std::size_t maxsize = 3;
    constexpr int total = 200;
    std::atomic<int> gets_returned{0};
    int ahead_of_consumer = 0;
    std::vector<int> received;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::thread_queue<int> q(maxsize);
        auto consume = [&] {
            while (!q.sync().full()) {
                std::this_thread::yield();
            }
            for (int i = 0; i < total; ++i) {
                received.push_back(q.sync().get());
                ++gets_returned;
            }
        };
        auto consumer = aio::create_task(aio::to_thread(consume));
        for (int put = 0; put < total; ++put) {
            co_await q.async().put(put);
            // Items in the queue: put + 1 - taken <= maxsize, and taken <= gets_returned + 1.
            if (put + 1 > gets_returned.load() + 1 + static_cast<int>(maxsize)) {
                ++ahead_of_consumer;
            }
        }
        co_await consumer();
    });
    CHECK(ahead_of_consumer == 0);
    CHECK(received.size() == static_cast<std::size_t>(total));
    CHECK(gets_returned.load() == total);
}

TEST_CASE("thread_queue: an async put parks while full and getters are served in FIFO order") {
    std::vector<std::string> events;
    bool putter_parked = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::thread_queue<int> q(1);
        q.async().put_nowait(1);
        auto putter = aio::create_task(outcome_of_put(q, 2));
        co_await aio::sleep(0s);
        co_await aio::sleep(0s);
        putter_parked = !putter.done();
        events.push_back(std::to_string(co_await q.async().get()));
        events.push_back(co_await putter());
        events.push_back(std::to_string(co_await q.async().get()));

        auto first = aio::create_task(outcome_of_get(q));
        auto second = aio::create_task(outcome_of_get(q));
        co_await aio::sleep(0s);
        q.async().put_nowait(10);
        co_await q.async().put(20);
        events.push_back("first " + co_await first());
        events.push_back("second " + co_await second());
    });
    CHECK(putter_parked);
    CHECK(join(events) == "1|put 2|2|first 10|second 20");
}

TEST_CASE("thread_queue: sync get and put time out with queue_empty and queue_full") {
    aio::runner r;
    aio::thread_queue<int> q(r.get_loop(), 1);
    auto s = q.sync();

    CHECK(throws_as<aio::queue_empty>([&] { s.get(0s); }));
    CHECK(throws_as<aio::queue_empty>([&] { s.get(-1s); }));
    auto start = std::chrono::steady_clock::now();
    CHECK(throws_as<aio::queue_empty>([&] { s.get(20ms); }));
    CHECK(std::chrono::steady_clock::now() - start >= 20ms);

    s.put(1, 0s);
    CHECK(throws_as<aio::queue_full>([&] { s.put(2, 0s); }));
    start = std::chrono::steady_clock::now();
    CHECK(throws_as<aio::queue_full>([&] { s.put(2, 20ms); }));
    CHECK(std::chrono::steady_clock::now() - start >= 20ms);
    CHECK(s.size() == 1);

    // A timeout too long to represent means "no timeout".
    CHECK(s.get(std::chrono::hours::max()) == 1);
    s.put(3, std::chrono::hours::max());
    CHECK(s.get(10s) == 3);
}

TEST_CASE("thread_queue: a timed sync get returns an item put meanwhile by another thread") {
    aio::runner r;
    aio::thread_queue<int> q(r.get_loop());
    std::thread producer([&q] { q.sync().put(5); });
    int got = q.sync().get(10s);
    producer.join();
    CHECK(got == 5);
    CHECK(q.sync().empty());
}

TEST_CASE("thread_queue: nowait calls throw queue_full and queue_empty on both sides") {
    aio::runner r;
    aio::thread_queue<int> q(r.get_loop(), 2);
    CHECK(throws_as<aio::queue_empty>([&] { q.sync().get_nowait(); }));
    CHECK(throws_as<aio::queue_empty>([&] { q.async().get_nowait(); }));
    q.sync().put_nowait(1);
    q.async().put_nowait(2);
    CHECK(q.sync().full());
    CHECK(q.async().full());
    CHECK(q.async().size() == 2);
    CHECK(q.maxsize() == 2);
    CHECK(q.sync().maxsize() == 2);
    CHECK(throws_as<aio::queue_full>([&] { q.sync().put_nowait(3); }));
    CHECK(throws_as<aio::queue_full>([&] { q.async().put_nowait(3); }));
    CHECK(q.async().get_nowait() == 1);
    CHECK(q.sync().get_nowait() == 2);
    CHECK(q.sync().empty());

    aio::thread_queue<int> unbounded(r.get_loop());
    for (int i = 0; i < 1000; ++i) {
        unbounded.sync().put_nowait(i);
    }
    CHECK_FALSE(unbounded.async().full());
    CHECK(unbounded.async().size() == 1000);
}

TEST_CASE("thread_queue: after close both sides drain what is left and then get queue_shut_down") {
    std::vector<std::string> events;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::thread_queue<int> q;
        q.sync().put_nowait(1);
        q.async().put_nowait(2);
        q.sync().put_nowait(3);
        q.close();
        q.close();
        events.push_back(q.closed() ? "closed" : "open");
        events.push_back(throws_as<aio::queue_shut_down>([&] { q.sync().put_nowait(4); })
                             ? "sync put_nowait refused"
                             : "sync put_nowait accepted");
        events.push_back(throws_as<aio::queue_shut_down>([&] { q.async().put_nowait(4); })
                             ? "async put_nowait refused"
                             : "async put_nowait accepted");
        events.push_back(co_await outcome_of_put(q, 4));
        auto sync_put = [&q] {
            return throws_as<aio::queue_shut_down>([&] { q.sync().put(4); }) ? "sync put refused"
                                                                             : "sync put accepted";
        };
        events.push_back(co_await aio::to_thread(sync_put));
        auto sync_get = [&q] { return q.sync().get(); };
        events.push_back(std::to_string(co_await aio::to_thread(sync_get)));
        events.push_back(co_await outcome_of_get(q));
        events.push_back(std::to_string(q.sync().get_nowait()));
        events.push_back(co_await outcome_of_get(q));
        auto drained_get = [&q] {
            return throws_as<aio::queue_shut_down>([&] { q.sync().get(10s); })
                       ? "sync get shut down"
                       : "sync get went on";
        };
        events.push_back(co_await aio::to_thread(drained_get));
        events.push_back(throws_as<aio::queue_shut_down>([&] { q.async().get_nowait(); })
                             ? "get_nowait shut down"
                             : "get_nowait went on");
    });
    CHECK(join(events) == "closed|sync put_nowait refused|async put_nowait refused|shut down|"
                          "sync put refused|1|2|3|shut down|sync get shut down|"
                          "get_nowait shut down");
}

TEST_CASE("thread_queue: close wakes a blocked sync get and a blocked sync put") {
    aio::runner r;
    aio::thread_queue<int> empty(r.get_loop());
    aio::thread_queue<int> full(r.get_loop(), 1);
    full.sync().put(1);
    std::atomic<int> calling{0};
    bool get_shut_down = false;
    bool put_shut_down = false;
    std::thread getter([&] {
        ++calling;
        get_shut_down = throws_as<aio::queue_shut_down>([&] { empty.sync().get(); });
    });
    std::thread putter([&] {
        ++calling;
        put_shut_down = throws_as<aio::queue_shut_down>([&] { full.sync().put(2); });
    });
    while (calling.load() < 2) {
        std::this_thread::yield();
    }
    empty.close();
    full.close();
    getter.join();
    putter.join();
    CHECK(get_shut_down);
    CHECK(put_shut_down);
    CHECK(full.sync().get_nowait() == 1); // the refused item was never added
    CHECK(throws_as<aio::queue_shut_down>([&] { full.sync().get_nowait(); }));
}

TEST_CASE("thread_queue: close from a thread or from the loop wakes parked async gets and puts") {
    std::vector<std::string> events;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::thread_queue<int> empty;
        aio::thread_queue<int> full(1);
        full.async().put_nowait(1);
        auto getter = aio::create_task(outcome_of_get(empty));
        auto putter = aio::create_task(outcome_of_put(full, 2));
        co_await aio::sleep(0s);
        std::thread closer([&empty] { empty.close(); });
        closer.join();
        full.close();
        events.push_back("get " + co_await getter());
        events.push_back("put " + co_await putter());
        events.push_back(co_await outcome_of_get(full));
        events.push_back(co_await outcome_of_get(full));
    });
    CHECK(join(events) == "get shut down|put shut down|1|shut down");
}

TEST_CASE("thread_queue: wait_closed completes once a thread closes the queue") {
    std::vector<std::string> events;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::thread_queue<int> q;
        auto watcher = aio::create_task([&]() -> aio::awaitable<void> {
            co_await q.wait_closed();
            events.push_back("closed seen");
        });
        auto cancelled_watcher = aio::create_task([&]() -> aio::awaitable<void> {
            try {
                co_await q.wait_closed();
                events.push_back("cancelled watcher woke");
            } catch (const aio::cancelled_error&) {
                events.push_back("watcher cancelled");
            }
        });
        co_await aio::sleep(0s);
        cancelled_watcher.cancel();
        co_await cancelled_watcher();
        events.push_back(q.closed() ? "closed" : "still open");
        events.push_back(watcher.done() ? "watcher done" : "watcher waits");
        std::thread closer([&q] { q.close(); });
        co_await watcher();
        closer.join();
        co_await q.wait_closed();
        events.push_back("wait_closed after close returns");
    });
    CHECK(join(events) ==
          "watcher cancelled|still open|watcher waits|closed seen|wait_closed after close returns");
}

TEST_CASE("thread_queue: a cancelled parked async get leaves the next item for the next getter") {
    std::vector<std::string> events;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::thread_queue<int> q;
        auto first = aio::create_task(outcome_of_get(q));
        auto second = aio::create_task(outcome_of_get(q));
        co_await aio::sleep(0s);
        first.cancel();
        q.async().put_nowait(7);
        events.push_back("first " + co_await first());
        events.push_back("second " + co_await second());
        events.push_back("left " + std::to_string(q.async().size()));
    });
    CHECK(join(events) == "first cancelled|second 7|left 0");
}

TEST_CASE(
    "thread_queue: an async get woken for an item and cancelled before it resumes hands it on") {
    std::vector<std::string> events;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::thread_queue<int> q;
        auto first = aio::create_task(outcome_of_get(q));
        auto second = aio::create_task(outcome_of_get(q));
        co_await aio::sleep(0s);
        q.async().put_nowait(7); // wakes first on the loop
        first.cancel();          // before first has resumed
        events.push_back("first " + co_await first());
        events.push_back("second " + co_await second());

        auto third = aio::create_task(outcome_of_get(q));
        auto fourth = aio::create_task(outcome_of_get(q));
        co_await aio::sleep(0s);
        // A thread's put posts the wake of third to the loop; the loop is held here, so the
        // cancel comes before that wake runs.
        std::thread producer([&q] { q.sync().put_nowait(8); });
        producer.join();
        third.cancel();
        events.push_back("third " + co_await third());
        events.push_back("fourth " + co_await fourth());
        events.push_back("left " + std::to_string(q.async().size()));
    });
    CHECK(join(events) == "first cancelled|second 7|third cancelled|fourth 8|left 0");
}

TEST_CASE("thread_queue: an async put cancelled while full takes no slot and adds nothing") {
    std::vector<std::string> events;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::thread_queue<int> q(1);
        q.async().put_nowait(1);
        auto parked = aio::create_task(outcome_of_put(q, 2));
        auto woken = aio::create_task(outcome_of_put(q, 3));
        auto next = aio::create_task(outcome_of_put(q, 4));
        co_await aio::sleep(0s);
        parked.cancel();
        events.push_back("parked " + co_await parked());
        events.push_back(std::to_string(q.async().get_nowait())); // wakes woken
        woken.cancel();                                           // before it has resumed
        events.push_back("woken " + co_await woken());
        events.push_back("next " + co_await next());
        events.push_back(std::to_string(q.async().get_nowait()));
        events.push_back("left " + std::to_string(q.async().size()));

        // The same with the slot freed by a thread (the wake is posted to the held loop).
        q.async().put_nowait(5);
        auto from_thread = aio::create_task(outcome_of_put(q, 6));
        auto after = aio::create_task(outcome_of_put(q, 7));
        co_await aio::sleep(0s);
        std::thread consumer([&q, &events] { events.push_back(std::to_string(q.sync().get())); });
        consumer.join();
        from_thread.cancel();
        events.push_back("from_thread " + co_await from_thread());
        events.push_back("after " + co_await after());
        events.push_back(std::to_string(q.async().get_nowait()));
        events.push_back("left " + std::to_string(q.async().size()));
    });
    CHECK(join(events) == "parked cancelled|1|woken cancelled|next put 4|4|left 0|"
                          "5|from_thread cancelled|after put 7|7|left 0");
}

TEST_CASE("thread_queue: a cancellation recorded before an async get parks is delivered there") {
    // Asio itself throws operation_aborted at an await of a cancelled coroutine, unless the
    // coroutine turned that off with throw_if_cancelled(false); then aio's await delivers it.
    std::vector<std::string> events;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::thread_queue<int> q;
        auto t = aio::create_task([&]() -> aio::awaitable<void> {
            co_await boost::asio::this_coro::throw_if_cancelled(false);
            auto ex = co_await boost::asio::this_coro::executor;
            co_await boost::asio::post(ex, boost::asio::use_awaitable); // cancelled meanwhile
            events.push_back(co_await outcome_of_get(q));               // empty: would park
            q.async().put_nowait(1);
            events.push_back(co_await outcome_of_get(q));
        });
        co_await aio::sleep(0s);
        t.cancel();
        co_await t();
        events.push_back("left " + std::to_string(q.async().size()));
    });
    CHECK(join(events) == "cancelled|1|left 0");
}

TEST_CASE("thread_queue: move-only items cross in both directions") {
    int to_loop = 0;
    int to_thread = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::thread_queue<std::unique_ptr<int>> down;
        aio::thread_queue<std::unique_ptr<int>> up(1);
        std::thread worker([&] {
            down.sync().put(std::make_unique<int>(41));
            to_thread = *up.sync().get();
        });
        std::unique_ptr<int> p = co_await down.async().get();
        to_loop = *p;
        co_await up.async().put(std::make_unique<int>(*p + 1));
        worker.join();
    });
    CHECK(to_loop == 41);
    CHECK(to_thread == 42);
}

TEST_CASE("thread_queue: a rejected move-only item stays with the caller") {
    bool kept_when_full = false;
    bool kept_on_timeout = false;
    bool kept_when_closed = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::thread_queue<std::unique_ptr<int>> q(1);
        q.async().put_nowait(std::make_unique<int>(1));
        auto item = std::make_unique<int>(2);
        kept_when_full =
            throws_as<aio::queue_full>([&] { q.async().put_nowait(std::move(item)); }) &&
            item != nullptr;
        std::thread worker([&] {
            kept_on_timeout =
                throws_as<aio::queue_full>([&] { q.sync().put(std::move(item), 1ms); }) &&
                item != nullptr;
        });
        worker.join();
        q.close();
        kept_when_closed =
            throws_as<aio::queue_shut_down>([&] { q.sync().put_nowait(std::move(item)); }) &&
            item != nullptr;
        co_return;
    });
    CHECK(kept_when_full);
    CHECK(kept_on_timeout);
    CHECK(kept_when_closed);
}

TEST_CASE("thread_queue: each side refuses to be used from the wrong thread") {
    bool blocking_on_loop = false;
    bool nowait_on_loop = false;
    bool other_loop_get = false;
    bool other_loop_put = false;
    bool other_loop_wait_closed = false;
    aio::runner other;
    aio::thread_queue<int> foreign(other.get_loop());
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::thread_queue<int> q;
        blocking_on_loop = throws_as<std::logic_error>([&] { q.sync().get(); }) &&
                           throws_as<std::logic_error>([&] { q.sync().put(1, 1s); });
        q.sync().put_nowait(1);
        nowait_on_loop = q.sync().get_nowait() == 1;
        try {
            co_await foreign.async().get();
        } catch (const std::logic_error&) {
            other_loop_get = true;
        }
        try {
            co_await foreign.async().put(1);
        } catch (const std::logic_error&) {
            other_loop_put = true;
        }
        try {
            co_await foreign.wait_closed();
        } catch (const std::logic_error&) {
            other_loop_wait_closed = true;
        }
    });
    CHECK(blocking_on_loop);
    CHECK(nowait_on_loop);
    CHECK(other_loop_get);
    CHECK(other_loop_put);
    CHECK(other_loop_wait_closed);
    CHECK(foreign.sync().empty());
}

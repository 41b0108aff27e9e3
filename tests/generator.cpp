// Tests of aio/generator.hpp: generator<T>, next, aclose, closing by the destructor.
#include "fixtures.hpp"

#include <aio/generator.hpp>

#include <boost/asio/deferred.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace {

using aio_test::holds;
using aio_test::join;
using aio_test::live_count;

aio::generator<int> count_to(int n) {
    for (int i = 1; i <= n; ++i) {
        co_yield int(i);
    }
}

/// Yields 1; closed there, it throws std::runtime_error("cleanup failed") from its cleanup.
aio::generator<int> fails_when_closed() {
    try {
        co_yield 1;
    } catch (const aio::generator_exit&) {
        throw std::runtime_error("cleanup failed");
    }
}

} // namespace

TEST_CASE("a generator yields its values in order, then nullopt on every later next") {
    std::vector<int> values;
    bool end_twice = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto gen = count_to(3);
        while (std::optional<int> v = co_await gen.next()) {
            values.push_back(*v);
        }
        end_twice = !(co_await gen.next()).has_value();
    });
    CHECK(values == std::vector<int>{1, 2, 3});
    CHECK(end_twice);
}

TEST_CASE("the body runs only when next is awaited") {
    std::vector<std::string> events;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto body = [&]() -> aio::generator<int> {
            events.push_back("start");
            co_yield 1;
            events.push_back("after 1");
            co_yield 2;
            events.push_back("end");
        };
        auto gen = body();
        events.push_back("created");
        co_await aio::sleep(0s);
        events.push_back("slept");
        (void)co_await gen.next();
        events.push_back("got 1");
        (void)co_await gen.next();
        events.push_back("got 2");
        (void)co_await gen.next();
    });
    CHECK(join(events) == "created|slept|start|got 1|after 1|got 2|end");
}

TEST_CASE("next returns without suspending when the body does not await") {
    bool other_ran_meanwhile = true;
    int sum = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        bool other_ran = false;
        auto other = aio::create_task([&]() -> aio::awaitable<void> {
            other_ran = true;
            co_return;
        });
        auto gen = count_to(1000);
        while (std::optional<int> v = co_await gen.next()) {
            sum += *v;
        }
        // The task was ready to start all along: it did not run, so no next() ever went
        // through the loop.
        other_ran_meanwhile = other_ran;
        co_await other();
    });
    CHECK_FALSE(other_ran_meanwhile);
    CHECK(sum == 500500);
}

TEST_CASE("the body can await aio functions, Asio operations and this_coro tags") {
    std::vector<int> values;
    bool same_executor = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto consumer_executor = co_await boost::asio::this_coro::executor;
        auto body = [&]() -> aio::generator<int> {
            co_await aio::sleep(0s);
            co_yield 1;
            boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, 1ms);
            co_await timer.async_wait(boost::asio::use_awaitable);
            co_yield 2;
            auto [a, b] = co_await aio::gather(aio_test::value_now(3), aio_test::value_now(4));
            co_yield a + b;
            co_await boost::asio::post(co_await boost::asio::this_coro::executor,
                                       boost::asio::deferred);
            auto cs = co_await boost::asio::this_coro::cancellation_state;
            co_yield cs.cancelled() == boost::asio::cancellation_type::none ? 8 : -1;
            same_executor = (co_await boost::asio::this_coro::executor) == consumer_executor;
        };
        auto gen = body();
        while (std::optional<int> v = co_await gen.next()) {
            values.push_back(*v);
        }
    });
    CHECK(values == std::vector<int>{1, 2, 7, 8});
    CHECK(same_executor);
}

TEST_CASE("the body runs in the consumer's task") {
    bool same_task = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::any_task consumer;
        auto body = [&]() -> aio::generator<int> {
            aio::any_task inside = co_await aio::current_task();
            same_task = inside == consumer;
            co_yield 1;
        };
        auto task = aio::create_task([&]() -> aio::awaitable<void> {
            consumer = co_await aio::current_task();
            auto gen = body();
            (void)co_await gen.next();
        });
        co_await task();
    });
    CHECK(same_task);
}

TEST_CASE("an exception in the body reaches the consumer after the earlier values") {
    std::vector<int> values;
    std::string error;
    bool ended_after_error = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto body = []() -> aio::generator<int> {
            co_yield 1;
            co_await aio::sleep(0s);
            co_yield 2;
            throw std::runtime_error("body failed");
        };
        auto gen = body();
        try {
            while (std::optional<int> v = co_await gen.next()) {
                values.push_back(*v);
            }
        } catch (const std::runtime_error& e) {
            error = e.what();
        }
        ended_after_error = !(co_await gen.next()).has_value();
    });
    CHECK(values == std::vector<int>{1, 2});
    CHECK(error == "body failed");
    CHECK(ended_after_error);
}

TEST_CASE("destroying an unfinished generator runs its destructors and catch blocks") {
    int live = 0;
    int live_while_suspended = 0;
    bool caught_close = false;
    bool caught_generator_exit = false;
    bool cleanup_await_failed_at_once = false;
    aio_test::report_log log;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(co_await aio::this_loop());
        auto body = [&]() -> aio::generator<int> {
            live_count local(live);
            std::exception_ptr closed;
            try {
                co_yield 1;
                co_yield 2;
            } catch (const aio::cancelled_error&) {
                caught_close = true;
                closed = std::current_exception();
            }
            caught_generator_exit = holds<aio::generator_exit>(closed);
            try {
                co_await aio::sleep(0s);
            } catch (const aio::generator_exit&) {
                cleanup_await_failed_at_once = true;
                throw;
            }
        };
        {
            auto gen = body();
            (void)co_await gen.next();
            live_while_suspended = live;
        }
    });
    CHECK(live_while_suspended == 1);
    CHECK(live == 0);
    CHECK(caught_close);
    CHECK(caught_generator_exit);
    CHECK(cleanup_await_failed_at_once);
    CHECK(log.entries.empty());
}

TEST_CASE("a generator destroyed before it started never runs its body") {
    int live = 0;
    bool body_ran = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto body = [&](std::shared_ptr<live_count>) -> aio::generator<int> {
            body_ran = true;
            co_yield 1;
        };
        {
            auto gen = body(std::make_shared<live_count>(live));
            CHECK(live == 1);
        }
        co_return;
    });
    CHECK_FALSE(body_ran);
    CHECK(live == 0);
}

TEST_CASE("aclose throws generator_exit at the co_yield and lets the cleanup await") {
    std::vector<std::string> events;
    bool next_after_close_empty = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto body = [&]() -> aio::generator<int> {
            bool closing = false;
            try {
                co_yield 1;
                co_yield 2;
            } catch (const aio::generator_exit&) {
                closing = true;
            }
            if (closing) {
                events.push_back("caught");
                co_await aio::sleep(1ms);
                events.push_back("cleaned up");
                throw aio::generator_exit();
            }
        };
        auto gen = body();
        (void)co_await gen.next();
        events.push_back("closing");
        co_await gen.aclose();
        events.push_back("closed");
        next_after_close_empty = !(co_await gen.next()).has_value();
        co_await gen.aclose();
    });
    CHECK(join(events) == "closing|caught|cleaned up|closed");
    CHECK(next_after_close_empty);
}

TEST_CASE("aclose of a generator that never started does not run its body") {
    bool body_ran = false;
    bool empty_after = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto body = [&]() -> aio::generator<int> {
            body_ran = true;
            co_yield 1;
        };
        auto gen = body();
        co_await gen.aclose();
        empty_after = !(co_await gen.next()).has_value();
    });
    CHECK_FALSE(body_ran);
    CHECK(empty_after);
}

TEST_CASE("aclose rethrows an error the body ends with while closing") {
    std::string error;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto gen = fails_when_closed();
        (void)co_await gen.next();
        try {
            co_await gen.aclose();
        } catch (const std::runtime_error& e) {
            error = e.what();
        }
    });
    CHECK(error == "cleanup failed");
}

TEST_CASE("a body that yields after close is an error") {
    bool aclose_threw = false;
    int live = 0;
    int live_after_aclose = -1;
    aio_test::report_log log;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(co_await aio::this_loop());
        auto body = [&]() -> aio::generator<int> {
            live_count local(live);
            for (int i = 0;; ++i) {
                try {
                    co_yield int(i);
                } catch (const aio::generator_exit&) {
                }
            }
        };
        {
            auto gen = body();
            (void)co_await gen.next();
            try {
                co_await gen.aclose();
            } catch (const aio::invalid_state_error&) {
                aclose_threw = true;
            }
            live_after_aclose = live;
            CHECK_FALSE((co_await gen.next()).has_value());
        }
        CHECK(log.entries.empty());
        {
            auto gen = body();
            (void)co_await gen.next();
        }
    });
    CHECK(aclose_threw);
    CHECK(live_after_aclose == 1);
    CHECK(live == 0);
    CHECK(log.count("ignored close") == 1);
}

TEST_CASE("an error while the destructor closes a generator is reported") {
    aio_test::report_log log;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(co_await aio::this_loop());
        auto gen = fails_when_closed();
        (void)co_await gen.next();
    });
    REQUIRE(log.entries.size() == 1);
    CHECK(log.count("closing of an asynchronous generator") == 1);
    CHECK(aio::describe(log.entries[0].exception) == "cleanup failed");
}

TEST_CASE("cancelling the consumer cancels the await the body is parked in") {
    bool body_saw_cancel = false;
    bool consumer_saw_cancel = false;
    bool consumer_cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> parked;
        auto body = [&]() -> aio::generator<int> {
            co_yield 1;
            parked.set_result();
            try {
                co_await aio::sleep(10s);
            } catch (const aio::cancelled_error&) {
                body_saw_cancel = true;
                throw;
            }
            co_yield 2;
        };
        auto gen = body();
        auto consumer = aio::create_task([&]() -> aio::awaitable<void> {
            while (co_await gen.next()) {
            }
        });
        auto catcher = aio::create_task([&]() -> aio::awaitable<void> {
            try {
                co_await consumer();
            } catch (const aio::cancelled_error&) {
                consumer_saw_cancel = true;
            }
        });
        co_await parked();
        consumer.cancel();
        co_await catcher();
        consumer_cancelled = consumer.cancelled();
    });
    CHECK(body_saw_cancel);
    CHECK(consumer_saw_cancel);
    CHECK(consumer_cancelled);
}

TEST_CASE("a body can catch a raw Asio cancellation, uncancel and await its cleanup") {
    std::vector<std::string> events;
    bool consumer_cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> parked;
        auto body = [&]() -> aio::generator<int> {
            boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, 1h);
            parked.set_result();
            bool aborted = false;
            try {
                co_await timer.async_wait(boost::asio::use_awaitable);
            } catch (const boost::system::system_error& e) {
                aborted = e.code() == boost::asio::error::operation_aborted;
            }
            events.push_back(aborted ? "aborted" : "not aborted");
            co_await aio::uncancel();
            co_await aio::sleep(0s);
            events.push_back("cleaned up");
            co_yield 1;
        };
        auto gen = body();
        auto consumer = aio::create_task([&]() -> aio::awaitable<int> {
            std::optional<int> v = co_await gen.next();
            co_return v.value_or(0);
        });
        co_await parked();
        consumer.cancel();
        events.push_back("got " + std::to_string(co_await consumer()));
        consumer_cancelled = consumer.cancelled();
    });
    CHECK(join(events) == "aborted|cleaned up|got 1");
    CHECK_FALSE(consumer_cancelled);
}

TEST_CASE("a second next or aclose while next is in progress throws invalid_state_error") {
    bool second_next_threw = false;
    bool aclose_threw = false;
    int first_value = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<int> source;
        auto body = [&]() -> aio::generator<int> { co_yield co_await source(); };
        auto gen = body();
        auto first = aio::create_task(
            [&]() -> aio::awaitable<void> { first_value = (co_await gen.next()).value_or(-1); });
        co_await aio::sleep(0s);
        try {
            (void)co_await gen.next();
        } catch (const aio::invalid_state_error&) {
            second_next_threw = true;
        }
        try {
            co_await gen.aclose();
        } catch (const aio::invalid_state_error&) {
            aclose_threw = true;
        }
        source.set_result(5);
        co_await first();
    });
    CHECK(second_next_threw);
    CHECK(aclose_threw);
    CHECK(first_value == 5);
}

TEST_CASE("a generator of a move-only type moves its values out") {
    std::vector<int> values;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto body = []() -> aio::generator<std::unique_ptr<int>> {
            co_yield std::make_unique<int>(1);
            auto two = std::make_unique<int>(2);
            co_await aio::sleep(0s);
            co_yield std::move(two);
        };
        auto gen = body();
        while (std::optional<std::unique_ptr<int>> v = co_await gen.next()) {
            values.push_back(**v);
        }
    });
    CHECK(values == std::vector<int>{1, 2});
}

TEST_CASE("a co_yield of an lvalue hands out a copy") {
    std::vector<std::string> values;
    std::string kept;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto body = [&]() -> aio::generator<std::string> {
            std::string word = "same";
            co_yield word;
            co_yield word;
            kept = word;
        };
        auto gen = body();
        while (std::optional<std::string> v = co_await gen.next()) {
            values.push_back(std::move(*v));
        }
    });
    CHECK(join(values) == "same|same");
    CHECK(kept == "same");
}

TEST_CASE("empty generators end at once") {
    bool body_empty = false;
    bool default_empty = false;
    bool moved_from_empty = false;
    int moved_value = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto body = []() -> aio::generator<int> { co_return; };
        auto gen = body();
        body_empty = !(co_await gen.next()).has_value();

        aio::generator<int> none;
        default_empty = !(co_await none.next()).has_value();
        co_await none.aclose();

        auto source = count_to(2);
        aio::generator<int> target = std::move(source);
        moved_from_empty = !(co_await source.next()).has_value();
        moved_value = (co_await target.next()).value_or(0);
    });
    CHECK(body_empty);
    CHECK(default_empty);
    CHECK(moved_from_empty);
    CHECK(moved_value == 1);
}

TEST_CASE("move assignment closes the generator it replaces") {
    int live = 0;
    bool closed = false;
    int value = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto body = [&]() -> aio::generator<int> {
            live_count local(live);
            try {
                co_yield 1;
            } catch (const aio::generator_exit&) {
                closed = true;
                throw;
            }
        };
        auto gen = body();
        (void)co_await gen.next();
        gen = count_to(3);
        CHECK(live == 0);
        value = (co_await gen.next()).value_or(0);
    });
    CHECK(closed);
    CHECK(live == 0);
    CHECK(value == 1);
}

namespace {

/// Yields 1, records what is thrown in at that co_yield, then yields what `after_catch` says.
aio::generator<int> catching_at_yield(std::vector<std::string>& events, int after_catch) {
    try {
        co_yield 1;
        events.push_back("not thrown");
    } catch (const std::runtime_error& e) {
        events.push_back(std::string("caught ") + e.what());
    }
    co_await aio::sleep(0s); // the handler may await: athrow serves it
    if (after_catch != 0) {
        co_yield int(after_catch);
    }
    events.push_back("finished");
}

} // namespace

TEST_CASE("athrow throws at the co_yield and returns the next value the body yields") {
    std::vector<std::string> events;
    std::optional<int> first;
    std::optional<int> after;
    std::optional<int> end;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto gen = catching_at_yield(events, 7);
        first = co_await gen.next();
        after = co_await gen.athrow(std::make_exception_ptr(std::runtime_error("boom")));
        end = co_await gen.next();
    });
    CHECK(first == 1);
    CHECK(after == 7);
    CHECK_FALSE(end.has_value());
    CHECK(join(events) == "caught boom|finished");
}

TEST_CASE("athrow returns nullopt when the body catches and finishes") {
    std::vector<std::string> events;
    bool ended = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto gen = catching_at_yield(events, 0);
        co_await gen.next();
        ended = !(co_await gen.athrow(std::make_exception_ptr(std::runtime_error("x"))));
    });
    CHECK(ended);
    CHECK(join(events) == "caught x|finished");
}

TEST_CASE("athrow rethrows the exception the body does not catch, and the generator ends") {
    int live = 0;
    bool same = false;
    bool ended_after = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto gen = [](int& l) -> aio::generator<int> {
            live_count t(l);
            co_yield 1;
            co_yield 2;
        }(live);
        co_await gen.next();
        CHECK(live == 1);
        std::exception_ptr thrown = std::make_exception_ptr(std::logic_error("not caught"));
        try {
            co_await gen.athrow(thrown);
        } catch (...) {
            same = std::current_exception() == thrown;
        }
        ended_after = !(co_await gen.next());
    });
    CHECK(same);
    CHECK(ended_after);
    CHECK(live == 0);
}

TEST_CASE("athrow of a generator not started or finished rethrows without running the body") {
    bool ran = false;
    bool not_started_threw = false;
    bool finished_threw = false;
    bool ended = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto gen = [](bool& r) -> aio::generator<int> {
            r = true;
            co_yield 1;
        }(ran);
        try {
            co_await gen.athrow(std::make_exception_ptr(std::runtime_error("early")));
        } catch (const std::runtime_error&) {
            not_started_threw = true;
        }
        ended = !(co_await gen.next());
        auto done = count_to(0);
        co_await done.next();
        try {
            co_await done.athrow(std::make_exception_ptr(std::runtime_error("late")));
        } catch (const std::runtime_error&) {
            finished_threw = true;
        }
    });
    CHECK(not_started_threw);
    CHECK_FALSE(ran);
    CHECK(ended);
    CHECK(finished_threw);
}

TEST_CASE("athrow while a next is in progress throws invalid_state_error") {
    bool invalid = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::event go;
        auto gen = [](aio::event& g) -> aio::generator<int> {
            co_await g.wait();
            co_yield 1;
        }(go);
        auto pending = aio::create_task(gen.next());
        co_await aio::sleep(0s); // the task parks inside the body's await
        try {
            co_await gen.athrow(std::make_exception_ptr(std::runtime_error("meanwhile")));
        } catch (const aio::invalid_state_error&) {
            invalid = true;
        }
        go.set();
        co_await pending();
    });
    CHECK(invalid);
}

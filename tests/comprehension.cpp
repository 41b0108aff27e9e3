// Tests of aio/comprehension.hpp: collect, transform, filter, take.
#include "support.hpp"

#include <aio/comprehension.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

using aio_test::join;

/// 1, 2, 3, ... forever; records each value it produces, and its cleanup, which awaits.
aio::generator<int> numbers(std::vector<std::string>& events) {
    bool closing = false;
    try {
        for (int i = 1;; ++i) {
            events.push_back("pull " + std::to_string(i));
            co_yield int(i);
        }
    } catch (const aio::generator_exit&) {
        closing = true;
    }
    if (closing) {
        events.push_back("numbers closing");
        co_await aio::sleep(0s);
        events.push_back("numbers closed");
        throw aio::generator_exit();
    }
}

aio::generator<int> count_to(int n) {
    for (int i = 1; i <= n; ++i) {
        co_await aio::sleep(0s);
        co_yield int(i);
    }
}

bool odd(int v) {
    return v % 2 != 0;
}

aio::awaitable<bool> odd_later(const int& v) {
    co_await aio::sleep(0s);
    co_return v % 2 != 0;
}

aio::awaitable<std::string> spell_later(int v) {
    co_await aio::sleep(0s);
    co_return "#" + std::to_string(v);
}

} // namespace

TEST_CASE("collect returns every value of a generator, owned or borrowed") {
    std::vector<int> owned;
    std::vector<int> borrowed;
    std::vector<int> rest;
    aio_test::run([&]() -> aio::awaitable<void> {
        owned = co_await aio::collect(count_to(3));
        auto gen = count_to(4);
        (void)co_await gen.next();
        borrowed = co_await aio::collect(gen);
        rest = co_await aio::collect(gen);
    });
    CHECK(owned == std::vector<int>{1, 2, 3});
    CHECK(borrowed == std::vector<int>{2, 3, 4});
    CHECK(rest.empty());
}

TEST_CASE("a composed pipeline stops early and take closes the whole upstream chain") {
    std::vector<std::string> events;
    std::vector<int> result;
    aio_test::run([&]() -> aio::awaitable<void> {
        result = co_await aio::collect(aio::take(aio::filter(numbers(events), odd), 3));
        events.push_back("collected");
    });
    CHECK(result == std::vector<int>{1, 3, 5});
    CHECK(join(events) ==
          "pull 1|pull 2|pull 3|pull 4|pull 5|numbers closing|numbers closed|collected");
}

TEST_CASE("transform applies a plain or an async function and may change the type") {
    std::vector<int> squares;
    std::vector<std::string> spelled;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto square = [](int v) { return v * v; };
        squares = co_await aio::collect(aio::transform(count_to(3), square));
        spelled = co_await aio::collect(aio::transform(count_to(3), spell_later));
    });
    CHECK(squares == std::vector<int>{1, 4, 9});
    CHECK(join(spelled) == "#1|#2|#3");
}

TEST_CASE("filter keeps the values a plain or an async predicate accepts") {
    std::vector<int> plain;
    std::vector<int> async;
    aio_test::run([&]() -> aio::awaitable<void> {
        plain = co_await aio::collect(aio::filter(count_to(6), odd));
        async = co_await aio::collect(aio::filter(count_to(6), odd_later));
    });
    CHECK(plain == std::vector<int>{1, 3, 5});
    CHECK(async == std::vector<int>{1, 3, 5});
}

TEST_CASE("take closes an owned input before handing out the last value") {
    std::vector<std::string> events;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto first_two = aio::take(numbers(events), 2);
        while (std::optional<int> v = co_await first_two.next()) {
            events.push_back("got " + std::to_string(*v));
        }
        auto none = aio::take(numbers(events), 0);
        events.push_back(co_await none.next() ? "zero gave a value" : "zero gave nothing");
    });
    CHECK(join(events) ==
          "pull 1|got 1|pull 2|numbers closing|numbers closed|got 2|zero gave nothing");
}

TEST_CASE("take leaves a borrowed input open after the values it took") {
    std::vector<int> taken;
    std::vector<int> rest;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto gen = count_to(5);
        taken = co_await aio::collect(aio::take(gen, 2));
        rest = co_await aio::collect(gen);
    });
    CHECK(taken == std::vector<int>{1, 2});
    CHECK(rest == std::vector<int>{3, 4, 5});
}

TEST_CASE("an error in a comprehension reaches the consumer and closes its input") {
    std::vector<std::string> events;
    std::string error;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto fail_at_three = [](int v) {
            if (v == 3) {
                throw std::runtime_error("three");
            }
            return v;
        };
        auto mapped = aio::transform(numbers(events), fail_at_three);
        try {
            while (std::optional<int> v = co_await mapped.next()) {
                events.push_back("got " + std::to_string(*v));
            }
        } catch (const std::runtime_error& e) {
            error = e.what();
        }
    });
    CHECK(error == "three");
    CHECK(join(events) == "pull 1|got 1|pull 2|got 2|pull 3|numbers closing|numbers closed");
}

TEST_CASE("an error in the input passes through a pipeline") {
    std::vector<int> values;
    std::string error;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto failing = []() -> aio::generator<int> {
            co_yield 1;
            co_yield 2;
            throw std::runtime_error("input failed");
        };
        auto identity = [](int v) { return v; };
        auto pipeline = aio::take(aio::transform(failing(), identity), 5);
        try {
            while (std::optional<int> v = co_await pipeline.next()) {
                values.push_back(*v);
            }
        } catch (const std::runtime_error& e) {
            error = e.what();
        }
    });
    CHECK(values == std::vector<int>{1, 2});
    CHECK(error == "input failed");
}

TEST_CASE("destroying an unfinished pipeline closes every generator in it") {
    std::vector<std::string> events;
    aio_test::run([&]() -> aio::awaitable<void> {
        {
            auto pipeline = aio::filter(numbers(events), odd);
            events.push_back("got " + std::to_string((co_await pipeline.next()).value_or(0)));
        }
        events.push_back("destroyed");
    });
    // The destructor cannot await: the cleanup starts, but its await fails at once.
    CHECK(join(events) == "pull 1|got 1|numbers closing|destroyed");
}

TEST_CASE("cancelling the consumer of a pipeline cancels the innermost await") {
    bool source_saw_cancel = false;
    bool consumer_cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> parked;
        auto slow = [&]() -> aio::generator<int> {
            co_yield 1;
            parked.set_result();
            try {
                co_await aio::sleep(10s);
            } catch (const aio::cancelled_error&) {
                source_saw_cancel = true;
                throw;
            }
            co_yield 2;
        };
        auto twice = [](int v) { return 2 * v; };
        auto consumer = aio::create_task([&]() -> aio::awaitable<std::vector<int>> {
            co_return co_await aio::collect(aio::take(aio::transform(slow(), twice), 5));
        });
        co_await parked();
        consumer.cancel();
        co_await consumer.wait_done();
        consumer_cancelled = consumer.cancelled();
    });
    CHECK(source_saw_cancel);
    CHECK(consumer_cancelled);
}

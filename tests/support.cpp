// Tests of the tests' own support (support.hpp): an AIO_TEST_CASE body runs to its end, and a
// failed REQUIRE inside a coroutine ends the test instead of passing for a task's error.
#include "fixtures.hpp"

#include <doctest/doctest.h>

#include <chrono>

using namespace std::chrono_literals;

namespace {

int steps_taken = 0;

aio::awaitable<void> three_steps() {
    ++steps_taken;
    co_await aio::sleep(0s);
    ++steps_taken;
    auto t = aio::create_task(aio_test::value_now(1));
    co_await t();
    ++steps_taken;
}

/// Throws what a failed REQUIRE throws, by hand: no assertion fails.
aio::awaitable<void> throw_test_failure() {
    co_await aio::sleep(0s);
    throw doctest::detail::TestFailureException();
}

aio::awaitable<void> await_task_throwing_test_failure() {
    auto child = aio::create_task(throw_test_failure());
    co_await child();
}

} // namespace

TEST_CASE("run_test_body runs the body to its end, past its last await") {
    steps_taken = 0;
    aio_test::run_test_body(&three_steps);
    CHECK(steps_taken == 3);
}

TEST_CASE("aio::run rethrows a failed REQUIRE's exception as it is, from main or from a task") {
    CHECK_THROWS_AS(aio_test::run(throw_test_failure()), doctest::detail::TestFailureException);
    CHECK_THROWS_AS(aio_test::run(await_task_throwing_test_failure()),
                    doctest::detail::TestFailureException);
}

// The tests below fail on purpose, once each: doctest counts them passed when exactly one
// assertion failed. A second failure would show that the coroutine went on after its REQUIRE,
// or that AIO_TEST_CASE's own checks (the body reached its end, the loop reported nothing)
// failed too.

AIO_TEST_CASE("a failed REQUIRE ends the body and fails the test" * doctest::expected_failures(1)) {
    co_await aio::sleep(0s);
    int two = 1 + 1;
    REQUIRE(two == 3); // the expected failure
    FAIL_CHECK("the body went on after a failed REQUIRE");
}

AIO_TEST_CASE("a failed REQUIRE in a task ends the task and then the body awaiting it" *
              doctest::expected_failures(1)) {
    auto child = aio::create_task([]() -> aio::awaitable<void> {
        co_await aio::sleep(0s);
        int two = 1 + 1;
        REQUIRE(two == 3); // the expected failure
        FAIL_CHECK("the task went on after a failed REQUIRE");
    });
    co_await child();
    FAIL_CHECK("the body went on after its task failed a REQUIRE");
}

AIO_TEST_CASE("an error the loop reports fails an AIO_TEST_CASE" * doctest::expected_failures(1)) {
    auto lost = aio::create_task(aio_test::fail_after_yield("nobody looks"));
    co_await lost.wait_done(); // not retrieved: reported when the last handle goes
}

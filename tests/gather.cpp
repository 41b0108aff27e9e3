// Tests of aio/gather.hpp: gather (variadic and range forms, with and without
// return_exceptions).
#include "fixtures.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <exception>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

using namespace std::chrono_literals;

namespace {

using aio_test::fail_after_yield;
using aio_test::holds;
using aio_test::sleep_forever;
using aio_test::value_after;
using aio_test::value_now;

/// Waits for `gate`, records `value` in `order`, opens `next` (if any), returns `value`.
aio::awaitable<int> step(aio::future<void> gate, std::optional<aio::future<void>> next, int value,
                         std::vector<int>& order) {
    co_await gate();
    order.push_back(value);
    if (next) {
        next->set_result();
    }
    co_return value;
}

aio::awaitable<std::string> text(std::string s) {
    co_await aio::sleep(0s);
    co_return s;
}

aio::awaitable<void> count_call(int& calls) {
    co_await aio::sleep(0s);
    ++calls;
}

/// Waits for `gate`, then publishes `value` through `done` and returns it.
aio::awaitable<int> finish_on(aio::future<void> gate, aio::future<int> done, int value) {
    co_await gate();
    done.set_result(value);
    co_return value;
}

struct probe {
    int observed = 0;
    int ended = 0;
};

/// Signals `started`, sleeps; on cancellation records it, optionally awaits `cleanup_gate`
/// (after signalling `in_cleanup`), then records its end and rethrows.
aio::awaitable<void> cancellable_child(aio::future<void> started, probe& p,
                                       std::optional<aio::future<void>> cleanup_gate,
                                       std::optional<aio::future<void>> in_cleanup) {
    started.set_result();
    std::exception_ptr cancel;
    try {
        co_await aio::sleep(1h);
    } catch (const aio::cancelled_error&) {
        ++p.observed;
        cancel = std::current_exception();
    }
    if (cleanup_gate) {
        in_cleanup->set_result();
        co_await (*cleanup_gate)();
    }
    ++p.ended;
    if (cancel) {
        std::rethrow_exception(cancel);
    }
}

} // namespace

// AIO_TEST_CASE fails a test in which the loop reports anything: in the tests that leave failed
// or cancelled children behind, that shows gather retrieved their exceptions.

AIO_TEST_CASE("gather returns results in argument order when children finish in reverse order") {
    std::vector<int> order;
    aio::future<void> first;
    aio::future<void> second;
    aio::future<void> third;
    third.set_result();
    std::tuple<int, int, int> results =
        co_await aio::gather(step(first, std::nullopt, 1, order), step(second, first, 2, order),
                             step(third, second, 3, order));
    CHECK(order == std::vector<int>{3, 2, 1});
    CHECK(results == std::make_tuple(1, 2, 3));
}

AIO_TEST_CASE("gather gives std monostate for void results") {
    int calls = 0;
    auto r = co_await aio::gather(count_call(calls), text("middle"), count_call(calls));
    static_assert(
        std::is_same_v<decltype(r), std::tuple<std::monostate, std::string, std::monostate>>);
    CHECK(calls == 2);
    CHECK(std::get<1>(r) == "middle");
}

AIO_TEST_CASE("gather propagates the first error at once while the siblings keep running") {
    std::string error;
    aio::future<void> gate_a;
    aio::future<void> gate_b;
    aio::future<int> a_done;
    auto tb = aio::create_task(value_after(gate_b, 20));
    try {
        co_await aio::gather(fail_after_yield("boom"), finish_on(gate_a, a_done, 10), tb);
    } catch (const std::runtime_error& e) {
        error = e.what();
    }
    CHECK(error == "boom");
    CHECK_FALSE(a_done.done());
    CHECK_FALSE(tb.done());
    gate_a.set_result();
    gate_b.set_result();
    int awaitable_value = co_await a_done();
    CHECK(awaitable_value == 10);
    int task_value = co_await tb();
    CHECK(task_value == 20);
    CHECK_FALSE(tb.cancelled());
}

AIO_TEST_CASE("cancelling the task awaiting gather cancels every child and waits for them all") {
    probe p;
    bool gather_threw_cancelled = false;
    int ended_when_gather_threw = -1;
    aio::future<void> started_1;
    aio::future<void> started_2;
    aio::future<void> cleanup_gate;
    aio::future<void> in_cleanup;
    auto gatherer = aio::create_task([&]() -> aio::awaitable<void> {
        try {
            co_await aio::gather(cancellable_child(started_1, p, std::nullopt, std::nullopt),
                                 cancellable_child(started_2, p, cleanup_gate, in_cleanup));
        } catch (const aio::cancelled_error&) {
            gather_threw_cancelled = true;
            ended_when_gather_threw = p.ended;
            throw;
        }
    });
    co_await started_1();
    co_await started_2();
    gatherer.cancel();
    co_await in_cleanup();
    CHECK_FALSE(gatherer.done());
    CHECK(p.observed == 2);
    cleanup_gate.set_result();
    bool main_saw_cancelled = co_await aio_test::co_throws_as<aio::cancelled_error>(gatherer());
    CHECK(gather_threw_cancelled);
    CHECK(ended_when_gather_threw == 2);
    CHECK(p.observed == 2);
    CHECK(p.ended == 2);
    CHECK(main_saw_cancelled);
    CHECK(gatherer.cancelled());
}

AIO_TEST_CASE(
    "gather with return_exceptions keeps input order and holds values errors and cancellations") {
    using results_t = std::tuple<aio::outcome<int>, aio::outcome<int>, aio::outcome<int>,
                                 aio::outcome<std::string>>;
    aio::future<void> started;
    aio::future<void> gate;
    auto victim = aio::create_task(sleep_forever(started));
    auto gatherer = aio::create_task([&]() -> aio::awaitable<results_t> {
        co_return co_await aio::gather(aio::return_exceptions, value_after(gate, 1),
                                       fail_after_yield("bad"), victim, text("four"));
    });
    co_await started();
    victim.cancel();
    co_await aio::sleep(0s);
    gate.set_result();
    results_t r = co_await gatherer();
    CHECK(std::get<0>(r).has_value());
    CHECK(std::get<0>(r).value() == 1);
    CHECK_FALSE(std::get<0>(r).cancelled());
    CHECK(std::get<0>(r).exception() == nullptr);

    CHECK_FALSE(std::get<1>(r).has_value());
    CHECK_FALSE(std::get<1>(r).cancelled());
    CHECK(holds<std::runtime_error>(std::get<1>(r).exception()));
    CHECK(aio::describe(std::get<1>(r).exception()) == "bad");
    CHECK_THROWS_AS(std::get<1>(r).value(), std::runtime_error);

    CHECK_FALSE(std::get<2>(r).has_value());
    CHECK(std::get<2>(r).cancelled());
    CHECK(holds<aio::cancelled_error>(std::get<2>(r).exception()));

    CHECK(std::get<3>(r).has_value());
    CHECK(std::get<3>(r).value() == "four");

    CHECK(victim.cancelled());
}

AIO_TEST_CASE("gather throws cancelled_error when a child is cancelled by someone else") {
    aio::future<void> started;
    aio::future<void> gate;
    aio::future<int> sibling_done;
    auto victim = aio::create_task(sleep_forever(started));
    auto killer = aio::create_task([&]() -> aio::awaitable<void> {
        co_await started();
        victim.cancel();
    });
    bool threw_cancelled = co_await aio_test::co_throws_as<aio::cancelled_error>(
        aio::gather(victim, finish_on(gate, sibling_done, 5)));
    CHECK(threw_cancelled);
    CHECK_FALSE(sibling_done.done());
    co_await aio::sleep(0s); // main still runs: the cancellation was not its own
    aio::any_task me = co_await aio::current_task();
    CHECK(me.cancelling() == 0);
    gate.set_result();
    int sibling_value = co_await sibling_done();
    CHECK(sibling_value == 5);
    co_await killer();
}

AIO_TEST_CASE("gather over a vector of awaitables returns results in range order") {
    std::vector<int> order;
    aio::future<void> first;
    aio::future<void> second;
    aio::future<void> third;
    third.set_result();
    std::vector<aio::awaitable<int>> aws;
    aws.push_back(step(first, std::nullopt, 1, order));
    aws.push_back(step(second, first, 2, order));
    aws.push_back(step(third, second, 3, order));
    std::vector<int> results = co_await aio::gather(std::move(aws));
    CHECK(order == std::vector<int>{3, 2, 1});
    CHECK(results == std::vector<int>{1, 2, 3});
}

AIO_TEST_CASE("gather over a vector of tasks returns results in range order") {
    std::vector<int> order;
    aio::future<void> first;
    aio::future<void> second;
    aio::future<void> third;
    std::vector<aio::task<int>> tasks;
    tasks.push_back(aio::create_task(step(first, std::nullopt, 1, order)));
    tasks.push_back(aio::create_task(step(second, first, 2, order)));
    tasks.push_back(aio::create_task(step(third, second, 3, order)));
    auto opener = aio::create_task([&]() -> aio::awaitable<void> {
        co_await aio::sleep(0s);
        third.set_result();
    });
    std::vector<int> results = co_await aio::gather(tasks);
    CHECK(order == std::vector<int>{3, 2, 1});
    CHECK(results == std::vector<int>{1, 2, 3});
    CHECK(tasks[0].done());
    CHECK(tasks[1].done());
    CHECK(tasks[2].done());
    co_await opener();
}

AIO_TEST_CASE("gather over a range propagates the first error") {
    std::string error;
    aio::future<void> gate;
    std::vector<aio::task<int>> tasks;
    tasks.push_back(aio::create_task(value_after(gate, 1)));
    tasks.push_back(aio::create_task(fail_after_yield("range boom")));
    try {
        co_await aio::gather(tasks);
    } catch (const std::runtime_error& e) {
        error = e.what();
    }
    CHECK(error == "range boom");
    CHECK_FALSE(tasks[0].done());
    gate.set_result();
    co_await tasks[0]();
}

AIO_TEST_CASE("gather with return_exceptions over a range keeps range order") {
    aio::future<void> started;
    aio::future<void> gate;
    std::vector<aio::task<int>> tasks;
    tasks.push_back(aio::create_task(value_after(gate, 1)));
    tasks.push_back(aio::create_task(fail_after_yield("second")));
    tasks.push_back(aio::create_task(sleep_forever(started)));
    tasks.push_back(aio::create_task(value_now(4)));
    auto gatherer = aio::create_task([&]() -> aio::awaitable<std::vector<aio::outcome<int>>> {
        co_return co_await aio::gather(aio::return_exceptions, tasks);
    });
    co_await started();
    tasks[2].cancel();
    co_await aio::sleep(0s);
    gate.set_result();
    std::vector<aio::outcome<int>> results = co_await gatherer();
    REQUIRE(results.size() == 4);
    CHECK(results[0].has_value());
    CHECK(results[0].value() == 1);
    CHECK_FALSE(results[1].has_value());
    CHECK_FALSE(results[1].cancelled());
    CHECK(holds<std::runtime_error>(results[1].exception()));
    CHECK(aio::describe(results[1].exception()) == "second");
    CHECK_FALSE(results[2].has_value());
    CHECK(results[2].cancelled());
    CHECK(results[3].has_value());
    CHECK(results[3].value() == 4);
}

AIO_TEST_CASE("gather with return_exceptions over a vector of awaitables") {
    std::vector<aio::awaitable<int>> aws;
    aws.push_back(fail_after_yield("first"));
    aws.push_back(value_now(2));
    std::vector<aio::outcome<int>> results =
        co_await aio::gather(aio::return_exceptions, std::move(aws));
    REQUIRE(results.size() == 2);
    CHECK_FALSE(results[0].has_value());
    CHECK(aio::describe(results[0].exception()) == "first");
    CHECK(results[1].has_value());
    CHECK(results[1].value() == 2);
}

AIO_TEST_CASE("gather accepts a mix of awaitable task and future") {
    aio::future<double> f;
    auto t = aio::create_task(text("task"));
    auto setter = aio::create_task([&]() -> aio::awaitable<void> {
        co_await aio::sleep(0s);
        f.set_result(2.5);
    });
    std::tuple<int, std::string, double> results = co_await aio::gather(value_now(1), t, f);
    CHECK(std::get<0>(results) == 1);
    CHECK(std::get<1>(results) == "task");
    CHECK(std::get<2>(results) == 2.5);
    co_await setter();
}

AIO_TEST_CASE("gather of an empty vector returns an empty vector") {
    std::vector<aio::awaitable<int>> none;
    std::vector<int> from_awaitables = co_await aio::gather(std::move(none));
    CHECK(from_awaitables.empty());
    std::vector<aio::task<std::string>> no_tasks;
    std::vector<std::string> from_tasks = co_await aio::gather(no_tasks);
    CHECK(from_tasks.empty());
    std::vector<aio::task<int>> no_outcomes;
    std::vector<aio::outcome<int>> outcomes =
        co_await aio::gather(aio::return_exceptions, no_outcomes);
    CHECK(outcomes.empty());
}

namespace {

/// Records `id` in `started` when its body begins, then yields and returns `id`.
aio::awaitable<int> note_start(std::vector<int>& started, int id) {
    started.push_back(id);
    co_await aio::sleep(0s);
    co_return id;
}

aio::awaitable<std::string> note_start_text(std::vector<int>& started, int id) {
    started.push_back(id);
    co_return std::to_string(id);
}

} // namespace

AIO_TEST_CASE("gather starts its children in argument order") {
    std::vector<int> plain;
    std::vector<int> with_outcomes;
    std::tuple<int, std::string, int, int> results =
        co_await aio::gather(note_start(plain, 1), note_start_text(plain, 2), note_start(plain, 3),
                             note_start(plain, 4));
    CHECK(plain == std::vector<int>{1, 2, 3, 4});
    CHECK(results == std::make_tuple(1, std::string("2"), 3, 4));
    auto outcomes =
        co_await aio::gather(aio::return_exceptions, note_start(with_outcomes, 1),
                             note_start_text(with_outcomes, 2), note_start(with_outcomes, 3));
    CHECK(with_outcomes == std::vector<int>{1, 2, 3});
    CHECK(std::get<2>(outcomes).value() == 3);
}

AIO_TEST_CASE(
    "gather with return_exceptions over all_tasks after cancelling them: the shutdown recipe") {
    bool cleaned = false;
    aio::future<void> started;
    aio::future<void> gate;
    auto sleeper = aio::create_task(sleep_forever(started));
    auto failer = aio::create_task(fail_after_yield("lost"));
    auto finisher = aio::create_task(text("done"));
    auto cleaner = aio::create_task([&]() -> aio::awaitable<void> {
        std::exception_ptr cancel;
        try {
            co_await gate();
        } catch (const aio::cancelled_error&) {
            cancel = std::current_exception();
        }
        co_await aio::sleep(0s); // cleanup that awaits
        cleaned = true;
        std::rethrow_exception(cancel);
    });
    co_await started();
    co_await finisher.wait_done();
    co_await failer.wait_done();
    aio::any_task me = co_await aio::current_task();
    std::vector<aio::any_task> pending;
    for (const aio::any_task& t : aio::all_tasks()) {
        if (t != me) {
            pending.push_back(t);
        }
    }
    CHECK(pending.size() == 2); // sleeper, cleaner: the finished ones are not listed
    for (aio::any_task& t : pending) {
        t.cancel();
    }
    pending.push_back(failer);   // done with an error
    pending.push_back(finisher); // done with a value
    std::vector<aio::outcome<std::monostate>> results =
        co_await aio::gather(aio::return_exceptions, pending);
    CHECK(cleaned);
    CHECK(sleeper.cancelled());
    CHECK(finisher.result() == "done"); // the typed handle still gives the value
    REQUIRE(results.size() == 4);
    CHECK(results[0].cancelled());
    CHECK(results[1].cancelled());
    CHECK(holds<aio::cancelled_error>(results[1].exception()));
    CHECK_FALSE(results[2].has_value());
    CHECK(aio::describe(results[2].exception()) == "lost");
    CHECK(results[3].has_value());
    // The error counts as retrieved: AIO_TEST_CASE fails the test if it is reported.
}

AIO_TEST_CASE("gather over any_task handles waits for all or rethrows the first error") {
    int calls = 0;
    aio::future<void> gate;
    std::vector<aio::any_task> handles;
    handles.push_back(aio::create_task(value_after(gate, 1)));
    handles.push_back(aio::create_task(text("two")));
    handles.push_back(aio::create_task(count_call(calls)));
    auto opener = aio::create_task([&]() -> aio::awaitable<void> {
        co_await aio::sleep(0s);
        gate.set_result();
    });
    std::vector<std::monostate> results = co_await aio::gather(handles);
    CHECK(results.size() == 3);
    CHECK(handles.size() == 3); // the lvalue vector is copied, not consumed
    CHECK(handles[0].done());
    CHECK(handles[1].done());
    CHECK(handles[2].done());
    CHECK(calls == 1);
    co_await opener();

    aio::future<void> later;
    auto slow = aio::create_task(value_after(later, 1));
    std::vector<aio::any_task> failing;
    failing.push_back(slow);
    failing.push_back(aio::create_task(fail_after_yield("any boom")));
    std::string error;
    try {
        co_await aio::gather(std::move(failing));
    } catch (const std::runtime_error& e) {
        error = e.what();
    }
    CHECK(error == "any boom");
    CHECK_FALSE(slow.done()); // fail fast: the sibling keeps running
    later.set_result();
    int sibling_value = co_await slow();
    CHECK(sibling_value == 1);
}

// gather owns the range it is given: handles are copied, awaitables must be moved in. Passing
// an lvalue range of awaitables is a compile error whose static_assert message says so; it can
// only be checked here through the condition that assert tests.
static_assert(aio::detail::ownable_range<std::vector<aio::awaitable<int>>>);
static_assert(!aio::detail::ownable_range<std::vector<aio::awaitable<int>>&>);
static_assert(!aio::detail::ownable_range<const std::vector<aio::awaitable<int>>&&>);
static_assert(aio::detail::ownable_range<std::vector<aio::task<int>>&>);
static_assert(aio::detail::ownable_range<const std::vector<aio::future<int>>&>);
static_assert(aio::detail::ownable_range<const std::vector<aio::any_task>&>);

AIO_TEST_CASE(
    "gather takes a const lvalue range or a view of tasks and leaves the handles as they were") {
    std::vector<aio::task<int>> tasks;
    tasks.push_back(aio::create_task(value_now(1)));
    tasks.push_back(aio::create_task(value_now(2)));
    const auto& view = tasks;
    std::vector<int> results = co_await aio::gather(view);
    CHECK(results == std::vector<int>{1, 2});
    auto outcomes = co_await aio::gather(aio::return_exceptions, view);
    CHECK(outcomes.size() == 2);
    auto first = co_await aio::gather(std::span(tasks).first(1)); // a view of the handles
    CHECK(first == std::vector<int>{1});
    CHECK(static_cast<bool>(tasks[0]));
    CHECK(static_cast<bool>(tasks[1]));
}

TEST_CASE("a task that cancels itself and then gathers cancels the children and waits for them") {
    int children_cancelled = 0;
    bool parent_cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto child = [&]() -> aio::awaitable<void> {
            try {
                co_await aio::sleep(1h);
            } catch (const aio::cancelled_error&) {
                ++children_cancelled;
                throw;
            }
        };
        aio::task<void> parent = aio::create_task([&]() -> aio::awaitable<void> {
            co_await aio::sleep(0s); // past the first step
            aio::task<void> a = aio::create_task(child);
            aio::task<void> b = aio::create_task(child);
            co_await aio::sleep(0s); // both children are parked
            (co_await aio::current_task()).cancel();
            co_await aio::gather(a, b);
        });
        co_await parent.wait_done();
        parent_cancelled = parent.cancelled();
    });
    CHECK(children_cancelled == 2);
    CHECK(parent_cancelled);
}

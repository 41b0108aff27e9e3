// Tests of aio/gather.hpp: gather (variadic and range forms, with and without
// return_exceptions).
#include "support.hpp"

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

using aio_test::holds;

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

aio::awaitable<int> value_now(int value) {
    co_return value;
}

aio::awaitable<int> value_after(aio::future<void> gate, int value) {
    co_await gate();
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

aio::awaitable<int> fail_after_yield(std::string what) {
    co_await aio::sleep(0s);
    throw std::runtime_error(what);
}

/// Waits for `gate`, then publishes `value` through `done` and returns it.
aio::awaitable<int> finish_on(aio::future<void> gate, aio::future<int> done, int value) {
    co_await gate();
    done.set_result(value);
    co_return value;
}

aio::awaitable<int> sleep_forever(aio::future<void> started) {
    started.set_result();
    co_await aio::sleep(1h);
    co_return 0;
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

TEST_CASE("gather returns results in argument order when children finish in reverse order") {
    std::vector<int> order;
    std::tuple<int, int, int> results{};
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> first;
        aio::future<void> second;
        aio::future<void> third;
        third.set_result();
        results =
            co_await aio::gather(step(first, std::nullopt, 1, order), step(second, first, 2, order),
                                 step(third, second, 3, order));
    });
    CHECK(order == std::vector<int>{3, 2, 1});
    CHECK(results == std::make_tuple(1, 2, 3));
}

TEST_CASE("gather gives std monostate for void results") {
    int calls = 0;
    std::optional<std::tuple<std::monostate, std::string, std::monostate>> results;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto r = co_await aio::gather(count_call(calls), text("middle"), count_call(calls));
        static_assert(
            std::is_same_v<decltype(r), std::tuple<std::monostate, std::string, std::monostate>>);
        results = std::move(r);
    });
    CHECK(calls == 2);
    REQUIRE(results.has_value());
    CHECK(std::get<1>(*results) == "middle");
}

TEST_CASE("gather propagates the first error at once while the siblings keep running") {
    aio_test::report_log log;
    std::string error;
    bool awaitable_pending_at_throw = false;
    bool task_pending_at_throw = false;
    int awaitable_value = 0;
    int task_value = 0;
    bool task_cancelled = true;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(aio::get_running_loop());
        aio::future<void> gate_a;
        aio::future<void> gate_b;
        aio::future<int> a_done;
        auto tb = aio::create_task(value_after(gate_b, 20));
        try {
            co_await aio::gather(fail_after_yield("boom"), finish_on(gate_a, a_done, 10), tb);
        } catch (const std::runtime_error& e) {
            error = e.what();
        }
        awaitable_pending_at_throw = !a_done.done();
        task_pending_at_throw = !tb.done();
        gate_a.set_result();
        gate_b.set_result();
        awaitable_value = co_await a_done();
        task_value = co_await tb();
        task_cancelled = tb.cancelled();
    });
    CHECK(error == "boom");
    CHECK(awaitable_pending_at_throw);
    CHECK(task_pending_at_throw);
    CHECK(awaitable_value == 10);
    CHECK(task_value == 20);
    CHECK_FALSE(task_cancelled);
    CHECK(log.entries.empty());
}

TEST_CASE("cancelling the task awaiting gather cancels every child and waits for them all") {
    aio_test::report_log log;
    probe p;
    bool gather_threw_cancelled = false;
    int ended_when_gather_threw = -1;
    bool gatherer_done_during_cleanup = true;
    int observed_during_cleanup = -1;
    bool main_saw_cancelled = false;
    bool gatherer_cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(aio::get_running_loop());
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
        gatherer_done_during_cleanup = gatherer.done();
        observed_during_cleanup = p.observed;
        cleanup_gate.set_result();
        try {
            co_await gatherer();
        } catch (const aio::cancelled_error&) {
            main_saw_cancelled = true;
        }
        gatherer_cancelled = gatherer.cancelled();
    });
    CHECK(observed_during_cleanup == 2);
    CHECK_FALSE(gatherer_done_during_cleanup);
    CHECK(gather_threw_cancelled);
    CHECK(ended_when_gather_threw == 2);
    CHECK(p.observed == 2);
    CHECK(p.ended == 2);
    CHECK(main_saw_cancelled);
    CHECK(gatherer_cancelled);
    CHECK(log.entries.empty());
}

TEST_CASE("gather with return_exceptions keeps input order and holds values errors and "
          "cancellations") {
    aio_test::report_log log;
    using results_t = std::tuple<aio::outcome<int>, aio::outcome<int>, aio::outcome<int>,
                                 aio::outcome<std::string>>;
    std::optional<results_t> results;
    bool victim_cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(aio::get_running_loop());
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
        results = co_await gatherer();
        victim_cancelled = victim.cancelled();
    });
    REQUIRE(results.has_value());
    auto& r = *results;
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

    CHECK(victim_cancelled);
    CHECK(log.entries.empty());
}

TEST_CASE("gather throws cancelled_error when a child is cancelled by someone else") {
    aio_test::report_log log;
    bool threw_cancelled = false;
    bool sibling_pending = false;
    bool main_still_runs = false;
    unsigned main_cancelling = 99;
    int sibling_value = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(aio::get_running_loop());
        aio::future<void> started;
        aio::future<void> gate;
        aio::future<int> sibling_done;
        auto victim = aio::create_task(sleep_forever(started));
        auto killer = aio::create_task([&]() -> aio::awaitable<void> {
            co_await started();
            victim.cancel();
        });
        try {
            co_await aio::gather(victim, finish_on(gate, sibling_done, 5));
        } catch (const aio::cancelled_error&) {
            threw_cancelled = true;
        }
        sibling_pending = !sibling_done.done();
        co_await aio::sleep(0s);
        main_still_runs = true;
        main_cancelling = (co_await aio::current_task()).cancelling();
        gate.set_result();
        sibling_value = co_await sibling_done();
        co_await killer();
    });
    CHECK(threw_cancelled);
    CHECK(sibling_pending);
    CHECK(main_still_runs);
    CHECK(main_cancelling == 0);
    CHECK(sibling_value == 5);
    CHECK(log.entries.empty());
}

TEST_CASE("gather over a vector of awaitables returns results in range order") {
    std::vector<int> order;
    std::vector<int> results;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> first;
        aio::future<void> second;
        aio::future<void> third;
        third.set_result();
        std::vector<aio::awaitable<int>> aws;
        aws.push_back(step(first, std::nullopt, 1, order));
        aws.push_back(step(second, first, 2, order));
        aws.push_back(step(third, second, 3, order));
        results = co_await aio::gather(std::move(aws));
    });
    CHECK(order == std::vector<int>{3, 2, 1});
    CHECK(results == std::vector<int>{1, 2, 3});
}

TEST_CASE("gather over a vector of tasks returns results in range order") {
    std::vector<int> order;
    std::vector<int> results;
    bool all_done = false;
    aio_test::run([&]() -> aio::awaitable<void> {
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
        results = co_await aio::gather(tasks);
        all_done = tasks[0].done() && tasks[1].done() && tasks[2].done();
        co_await opener();
    });
    CHECK(order == std::vector<int>{3, 2, 1});
    CHECK(results == std::vector<int>{1, 2, 3});
    CHECK(all_done);
}

TEST_CASE("gather over a range propagates the first error") {
    aio_test::report_log log;
    std::string error;
    bool sibling_pending = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(aio::get_running_loop());
        aio::future<void> gate;
        std::vector<aio::task<int>> tasks;
        tasks.push_back(aio::create_task(value_after(gate, 1)));
        tasks.push_back(aio::create_task(fail_after_yield("range boom")));
        try {
            co_await aio::gather(tasks);
        } catch (const std::runtime_error& e) {
            error = e.what();
        }
        sibling_pending = !tasks[0].done();
        gate.set_result();
        co_await tasks[0]();
    });
    CHECK(error == "range boom");
    CHECK(sibling_pending);
    CHECK(log.entries.empty());
}

TEST_CASE("gather with return_exceptions over a range keeps range order") {
    aio_test::report_log log;
    std::vector<aio::outcome<int>> results;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(aio::get_running_loop());
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
        results = co_await gatherer();
    });
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
    CHECK(log.entries.empty());
}

TEST_CASE("gather with return_exceptions over a vector of awaitables") {
    aio_test::report_log log;
    std::vector<aio::outcome<int>> results;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(aio::get_running_loop());
        std::vector<aio::awaitable<int>> aws;
        aws.push_back(fail_after_yield("first"));
        aws.push_back(value_now(2));
        results = co_await aio::gather(aio::return_exceptions, std::move(aws));
    });
    REQUIRE(results.size() == 2);
    CHECK_FALSE(results[0].has_value());
    CHECK(aio::describe(results[0].exception()) == "first");
    CHECK(results[1].has_value());
    CHECK(results[1].value() == 2);
    CHECK(log.entries.empty());
}

TEST_CASE("gather accepts a mix of awaitable task and future") {
    std::optional<std::tuple<int, std::string, double>> results;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<double> f;
        auto t = aio::create_task(text("task"));
        auto setter = aio::create_task([&]() -> aio::awaitable<void> {
            co_await aio::sleep(0s);
            f.set_result(2.5);
        });
        results = co_await aio::gather(value_now(1), t, f);
        co_await setter();
    });
    REQUIRE(results.has_value());
    CHECK(std::get<0>(*results) == 1);
    CHECK(std::get<1>(*results) == "task");
    CHECK(std::get<2>(*results) == 2.5);
}

TEST_CASE("gather of an empty vector returns an empty vector") {
    std::size_t awaitables = 99;
    std::size_t tasks = 99;
    std::size_t outcomes = 99;
    aio_test::run([&]() -> aio::awaitable<void> {
        std::vector<aio::awaitable<int>> none;
        awaitables = (co_await aio::gather(std::move(none))).size();
        std::vector<aio::task<std::string>> no_tasks;
        tasks = (co_await aio::gather(no_tasks)).size();
        std::vector<aio::task<int>> no_outcomes;
        outcomes = (co_await aio::gather(aio::return_exceptions, no_outcomes)).size();
    });
    CHECK(awaitables == 0);
    CHECK(tasks == 0);
    CHECK(outcomes == 0);
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

TEST_CASE("gather starts its children in argument order") {
    std::vector<int> plain;
    std::vector<int> with_outcomes;
    std::optional<std::tuple<int, std::string, int, int>> results;
    int third = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        results = co_await aio::gather(note_start(plain, 1), note_start_text(plain, 2),
                                       note_start(plain, 3), note_start(plain, 4));
        auto outcomes =
            co_await aio::gather(aio::return_exceptions, note_start(with_outcomes, 1),
                                 note_start_text(with_outcomes, 2), note_start(with_outcomes, 3));
        third = std::get<2>(outcomes).value();
    });
    CHECK(plain == std::vector<int>{1, 2, 3, 4});
    CHECK(results == std::make_tuple(1, std::string("2"), 3, 4));
    CHECK(with_outcomes == std::vector<int>{1, 2, 3});
    CHECK(third == 3);
}

TEST_CASE("gather with return_exceptions over all_tasks after cancelling them: the shutdown "
          "recipe") {
    aio_test::report_log log;
    std::vector<aio::outcome<std::monostate>> results;
    bool cleaned = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(aio::get_running_loop());
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
        results = co_await aio::gather(aio::return_exceptions, pending);
        CHECK(cleaned);
        CHECK(sleeper.cancelled());
        CHECK(finisher.result() == "done"); // the typed handle still gives the value
    });
    REQUIRE(results.size() == 4);
    CHECK(results[0].cancelled());
    CHECK(results[1].cancelled());
    CHECK(holds<aio::cancelled_error>(results[1].exception()));
    CHECK_FALSE(results[2].has_value());
    CHECK(aio::describe(results[2].exception()) == "lost");
    CHECK(results[3].has_value());
    CHECK(log.entries.empty()); // the error counts as retrieved
}

TEST_CASE("gather over any_task handles waits for all or rethrows the first error") {
    aio_test::report_log log;
    std::vector<std::monostate> results;
    std::size_t handles_after = 0;
    bool all_done = false;
    int calls = 0;
    std::string error;
    bool sibling_pending = false;
    int sibling_value = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(aio::get_running_loop());
        aio::future<void> gate;
        std::vector<aio::any_task> handles;
        handles.push_back(aio::create_task(value_after(gate, 1)));
        handles.push_back(aio::create_task(text("two")));
        handles.push_back(aio::create_task(count_call(calls)));
        auto opener = aio::create_task([&]() -> aio::awaitable<void> {
            co_await aio::sleep(0s);
            gate.set_result();
        });
        results = co_await aio::gather(handles);
        handles_after = handles.size(); // the lvalue vector is copied, not consumed
        all_done = handles[0].done() && handles[1].done() && handles[2].done();
        co_await opener();

        aio::future<void> later;
        auto slow = aio::create_task(value_after(later, 1));
        std::vector<aio::any_task> failing;
        failing.push_back(slow);
        failing.push_back(aio::create_task(fail_after_yield("any boom")));
        try {
            co_await aio::gather(std::move(failing));
        } catch (const std::runtime_error& e) {
            error = e.what();
        }
        sibling_pending = !slow.done(); // fail fast: the sibling keeps running
        later.set_result();
        sibling_value = co_await slow();
    });
    CHECK(results.size() == 3);
    CHECK(handles_after == 3);
    CHECK(all_done);
    CHECK(calls == 1);
    CHECK(error == "any boom");
    CHECK(sibling_pending);
    CHECK(sibling_value == 1);
    CHECK(log.entries.empty());
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

TEST_CASE(
    "gather takes a const lvalue range or a view of tasks and leaves the handles as they were") {
    std::vector<int> results;
    bool handles_kept = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        std::vector<aio::task<int>> tasks;
        tasks.push_back(aio::create_task(value_now(1)));
        tasks.push_back(aio::create_task(value_now(2)));
        const auto& view = tasks;
        results = co_await aio::gather(view);
        auto outcomes = co_await aio::gather(aio::return_exceptions, view);
        CHECK(outcomes.size() == 2);
        auto first = co_await aio::gather(std::span(tasks).first(1)); // a view of the handles
        CHECK(first == std::vector<int>{1});
        handles_kept = static_cast<bool>(tasks[0]) && static_cast<bool>(tasks[1]);
    });
    CHECK(results == std::vector<int>{1, 2});
    CHECK(handles_kept);
}

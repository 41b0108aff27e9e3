// Tests of aio/task_group.hpp: task_group, used through aio::with.
#include "fixtures.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

using aio_test::fail_after_yield;
using aio_test::holds;

aio::awaitable<void> record_now(std::vector<int>& out, int value) {
    out.push_back(value);
    co_return;
}

aio::awaitable<void> record_after(aio::future<void> gate, std::vector<int>& out, int value) {
    co_await gate();
    out.push_back(value);
}

aio::awaitable<void> open_after_yields(aio::future<void> gate, std::vector<int>& out, int value) {
    co_await aio::sleep(0s);
    co_await aio::sleep(0s);
    out.push_back(value);
    gate.set_result();
}

struct probe {
    int observed = 0;
    int ended = 0;
};

/// Signals `started` (if given), sleeps; on cancellation records it, awaits two cleanup steps,
/// records its end and rethrows.
aio::awaitable<void> cleanup_child(std::optional<aio::future<void>> started, probe& p) {
    if (started) {
        started->set_result();
    }
    std::exception_ptr cancel = co_await aio_test::sleep_until_cancelled();
    if (cancel) {
        ++p.observed;
    }
    co_await aio::sleep(0s);
    co_await aio::sleep(0s);
    ++p.ended;
    if (cancel) {
        std::rethrow_exception(cancel);
    }
}

/// Sleeps; when cancelled, fails with std::logic_error(what) instead.
aio::awaitable<void> fail_when_cancelled(std::string what) {
    std::exception_ptr cancelled = co_await aio_test::sleep_until_cancelled();
    if (cancelled) {
        throw std::logic_error(what);
    }
}

} // namespace

TEST_CASE("task_group exit returns normally when every task completes") {
    std::vector<int> values;
    int body_value = 0;
    std::size_t size_after = 99;
    bool all_done = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> gate;
        std::vector<aio::task<void>> tasks;
        aio::task_group tg;
        body_value = co_await aio::with(tg, [&](aio::task_group& g) -> aio::awaitable<int> {
            tasks.push_back(g.create_task(record_after(gate, values, 1)));
            tasks.push_back(g.create_task(record_now(values, 2)));
            tasks.push_back(g.create_task(open_after_yields(gate, values, 3)));
            co_return 7;
        });
        size_after = tg.size();
        all_done = tasks[0].done() && tasks[1].done() && tasks[2].done();
    });
    CHECK(values == std::vector<int>{2, 3, 1});
    CHECK(body_value == 7);
    CHECK(size_after == 0);
    CHECK(all_done);
}

TEST_CASE("task_group first failure cancels the siblings and the body and gathers every error") {
    aio_test::report_log log;
    probe siblings;
    bool body_cancelled = false;
    bool got_group = false;
    bool other = false;
    std::vector<std::exception_ptr> errors;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(aio::get_running_loop());
        aio::task_group tg;
        try {
            co_await aio::with(tg, [&](aio::task_group& g) -> aio::awaitable<void> {
                g.create_task(cleanup_child(std::nullopt, siblings));
                g.create_task(cleanup_child(std::nullopt, siblings));
                g.create_task(fail_when_cancelled("second"));
                g.create_task(fail_after_yield("first"));
                try {
                    co_await aio::sleep(1h);
                } catch (const aio::cancelled_error&) {
                    body_cancelled = true;
                    throw;
                }
            });
        } catch (const aio::exception_group& eg) {
            got_group = true;
            errors = eg.exceptions();
        } catch (...) {
            other = true;
        }
    });
    CHECK(got_group);
    CHECK_FALSE(other);
    CHECK(body_cancelled);
    CHECK(siblings.observed == 2);
    CHECK(siblings.ended == 2);
    REQUIRE(errors.size() == 2);
    CHECK(holds<std::runtime_error>(errors[0]));
    CHECK(aio::describe(errors[0]) == "first");
    CHECK(holds<std::logic_error>(errors[1]));
    CHECK(aio::describe(errors[1]) == "second");
    CHECK(log.entries.empty());
}

TEST_CASE("task_group lets no task outlive it") {
    probe p;
    int ended_when_with_returned = -1;
    std::size_t size_when_with_returned = 99;
    bool cleaner_cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::task_group tg;
        aio::task<void> cleaner;
        try {
            co_await aio::with(tg, [&](aio::task_group& g) -> aio::awaitable<void> {
                cleaner = g.create_task(cleanup_child(std::nullopt, p));
                g.create_task(fail_after_yield("failure"));
                co_return;
            });
        } catch (const aio::exception_group&) {
        }
        ended_when_with_returned = p.ended;
        size_when_with_returned = tg.size();
        cleaner_cancelled = cleaner.done() && cleaner.cancelled();
    });
    CHECK(ended_when_with_returned == 1);
    CHECK(size_when_with_returned == 0);
    CHECK(cleaner_cancelled);
}

TEST_CASE("task_group body exception cancels the tasks and appears in the exception_group") {
    probe p;
    bool got_group = false;
    std::vector<std::exception_ptr> errors;
    bool child_cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> started;
        aio::task<void> child;
        aio::task_group tg;
        try {
            co_await aio::with(tg, [&](aio::task_group& g) -> aio::awaitable<void> {
                child = g.create_task(cleanup_child(started, p));
                co_await started();
                throw std::runtime_error("body failed");
            });
        } catch (const aio::exception_group& eg) {
            got_group = true;
            errors = eg.exceptions();
        }
        child_cancelled = child.cancelled();
    });
    CHECK(got_group);
    REQUIRE(errors.size() == 1);
    CHECK(holds<std::runtime_error>(errors[0]));
    CHECK(aio::describe(errors[0]) == "body failed");
    CHECK(p.observed == 1);
    CHECK(p.ended == 1);
    CHECK(child_cancelled);
}

TEST_CASE("cancelling the task running a task_group body cancels and awaits the tasks") {
    probe p;
    bool outer_saw_cancelled = false;
    bool outer_saw_group = false;
    int ended_at_cancel = -1;
    bool main_saw_cancelled = false;
    bool outer_cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> started_1;
        aio::future<void> started_2;
        auto outer = aio::create_task([&]() -> aio::awaitable<void> {
            aio::task_group tg;
            try {
                co_await aio::with(tg, [&](aio::task_group& g) -> aio::awaitable<void> {
                    g.create_task(cleanup_child(started_1, p));
                    g.create_task(cleanup_child(started_2, p));
                    co_await aio::sleep(1h);
                });
            } catch (const aio::cancelled_error&) {
                outer_saw_cancelled = true;
                ended_at_cancel = p.ended;
                throw;
            } catch (const aio::exception_group&) {
                outer_saw_group = true;
            }
        });
        co_await started_1();
        co_await started_2();
        outer.cancel();
        try {
            co_await outer();
        } catch (const aio::cancelled_error&) {
            main_saw_cancelled = true;
        }
        outer_cancelled = outer.cancelled();
    });
    CHECK(outer_saw_cancelled);
    CHECK_FALSE(outer_saw_group);
    CHECK(ended_at_cancel == 2);
    CHECK(p.observed == 2);
    CHECK(main_saw_cancelled);
    CHECK(outer_cancelled);
}

TEST_CASE("cancelling the task while task_group exit waits cancels and awaits the tasks") {
    probe p;
    bool outer_saw_cancelled = false;
    bool outer_saw_group = false;
    bool body_finished = false;
    int ended_at_cancel = -1;
    bool outer_cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> started_1;
        aio::future<void> started_2;
        auto outer = aio::create_task([&]() -> aio::awaitable<void> {
            aio::task_group tg;
            try {
                co_await aio::with(tg, [&](aio::task_group& g) -> aio::awaitable<void> {
                    g.create_task(cleanup_child(started_1, p));
                    g.create_task(cleanup_child(started_2, p));
                    body_finished = true;
                    co_return;
                });
            } catch (const aio::cancelled_error&) {
                outer_saw_cancelled = true;
                ended_at_cancel = p.ended;
                throw;
            } catch (const aio::exception_group&) {
                outer_saw_group = true;
            }
        });
        co_await started_1();
        co_await started_2();
        outer.cancel();
        co_await outer.wait_done();
        outer_cancelled = outer.cancelled();
    });
    CHECK(body_finished);
    CHECK(outer_saw_cancelled);
    CHECK_FALSE(outer_saw_group);
    CHECK(ended_at_cancel == 2);
    CHECK(p.observed == 2);
    CHECK(outer_cancelled);
}

TEST_CASE("task_group create_task after the group finished throws logic_error") {
    bool threw = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        std::vector<int> values;
        aio::task_group tg;
        co_await aio::with(tg, [&](aio::task_group& g) -> aio::awaitable<void> {
            g.create_task(record_now(values, 1));
            co_return;
        });
        try {
            tg.create_task(record_now(values, 2));
        } catch (const std::logic_error&) {
            threw = true;
        }
        co_await aio::sleep(0s);
        CHECK(values == std::vector<int>{1});
    });
    CHECK(threw);
}

TEST_CASE("task_group create_task while the group shuts down after a failure throws "
          "logic_error") {
    bool threw = false;
    bool got_group = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        std::vector<int> values;
        aio::task_group tg;
        try {
            co_await aio::with(tg, [&](aio::task_group& g) -> aio::awaitable<void> {
                g.create_task(fail_after_yield("failure"));
                std::exception_ptr cancel;
                try {
                    co_await aio::sleep(1h);
                } catch (const aio::cancelled_error&) {
                    cancel = std::current_exception();
                }
                try {
                    g.create_task(record_now(values, 1));
                } catch (const std::logic_error&) {
                    threw = true;
                }
                if (cancel) {
                    std::rethrow_exception(cancel);
                }
            });
        } catch (const aio::exception_group&) {
            got_group = true;
        }
        co_await aio::sleep(0s);
        CHECK(values.empty());
    });
    CHECK(threw);
    CHECK(got_group);
}

TEST_CASE("task_group failure does not leave the parent task cancelled") {
    bool got_group = false;
    bool awaited_after = false;
    unsigned cancelling = 99;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::task_group tg;
        try {
            co_await aio::with(tg, [&](aio::task_group& g) -> aio::awaitable<void> {
                g.create_task(fail_after_yield("failure"));
                co_await aio::sleep(1h);
            });
        } catch (const aio::exception_group&) {
            got_group = true;
        }
        co_await aio::sleep(0s);
        awaited_after = true;
        cancelling = (co_await aio::current_task()).cancelling();
    });
    CHECK(got_group);
    CHECK(awaited_after);
    CHECK(cancelling == 0);
}

namespace {

/// Runs a task_group whose only task fails with "failure"; the body sleeps until cancelled.
/// Returns the exception_group's size (0 if exit threw something else).
aio::awaitable<std::size_t> failing_group() {
    aio::task_group tg;
    try {
        co_await aio::with(tg, [&](aio::task_group& g) -> aio::awaitable<void> {
            g.create_task(fail_after_yield("failure"));
            co_await aio::sleep(1h);
        });
    } catch (const aio::exception_group& eg) {
        co_return eg.exceptions().size();
    }
    co_return 0;
}

} // namespace

TEST_CASE("task_group failure alone leaks no cancellation: the task goes on after "
          "exception_group") {
    std::size_t group_size = 99;
    unsigned cancelling = 99;
    bool parked_await_ran = false;
    int value = 0;
    bool task_cancelled = true;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> later;
        auto t = aio::create_task([&]() -> aio::awaitable<int> {
            group_size = co_await failing_group();
            cancelling = (co_await aio::current_task()).cancelling();
            co_await aio::sleep(0s);
            co_await later(); // parks until main sets it, a few loop turns later
            parked_await_ran = true;
            co_return 5;
        });
        co_await aio::sleep(0s);
        co_await aio::sleep(0s);
        co_await aio::sleep(0s);
        co_await aio::sleep(0s);
        later.set_result();
        value = co_await t();
        task_cancelled = t.cancelled();
    });
    CHECK(group_size == 1);
    CHECK(cancelling == 0);
    CHECK(parked_await_ran);
    CHECK(value == 5);
    CHECK_FALSE(task_cancelled);
}

TEST_CASE("task_group failure with an outside cancellation throws exception_group and the "
          "cancellation stays pending") {
    // The failing task cancels the body's task itself just before failing: a request that is
    // not the group's, so the group must not withdraw it.
    std::size_t group_size = 99;
    unsigned cancelling = 99;
    bool next_await_cancelled = false;
    bool task_cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::any_task outer;
        auto cancel_then_fail = [&]() -> aio::awaitable<void> {
            co_await aio::sleep(0s);
            outer.cancel();
            throw std::runtime_error("failure");
        };
        auto t = aio::create_task([&]() -> aio::awaitable<void> {
            aio::task_group tg;
            try {
                co_await aio::with(tg, [&](aio::task_group& g) -> aio::awaitable<void> {
                    g.create_task(cancel_then_fail);
                    co_await aio::sleep(1h);
                });
            } catch (const aio::exception_group& eg) {
                group_size = eg.exceptions().size();
            }
            cancelling = (co_await aio::current_task()).cancelling();
            try {
                co_await aio::sleep(0s);
            } catch (const aio::cancelled_error&) {
                next_await_cancelled = true;
                throw;
            }
        });
        outer = t;
        co_await t.wait_done();
        task_cancelled = t.cancelled();
    });
    CHECK(group_size == 1);
    CHECK(cancelling == 1);
    CHECK(next_await_cancelled);
    CHECK(task_cancelled);
}

TEST_CASE("task_group: an outside cancellation of the body, then a task failing in its cleanup: "
          "exception_group, and the task ends cancelled") {
    std::size_t group_size = 99;
    bool saw_cancelled_group = false;
    bool main_saw_cancelled = false;
    bool task_cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> in_body;
        auto t = aio::create_task([&]() -> aio::awaitable<void> {
            aio::task_group tg;
            try {
                co_await aio::with(tg, [&](aio::task_group& g) -> aio::awaitable<void> {
                    g.create_task(fail_when_cancelled("cleanup failed"));
                    in_body.set_result();
                    co_await aio::sleep(1h);
                });
            } catch (const aio::exception_group& eg) {
                group_size = eg.exceptions().size();
            } catch (const aio::cancelled_error&) {
                saw_cancelled_group = true;
            }
            co_await aio::sleep(0s); // lets the pending cancellation end the task
        });
        co_await in_body();
        co_await aio::sleep(0s); // the group's task is parked in its sleep
        t.cancel();
        try {
            co_await t();
        } catch (const aio::cancelled_error&) {
            main_saw_cancelled = true;
        }
        task_cancelled = t.cancelled();
    });
    CHECK(group_size == 1);
    CHECK_FALSE(saw_cancelled_group);
    CHECK(main_saw_cancelled);
    CHECK(task_cancelled);
}

TEST_CASE("task_group: an outside cancellation while exit waits, then a task failing in its "
          "cleanup: exception_group, and the task ends cancelled") {
    std::size_t group_size = 99;
    bool body_finished = false;
    bool task_cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::future<void> started;
        auto t = aio::create_task([&]() -> aio::awaitable<void> {
            aio::task_group tg;
            try {
                co_await aio::with(tg, [&](aio::task_group& g) -> aio::awaitable<void> {
                    g.create_task([&]() -> aio::awaitable<void> {
                        started.set_result();
                        co_await fail_when_cancelled("cleanup failed");
                    });
                    body_finished = true;
                    co_return;
                });
            } catch (const aio::exception_group& eg) {
                group_size = eg.exceptions().size();
            }
            co_await aio::sleep(0s);
        });
        co_await started();
        co_await aio::sleep(0s);
        t.cancel();
        co_await t.wait_done();
        task_cancelled = t.cancelled();
    });
    CHECK(body_finished);
    CHECK(group_size == 1);
    CHECK(task_cancelled);
}

AIO_TEST_CASE("task_group: tasks that end while the body runs make room for new ones, and a "
              "failure still cancels every task running") {
    aio::task_group tg;
    probe p;
    std::vector<int> values;
    std::vector<aio::task<void>> later;
    std::size_t size_after_quick = 99;
    std::size_t size_after_more = 99;
    std::vector<std::exception_ptr> errors;
    try {
        co_await aio::with(tg, [&](aio::task_group& g) -> aio::awaitable<void> {
            aio::task<void> quick_1 = g.create_task(record_now(values, 1));
            aio::task<void> quick_2 = g.create_task(record_now(values, 2));
            co_await quick_1.wait_done();
            co_await quick_2.wait_done();
            size_after_quick = g.size();
            for (int i = 0; i < 3; ++i) {
                later.push_back(g.create_task(cleanup_child(std::nullopt, p)));
            }
            g.create_task(fail_after_yield("failure"));
            size_after_more = g.size();
            co_await aio::sleep(1h);
        });
    } catch (const aio::exception_group& eg) {
        errors = eg.exceptions();
    }
    CHECK(values == std::vector<int>{1, 2});
    CHECK(size_after_quick == 0);
    CHECK(size_after_more == 4);
    REQUIRE(errors.size() == 1);
    CHECK(aio::describe(errors[0]) == "failure");
    CHECK(p.observed == 3);
    CHECK(p.ended == 3);
    bool all_cancelled = true;
    for (const auto& t : later) {
        all_cancelled = all_cancelled && t.cancelled();
    }
    CHECK(all_cancelled);
    CHECK(tg.size() == 0);
}

// child_group, the engine under task_group (and gather, wait, as_completed): the growing set
// task_group builds with add().
namespace {

using aio::detail::child_group;

struct finish_log final : child_group::observer {
    std::vector<std::size_t> indices;
    void child_done(std::size_t index, aio::detail::state_base&) override {
        indices.push_back(index);
    }
};

aio::detail::state_base& state_of(const aio::future<int>& f) {
    return f.as_task().state(); // the future keeps the state
}

} // namespace

AIO_TEST_CASE("child_group: a child already done when added counts as finished at once, and a "
              "finished child's node and index go to the next child added") {
    finish_log log;
    child_group g(child_group::options{}, &log);
    aio::future<int> done;
    done.set_exception(std::make_exception_ptr(std::runtime_error("failed before")));
    std::size_t first = g.add(state_of(done));
    CHECK(first == 0);
    CHECK(log.indices == std::vector<std::size_t>{0});
    CHECK(g.pending() == 0);
    CHECK(g.complete());
    CHECK(g.first_failed() == &state_of(done));
    aio::future<int> a;
    aio::future<int> b;
    std::size_t index_a = g.add(state_of(a));
    std::size_t index_b = g.add(state_of(b));
    CHECK(index_a == 0);
    CHECK(index_b == 1);
    CHECK(g.pending() == 2);
    CHECK_FALSE(g.complete());
    a.set_result(1);
    CHECK(log.indices == std::vector<std::size_t>{0, 0});
    aio::future<int> c;
    std::size_t index_c = g.add(state_of(c));
    CHECK(index_c == 0);
    CHECK(g.pending() == 2);
    g.cancel_children(); // cancelling a future finishes it at once, in index order
    CHECK(g.children_cancelled());
    CHECK(log.indices == std::vector<std::size_t>{0, 0, 0, 1});
    CHECK(c.cancelled());
    CHECK(b.cancelled());
    CHECK(g.pending() == 0);
    CHECK(g.complete());
    (void)done.exception(); // retrieved: the loop reports nothing
    co_return;
}

AIO_TEST_CASE("child_group recording the finish order keeps every index, done children first") {
    child_group::options opt;
    opt.record_order = true;
    opt.first_done = true;
    std::vector<aio::future<int>> futures(4);
    futures[2].set_result(2);
    child_group g({&state_of(futures[0]), &state_of(futures[1]), &state_of(futures[2])}, opt);
    REQUIRE(g.has_finished());
    CHECK(g.take_finished() == 2);
    CHECK_FALSE(g.has_finished());
    CHECK_FALSE(g.complete());
    futures[1].set_result(1);
    CHECK(g.complete());
    std::size_t index_3 = g.add(state_of(futures[3]));
    CHECK(index_3 == 3); // no reuse: an index names one child for good
    futures[3].set_result(3);
    futures[0].set_result(0);
    std::vector<std::size_t> order;
    while (g.has_finished()) {
        order.push_back(g.take_finished());
    }
    CHECK(order == std::vector<std::size_t>{1, 3, 0});
    CHECK(g.pending() == 0);
    co_return;
}

AIO_TEST_CASE("child_group destroyed with children pending leaves nothing registered on them") {
    // The observer would be told through the freed group (the sanitizer build catches it).
    finish_log log;
    aio::future<int> a;
    aio::future<int> b;
    {
        child_group g(child_group::options{}, &log);
        g.add(state_of(a));
        g.add(state_of(b));
        b.set_result(2);
        CHECK(log.indices == std::vector<std::size_t>{1});
    }
    a.set_result(1);
    CHECK(log.indices == std::vector<std::size_t>{1});
    co_return;
}

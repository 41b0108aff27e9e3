// Tests of aio/diagnostics.hpp: a task's creation site, status and parked await, the call graph
// (who awaits whom) and the tree of a loop's tasks.
#include "fixtures.hpp"

#include <aio/diagnostics.hpp>

#include <doctest/doctest.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <sstream>
#include <string>
#include <string_view>

using namespace std::chrono_literals;

namespace {

using aio_test::sleep_forever;

std::string hex(std::uint64_t n) {
    std::ostringstream os;
    os << "0x" << std::hex << n;
    return os.str();
}

/// "File '<file>', line <n>, in <function>" for the site `t` was created at.
std::string created_line(const aio::any_task& t) {
    aio::source_location at = t.created_at();
    std::string function = aio::detail::short_function_name(at.function_name());
    return std::string("File '") + at.file_name() + "', line " + std::to_string(at.line()) +
           (function.empty() ? "" : ", in " + function);
}

/// The header line and creation site of `t` in format_call_graph's layout, at `indent`.
std::string task_head(const aio::any_task& t, const std::string& indent) {
    return indent + "* Task(name='" + t.name() + "', id=" + hex(t.id()) + ")\n" + indent +
           "  + Created at:\n" + indent + "  |   " + created_line(t) + "\n";
}

/// format_task_tree's label of `t`.
std::string tree_label(const aio::any_task& t, std::string_view doing) {
    aio::source_location at = t.created_at();
    return "(T) " + t.name() + " id=" + hex(t.id()) + " [" + std::string(doing) + "] created at " +
           at.file_name() + ":" + std::to_string(at.line());
}

/// Yields until `t` is parked in an aio await named `what` (a few turns at most).
aio::awaitable<void> until_waiting_on(aio::any_task t, std::string_view what) {
    for (int turn = 0; turn < 10 && t.waiting_on() != what; ++turn) {
        co_await aio::sleep(0s);
    }
    REQUIRE(t.waiting_on() == what);
}

/// The line of await_task's await, its task's await site.
constexpr std::uint32_t await_task_line = __LINE__ + 2;
aio::awaitable<void> await_task(aio::task<int> t) {
    co_await t();
}

/// "File '<file>', line <n>[, in <function>] (<await>)": a call stack's line for an aio await.
std::string await_line(const aio::call_stack_entry& e) {
    std::string function = aio::detail::short_function_name(e.where.function_name());
    return std::string("File '") + e.where.file_name() + "', line " +
           std::to_string(e.where.line()) + (function.empty() ? "" : ", in " + function) + " (" +
           e.function + ")";
}

} // namespace

AIO_TEST_CASE("a task records the site that created it") {
    std::uint32_t line = __LINE__ + 1;
    auto t = aio::create_task(sleep_forever(), "sleeper");
    CHECK(t.created_at().line() == line);
    CHECK(std::string_view(t.created_at().file_name()).ends_with("diagnostics.cpp"));
    std::string_view function = t.created_at().function_name();
    CHECK((function.empty() || function.find("aio_test_body_") != std::string_view::npos));

    line = __LINE__ + 1;
    auto u = aio::create_task([] { return sleep_forever(); });
    CHECK(u.created_at().line() == line);

    line = __LINE__ + 1;
    auto e = aio::ensure_task(sleep_forever());
    CHECK(e.created_at().line() == line);

    aio::loop lp = co_await aio::this_loop();
    line = __LINE__ + 1;
    auto l = lp.create_task(sleep_forever());
    CHECK(l.created_at().line() == line);

    aio::task_group tg;
    std::uint32_t group_line = 0;
    co_await aio::with(tg, [&](aio::task_group& g) -> aio::awaitable<void> {
        group_line = __LINE__ + 1;
        auto child = g.create_task(aio::sleep(0s));
        CHECK(child.created_at().line() == group_line);
        co_return;
    });
    CHECK(group_line != 0);

    CHECK(t.id() + 1 == u.id());
    CHECK(t.id() + 2 == e.id());
    for (aio::any_task x :
         {aio::any_task(t), aio::any_task(u), aio::any_task(e), aio::any_task(l)}) {
        x.cancel();
        co_await x.wait_done();
    }
}

AIO_TEST_CASE("status and waiting_on follow a task from its creation to its end") {
    aio::any_task me = co_await aio::current_task();
    CHECK(me.status() == aio::task_status::running);
    CHECK(me.waiting_on().empty());

    aio::future<void> started;
    auto t = aio::create_task(sleep_forever(started));
    CHECK(t.status() == aio::task_status::pending);
    CHECK(t.waiting_on() == "not started");

    co_await started();
    CHECK(t.status() == aio::task_status::pending);
    CHECK(t.waiting_on() == "aio::sleep");

    t.cancel();
    co_await t.wait_done();
    CHECK(t.status() == aio::task_status::cancelled);
    CHECK(t.waiting_on().empty());

    auto quick = aio::create_task(aio_test::value_now(1));
    co_await quick.wait_done();
    CHECK(quick.status() == aio::task_status::done);
}

AIO_TEST_CASE("waiting_on names each aio await, and Asio operations as such") {
    aio::event ev;
    aio::queue<int> q;
    auto on_event = aio::create_task([&]() -> aio::awaitable<void> { co_await ev.wait(); });
    auto on_queue = aio::create_task([&]() -> aio::awaitable<void> { co_await q.get(); });
    auto on_timer = aio::create_task([]() -> aio::awaitable<void> {
        boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, 1h);
        co_await timer.async_wait(boost::asio::use_awaitable);
    });
    co_await until_waiting_on(on_event, "aio::event.wait");
    co_await until_waiting_on(on_queue, "aio::queue (get, put or join)");
    co_await until_waiting_on(on_timer, "Asio operation");

    auto gathering = aio::create_task(aio::gather(sleep_forever(), sleep_forever()));
    co_await until_waiting_on(gathering, "aio::gather");

    for (aio::any_task x : {aio::any_task(on_event), aio::any_task(on_queue),
                            aio::any_task(on_timer), aio::any_task(gathering)}) {
        x.cancel();
        co_await x.wait_done();
    }
}

namespace {
/// A task's await site in this file, as "line N" (or "no site"), to compare with the line the
/// test recorded.
std::string site_here(const aio::any_task& t) {
    aio::source_location at = t.await_site();
    if (at.line() == 0) {
        return "no site";
    }
    CHECK(std::string_view(at.file_name()).ends_with("diagnostics.cpp"));
    return "line " + std::to_string(at.line());
}
std::string line_text(std::uint32_t line) {
    return "line " + std::to_string(line);
}
} // namespace

AIO_TEST_CASE("each aio await records the caller's site, shown as the task's await site") {
    aio::event ev;
    aio::queue<int> empty;
    aio::queue<int> full(1);
    full.put_nowait(1);
    aio::queue<int> unfinished;
    unfinished.put_nowait(1);
    aio::lock held;
    co_await held.acquire();
    aio::condition cond;
    aio::barrier bar(2);
    aio::future<int> never;
    aio::future<void> started;
    auto child = aio::create_task(sleep_forever(started), "child");
    co_await started();

    std::vector<std::uint32_t> lines(14, 0);
    std::vector<aio::any_task> tasks;
    auto add = [&](aio::any_task t) { tasks.push_back(std::move(t)); };
    add(aio::create_task([&]() -> aio::awaitable<void> {
        lines[0] = __LINE__ + 1;
        co_await ev.wait();
    }));
    add(aio::create_task([&]() -> aio::awaitable<void> {
        lines[1] = __LINE__ + 1;
        co_await aio::sleep(1h);
    }));
    add(aio::create_task([&]() -> aio::awaitable<void> {
        lines[2] = __LINE__ + 1;
        co_await empty.get();
    }));
    add(aio::create_task([&]() -> aio::awaitable<void> {
        lines[3] = __LINE__ + 1;
        co_await full.put(2);
    }));
    add(aio::create_task([&]() -> aio::awaitable<void> {
        lines[4] = __LINE__ + 1;
        co_await unfinished.join();
    }));
    add(aio::create_task([&]() -> aio::awaitable<void> {
        lines[5] = __LINE__ + 1;
        auto guard = co_await held.scoped();
    }));
    add(aio::create_task([&]() -> aio::awaitable<void> {
        auto guard = co_await cond.scoped();
        lines[6] = __LINE__ + 1;
        co_await cond.wait();
    }));
    add(aio::create_task([&]() -> aio::awaitable<void> {
        lines[7] = __LINE__ + 1;
        co_await bar.wait();
    }));
    add(aio::create_task([&]() -> aio::awaitable<void> {
        lines[8] = __LINE__ + 1;
        co_await never();
    }));
    add(aio::create_task([&]() -> aio::awaitable<void> {
        lines[9] = __LINE__ + 1;
        co_await child.wait_done();
    }));
    add(aio::create_task([&]() -> aio::awaitable<void> {
        lines[10] = __LINE__ + 1;
        co_await aio::shield(child);
    }));
    add(aio::create_task([&]() -> aio::awaitable<void> {
        lines[11] = __LINE__ + 1;
        co_await aio::wait_for(sleep_forever(), 1h);
    }));
    add(aio::create_task([&]() -> aio::awaitable<void> {
        std::vector<aio::task<int>> children{child};
        lines[12] = __LINE__ + 1;
        co_await aio::gather(children);
    }));
    add(aio::create_task([&]() -> aio::awaitable<void> {
        std::vector<aio::task<int>> children{child};
        lines[13] = __LINE__ + 1;
        co_await aio::wait(std::move(children));
    }));
    auto variadic = aio::create_task(aio::gather(child));
    co_await aio::sleep(0s);
    co_await aio::sleep(0s);

    const char* what[] = {"aio::event.wait",
                          "aio::sleep",
                          "aio::queue (get, put or join)",
                          "aio::queue (get, put or join)",
                          "aio::queue (get, put or join)",
                          "aio::semaphore (or aio::lock) acquire",
                          "aio::condition.wait",
                          "aio::barrier.wait",
                          "aio: await a future",
                          "aio: await a task",
                          "aio: await a task",
                          "aio::timeout / wait_for",
                          "aio::gather",
                          "aio::wait"};
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        CAPTURE(i);
        co_await until_waiting_on(tasks[i], what[i]);
        CHECK(site_here(tasks[i]) == line_text(lines[i]));
    }
    co_await until_waiting_on(variadic, "aio::gather");
    CHECK(site_here(variadic) == "no site"); // a pack cannot be followed by a defaulted site

    // A task that wait_for (or shield, timeout, gather of a range) makes from an awaitable is
    // created at the caller's site, not in aio's header.
    std::size_t made_by_wait_for = 0;
    for (const aio::any_task& t : aio::all_tasks()) {
        made_by_wait_for += t.created_at().line() == lines[11] ? 1 : 0;
    }
    CHECK(made_by_wait_for == 1); // the work's task (the caller's task was created above)

    for (aio::any_task& t : tasks) {
        t.cancel();
        co_await t.wait_done();
    }
    variadic.cancel();
    co_await variadic.wait_done();
    child.cancel();
    co_await child.wait_done();
    held.release();
}

AIO_TEST_CASE("capture_call_graph follows co_await t() to the awaiting task") {
    aio::future<void> started;
    auto child = aio::create_task(sleep_forever(started), "child");
    auto parent = aio::create_task(await_task(child), "parent");
    co_await until_waiting_on(parent, "aio: await a task");

    aio::call_graph g = aio::capture_call_graph(child);
    CHECK(g.task == child);
    REQUIRE(g.call_stack.size() == 1);
    CHECK(g.call_stack[0].function == "aio::sleep");
    CHECK(std::string_view(g.call_stack[0].where.file_name()).ends_with("fixtures.hpp"));
    CHECK(g.call_stack[0].where.line() > 0); // sleep_forever's aio::sleep
    REQUIRE(g.awaited_by.size() == 1);
    REQUIRE(g.awaited_by[0].call_stack.size() == 1);
    aio::source_location parent_site = g.awaited_by[0].call_stack[0].where;
    CHECK(std::string_view(parent_site.file_name()).ends_with("diagnostics.cpp"));
    CHECK(parent_site.line() == await_task_line);
    std::string_view function = parent_site.function_name();
    CHECK((function.empty() || function.find("await_task") != std::string_view::npos));
    CHECK(g.stack_frames >= 2); // the task's bottom frame and sleep_forever at least
    REQUIRE(g.awaited_by.size() == 1);
    CHECK(g.awaited_by[0].task == parent);
    CHECK(g.awaited_by[0].awaited_by.empty());
    CHECK_FALSE(g.cycle);

    std::string expected =
        task_head(child, "") + "  + Call stack:\n  |   " + await_line(g.call_stack[0]) +
        "\n  |   (" + std::to_string(g.stack_frames) +
        " coroutine frame(s); Asio keeps no names or lines for them)\n  + Awaited by:\n" +
        task_head(parent, "    ") + "      + Call stack:\n      |   " +
        await_line(g.awaited_by[0].call_stack[0]) + "\n      |   (" +
        std::to_string(g.awaited_by[0].stack_frames) +
        " coroutine frame(s); Asio keeps no names or lines for them)\n";
    std::ostringstream printed;
    aio::print_call_graph(child, printed);
    CHECK(printed.str() == expected);
    expected.pop_back();
    CHECK(aio::format_call_graph(g) == expected);

    parent.cancel(); // cancels the child it awaits (cancel_awaited)
    co_await parent.wait_done();
    CHECK(child.cancelled());
    CHECK(aio::capture_call_graph(child).awaited_by.empty());
    CHECK(aio::capture_call_graph(child).call_stack.empty());
}

AIO_TEST_CASE("gather, shield and task_group make the awaiting task visible") {
    aio::any_task me = co_await aio::current_task();
    aio::future<void> started;
    auto child = aio::create_task(sleep_forever(started), "child");
    co_await started();

    auto gatherer = aio::create_task(aio::gather(child), "gatherer");
    auto shielder = aio::create_task(aio::shield(child), "shielder");
    co_await until_waiting_on(gatherer, "aio::gather");
    co_await until_waiting_on(shielder, "aio: await a task");

    aio::task_group tg;
    co_await aio::with(tg, [&](aio::task_group& g) -> aio::awaitable<void> {
        auto grouped = g.create_task(sleep_forever(), "grouped");
        co_await aio::sleep(0s);
        // The body runs: the group's task is awaited by the task running the body.
        aio::call_graph gg = aio::capture_call_graph(grouped);
        REQUIRE(gg.awaited_by.size() == 1);
        CHECK(gg.awaited_by[0].task == me);
        REQUIRE(gg.awaited_by[0].call_stack.size() == 1);
        CHECK(gg.awaited_by[0].call_stack[0].function == "running");
        grouped.cancel();
    });

    aio::call_graph g = aio::capture_call_graph(child);
    REQUIRE(g.awaited_by.size() == 2);
    CHECK(g.awaited_by[0].task == gatherer);
    CHECK(g.awaited_by[1].task == shielder);

    gatherer.cancel(); // cancels the child too
    co_await gatherer.wait_done();
    co_await shielder.wait_done();
    CHECK(child.cancelled());
}

AIO_TEST_CASE("a cycle of tasks awaiting each other is reported once, not followed") {
    aio::any_task a;
    aio::any_task b;
    aio::future<void> b_created;
    a = aio::create_task(
        [&]() -> aio::awaitable<void> {
            co_await b_created();
            co_await b.wait_done();
        },
        "a");
    b = aio::create_task([&]() -> aio::awaitable<void> { co_await a.wait_done(); }, "b");
    b_created.set_result();
    co_await until_waiting_on(a, "aio: await a task");
    co_await until_waiting_on(b, "aio: await a task");

    aio::call_graph g = aio::capture_call_graph(a);
    REQUIRE(g.awaited_by.size() == 1);
    CHECK(g.awaited_by[0].task == b);
    REQUIRE(g.awaited_by[0].awaited_by.size() == 1);
    const aio::call_graph& again = g.awaited_by[0].awaited_by[0];
    CHECK(again.task == a);
    CHECK(again.cycle);
    CHECK(again.awaited_by.empty());
    std::string text = aio::format_call_graph(g);
    CHECK(text.find("* Task(name='a', id=" + hex(a.id()) + ") (cycle: shown above)") !=
          std::string::npos);

    aio::any_task me = co_await aio::current_task();
    std::string expected = "├── " + tree_label(me, "running") + "\n" + "└── " +
                           tree_label(a, "aio: await a task") + "\n" + "    └── " +
                           tree_label(b, "aio: await a task") + "\n" +
                           "        └── (cycle: back to 'a')\n";
    CHECK(aio::format_task_tree() == expected);

    a.cancel(); // a stops waiting for b; then b sees a end
    co_await a.wait_done();
    co_await b.wait_done();
}

AIO_TEST_CASE("format_task_tree draws each task above the tasks it awaits") {
    aio::any_task me = co_await aio::current_task();
    aio::future<void> started;
    auto child = aio::create_task(sleep_forever(started), "child");
    co_await started();
    auto gatherer = aio::create_task(aio::gather(child), "gatherer");
    auto lone = aio::create_task(sleep_forever(), "lone");
    co_await until_waiting_on(gatherer, "aio::gather");
    co_await until_waiting_on(lone, "aio::sleep");

    std::string expected = "├── " + tree_label(me, "running") + "\n" + "├── " +
                           tree_label(gatherer, "aio::gather") + "\n" + "│   └── " +
                           tree_label(child, "aio::sleep") + "\n" + "└── " +
                           tree_label(lone, "aio::sleep") + "\n";
    CHECK(aio::format_task_tree() == expected);
    aio::loop lp = co_await aio::this_loop();
    CHECK(aio::format_task_tree(lp) == expected);

    gatherer.cancel();
    lone.cancel();
    co_await gatherer.wait_done();
    co_await lone.wait_done();
}

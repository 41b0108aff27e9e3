// Tests of aio/run.hpp: run, runner, run_options, shutdown, signals.
#include "fixtures.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <exception>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace std::chrono_literals;

namespace {

aio::awaitable<int> forty_two() {
    co_await aio::sleep(0s);
    co_return 42;
}

using core_ptr = std::remove_cvref_t<decltype(std::declval<aio::loop&>().shared_core())>;
using weak_core = std::weak_ptr<core_ptr::element_type>;

/// Starts a task, left running when main returns, that runs `job` on a thread with to_thread
/// and sets `task_cancelled` if that await ends with cancelled_error (which it rethrows).
/// Returns once the job is running.
template <class Job>
aio::awaitable<void> start_thread_job(Job job, bool& task_cancelled) {
    aio::loop lp = co_await aio::this_loop();
    aio::future<void> job_started;
    auto announced_job = [job = std::move(job), &job_started, lp]() mutable {
        aio::call_soon_threadsafe(lp, [&job_started] { job_started.set_result(); });
        job();
    };
    aio::create_task([&task_cancelled,
                      announced_job = std::move(announced_job)]() mutable -> aio::awaitable<void> {
        try {
            co_await aio::to_thread(std::move(announced_job));
        } catch (const aio::cancelled_error&) {
            task_cancelled = true;
            throw;
        }
    });
    co_await job_started();
}

} // namespace

TEST_CASE("run returns the value of main") {
    CHECK(aio::run(forty_two()) == 42);

    std::string text = aio_test::run([]() -> aio::awaitable<std::string> {
        co_await aio::sleep(0s);
        co_return std::string("from main");
    });
    CHECK(text == "from main");

    int steps = 0;
    aio_test::run([&]() -> aio::awaitable<void> {
        ++steps;
        co_await aio::sleep(0s);
        ++steps;
    });
    CHECK(steps == 2);
}

TEST_CASE("run rethrows the exception of main without reporting it as lost") {
    aio_test::report_log log;
    std::string what;
    try {
        aio_test::run([&]() -> aio::awaitable<int> {
            log.install(co_await aio::this_loop());
            aio::create_task(
                []() -> aio::awaitable<void> {
                    co_await aio::sleep(0s);
                    throw std::logic_error("lost error");
                },
                "lost");
            co_await aio::sleep(0s);
            co_await aio::sleep(0s);
            throw std::runtime_error("main failed");
        });
    } catch (const std::runtime_error& e) {
        what = e.what();
    }
    CHECK(what == "main failed");
    REQUIRE(log.entries.size() == 1);
    CHECK(log.count("never retrieved") == 1);
    CHECK(log.entries[0].task_name == "lost");
    CHECK(aio::describe(log.entries[0].exception) == "lost error");
}

TEST_CASE("run cancels the tasks left when main returns and waits for their cleanup") {
    aio_test::report_log log;
    bool started = false;
    bool saw_cancel = false;
    bool cleanup_done = false;
    aio::task<void> leftover;
    int value = aio_test::run([&]() -> aio::awaitable<int> {
        log.install(co_await aio::this_loop());
        leftover = aio::create_task([&]() -> aio::awaitable<void> {
            started = true;
            std::exception_ptr caught = co_await aio_test::sleep_until_cancelled();
            saw_cancel = caught != nullptr;
            co_await aio::sleep(0s);
            co_await aio::sleep(0s);
            cleanup_done = true;
            if (caught) {
                std::rethrow_exception(caught);
            }
        });
        co_await aio::sleep(0s);
        co_return 3;
    });
    CHECK(value == 3);
    CHECK(started);
    CHECK(saw_cancel);
    CHECK(cleanup_done);
    CHECK(leftover.done());
    CHECK(leftover.cancelled());
    CHECK(log.entries.empty());
}

TEST_CASE("a task cancelled at shutdown can create and await a new task") {
    aio_test::report_log log;
    int got = 0;
    int new_task_steps = 0;
    bool old_task_finished = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(co_await aio::this_loop());
        aio::create_task([&]() -> aio::awaitable<void> {
            std::exception_ptr caught = co_await aio_test::sleep_until_cancelled();
            aio::task<int> goodbye = aio::create_task([&]() -> aio::awaitable<int> {
                ++new_task_steps;
                co_await aio::sleep(0s);
                ++new_task_steps;
                co_await aio::sleep(0s);
                ++new_task_steps;
                co_return 7;
            });
            got = co_await goodbye();
            old_task_finished = true;
            if (caught) {
                std::rethrow_exception(caught);
            }
        });
        co_await aio::sleep(0s);
    });
    CHECK(new_task_steps == 3);
    CHECK(got == 7);
    CHECK(old_task_finished);
    CHECK(log.entries.empty());
}

TEST_CASE("a task created by a cancellation handler during shutdown runs to its end") {
    // The book's Telnet server: the handler's task catches the cancellation, then (outside the
    // catch block) creates a task that sends a goodbye, and ends.
    aio_test::report_log log;
    std::vector<std::string> events;
    aio::task<void> goodbye;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(co_await aio::this_loop());
        aio::create_task([&]() -> aio::awaitable<void> {
            std::exception_ptr cancelled = co_await aio_test::sleep_until_cancelled();
            if (cancelled) {
                goodbye = aio::create_task([&]() -> aio::awaitable<void> {
                    events.push_back("goodbye started");
                    co_await aio::sleep(0s);
                    co_await aio::sleep(5ms);
                    events.push_back("goodbye sent");
                });
                events.push_back("handler ended");
                throw aio::cancelled_error();
            }
        });
        co_await aio::sleep(0s);
    });
    REQUIRE(goodbye);
    CHECK(goodbye.done());
    CHECK_FALSE(goodbye.cancelled());
    CHECK(aio_test::join(events) == "handler ended|goodbye started|goodbye sent");
    CHECK(log.entries.empty());
}

TEST_CASE("a task created during shutdown that never ends is abandoned at shutdown_timeout") {
    aio_test::report_log log;
    bool forever_started = false;
    aio::run(
        [&]() -> aio::awaitable<void> {
            log.install(co_await aio::this_loop());
            aio::create_task(aio::finally(aio::sleep(std::chrono::hours(1)), [&] {
                aio::create_task([&]() -> aio::awaitable<void> {
                    forever_started = true;
                    aio::future<void> never;
                    co_await never();
                });
                return aio::sleep(0s);
            }));
            co_await aio::sleep(0s);
        },
        aio::run_options{.shutdown_timeout = 50ms, .handle_signals = false});
    CHECK(forever_started);
    CHECK(log.count("1 task(s) still pending were abandoned: shutdown_timeout passed") == 1);
    CHECK(log.entries.size() == 1);
}

TEST_CASE("run keeps waiting while main is parked with nothing queued on the loop") {
    // main parks on a future that only another thread resolves: meanwhile the loop has no
    // handler queued and no operation pending (no signal wait either), and run must wait
    // instead of returning.
    aio::future<int>* answer_ptr = nullptr;
    std::promise<aio::loop> loop_ready;
    std::thread resolver([&] {
        aio::loop lp = loop_ready.get_future().get();
        lp.call_soon_threadsafe([&] { answer_ptr->set_result(42); });
    });
    int value = aio::run(
        [&]() -> aio::awaitable<int> {
            aio::future<int> answer;
            answer_ptr = &answer;
            loop_ready.set_value(aio::get_running_loop());
            co_return co_await answer();
        },
        aio::run_options{.handle_signals = false});
    resolver.join();
    CHECK(value == 42);
}

TEST_CASE("run waits for a to_thread job still running when main returns") {
    std::atomic<bool> job_done{false};
    bool task_cancelled = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        auto job = [&job_done] {
            std::this_thread::sleep_for(200ms);
            job_done = true;
        };
        co_await start_thread_job(job, task_cancelled);
    });
    CHECK(job_done);
    CHECK(task_cancelled);
}

TEST_CASE("run abandons executor jobs still running after shutdown_timeout and reports them") {
    aio_test::report_log log;
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::promise<void> finished;
    std::future<void> job_finished = finished.get_future();
    weak_core core;
    bool task_cancelled = false;
    aio::run(
        [&]() -> aio::awaitable<void> {
            aio::loop lp = co_await aio::this_loop();
            log.install(lp);
            core = lp.shared_core();
            auto job = [&finished, released] {
                released.wait();
                finished.set_value();
            };
            co_await start_thread_job(job, task_cancelled);
        },
        aio::run_options{.shutdown_timeout = 50ms, .handle_signals = false});
    bool finished_before_release = job_finished.wait_for(0s) == std::future_status::ready;
    release.set_value();
    job_finished.wait();
    while (!core.expired()) {
        std::this_thread::sleep_for(1ms);
    }
    CHECK_FALSE(finished_before_release);
    CHECK(task_cancelled);
    CHECK(log.count("abandoned") == 1);
    CHECK(log.entries.size() == 1);
}

namespace {

/// What aio::run did when main sent itself a signal: main parks in sleep(1h), catches the
/// cancellation, awaits cleanup, and rethrows.
struct signal_run {
    int signal_number = 0;
    bool saw_cancel = false;
    bool cleanup_done = false;
    std::size_t reports = 0;
};

template <class Send>
signal_run run_and_signal(Send send) {
    signal_run out;
    aio_test::report_log log;
    try {
        aio::run([&]() -> aio::awaitable<void> {
            log.install(co_await aio::this_loop());
            send();
            std::exception_ptr caught = co_await aio_test::sleep_until_cancelled();
            out.saw_cancel = caught != nullptr;
            co_await aio::sleep(0s);
            out.cleanup_done = true;
            if (caught) {
                std::rethrow_exception(caught);
            }
        });
    } catch (const aio::interrupted_error& e) {
        out.signal_number = e.signal();
    }
    out.reports = log.entries.size();
    return out;
}

} // namespace

TEST_CASE("SIGINT cancels main and run throws interrupted_error") {
    signal_run r = run_and_signal([] { std::raise(SIGINT); });
    CHECK(r.signal_number == SIGINT);
    CHECK(r.saw_cancel);
    CHECK(r.cleanup_done);
    CHECK(r.reports == 0);
}

TEST_CASE("SIGTERM cancels main and run throws interrupted_error") {
    signal_run r = run_and_signal([] { kill(getpid(), SIGTERM); });
    CHECK(r.signal_number == SIGTERM);
    CHECK(r.saw_cancel);
    CHECK(r.cleanup_done);
    CHECK(r.reports == 0);
}

TEST_CASE("main that catches the signal cancellation and returns gives its value") {
    bool saw_cancel = false;
    int value = aio::run([&]() -> aio::awaitable<int> {
        std::raise(SIGINT);
        std::exception_ptr cancelled = co_await aio_test::sleep_until_cancelled();
        saw_cancel = cancelled != nullptr;
        co_await aio::sleep(0s);
        co_return 5;
    });
    CHECK(saw_cancel);
    CHECK(value == 5);
}

namespace {

/// Runs `body` in a child process and returns its wait status (the child is killed after 30 s).
template <class Body>
int in_child(Body body) {
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        _exit(body());
    }
    int status = 0;
    pid_t waited = 0;
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while ((waited = waitpid(pid, &status, WNOHANG)) == 0 &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(10ms);
    }
    if (waited == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    return status;
}

bool disposition_is(int signum, void (*handler)(int)) {
    struct sigaction now {};
    sigaction(signum, nullptr, &now);
    return now.sa_handler == handler;
}

} // namespace

TEST_CASE("a second SIGINT stops the loop at once") {
    int status = in_child([] {
        int code = 1;
        try {
            aio::run([]() -> aio::awaitable<void> {
                std::raise(SIGINT);
                std::exception_ptr cancelled = co_await aio_test::sleep_until_cancelled();
                if (cancelled) {
                    std::raise(SIGINT);
                    co_await aio::sleep(std::chrono::hours(1));
                }
            });
            code = 2;
        } catch (const aio::interrupted_error& e) {
            code = e.signal() == SIGINT ? 42 : 3;
        } catch (...) {
            code = 4;
        }
        return code;
    });
    REQUIRE(WIFEXITED(status)); // not killed after 30 s
    CHECK(WEXITSTATUS(status) == 42);
}

TEST_CASE("one signal during the graceful shutdown lets cleanups and jobs finish") {
    aio_test::report_log log;
    std::atomic<bool> job_done{false};
    bool cleanup_done = false;
    int interrupted_by = 0;
    try {
        aio::run([&]() -> aio::awaitable<void> {
            log.install(co_await aio::this_loop());
            aio::create_task([&]() -> aio::awaitable<void> {
                std::exception_ptr cancelled = co_await aio_test::sleep_until_cancelled();
                std::raise(SIGINT); // while shutdown waits for this cleanup
                co_await aio::to_thread([&job_done] {
                    std::this_thread::sleep_for(20ms);
                    job_done = true;
                });
                co_await aio::sleep(0s);
                cleanup_done = true;
                if (cancelled) {
                    throw aio::cancelled_error();
                }
            });
            co_await aio::sleep(0s);
        });
    } catch (const aio::interrupted_error& e) {
        interrupted_by = e.signal();
    }
    CHECK(interrupted_by == SIGINT); // never success after a signal
    CHECK(cleanup_done);
    CHECK(job_done);
    CHECK(log.entries.empty());
    CHECK(disposition_is(SIGINT, SIG_DFL));
}

TEST_CASE("a signal during shutdown lets the tasks created during it run to their end") {
    bool goodbye_sent = false;
    int interrupted_by = 0;
    try {
        aio::run([&]() -> aio::awaitable<void> {
            aio::create_task(aio::finally(aio::sleep(std::chrono::hours(1)), [&] {
                aio::create_task([&]() -> aio::awaitable<void> {
                    std::raise(SIGTERM);
                    co_await aio::sleep(0s);
                    co_await aio::sleep(5ms);
                    goodbye_sent = true;
                });
                return aio::sleep(0s);
            }));
            co_await aio::sleep(0s);
        });
    } catch (const aio::interrupted_error& e) {
        interrupted_by = e.signal();
    }
    CHECK(goodbye_sent);
    CHECK(interrupted_by == SIGTERM);
}

TEST_CASE("a second signal during shutdown stops at once and says what was abandoned") {
    aio_test::report_log log;
    int interrupted_by = 0;
    bool after_second = false;
    try {
        aio::run([&]() -> aio::awaitable<void> {
            log.install(co_await aio::this_loop());
            aio::create_task(
                aio::finally(aio::sleep(std::chrono::hours(1)), [&]() -> aio::awaitable<void> {
                    std::raise(SIGINT);
                    std::raise(SIGINT);
                    co_await aio::sleep(std::chrono::hours(1));
                    after_second = true;
                }));
            co_await aio::sleep(0s);
        });
    } catch (const aio::interrupted_error& e) {
        interrupted_by = e.signal();
    }
    CHECK(interrupted_by == SIGINT);
    CHECK_FALSE(after_second);
    CHECK(log.count("1 task(s) still pending were abandoned: the loop was stopped by a second "
                    "signal (2)") == 1);
    CHECK(disposition_is(SIGINT, SIG_DFL));
}

TEST_CASE("a hard stop with a task_group parked in aio::with is safe") {
    // Under AddressSanitizer this is the check: nothing parked is destroyed or touched.
    int interrupted_by = 0;
    bool member_cleanup_started = false;
    bool body_cancelled = false;
    try {
        aio::run([&]() -> aio::awaitable<void> {
            aio::task_group tg;
            co_await aio::with(tg, [&](aio::task_group& g) -> aio::awaitable<void> {
                g.create_task(
                    aio::finally(aio::sleep(std::chrono::hours(1)), [&]() -> aio::awaitable<void> {
                        member_cleanup_started = true;
                        std::raise(SIGINT); // the second signal
                        co_await aio::sleep(std::chrono::hours(1));
                    }));
                std::raise(SIGINT);
                try {
                    co_await aio::sleep(std::chrono::hours(1));
                } catch (const aio::cancelled_error&) {
                    body_cancelled = true;
                    throw;
                }
            });
        });
    } catch (const aio::interrupted_error& e) {
        interrupted_by = e.signal();
    }
    CHECK(interrupted_by == SIGINT);
    CHECK(body_cancelled);
    CHECK(member_cleanup_started);
}

TEST_CASE("after remove_signal_handler(SIGTERM) a SIGTERM ends the process as without aio") {
    int status = in_child([] {
        aio::run([]() -> aio::awaitable<void> {
            aio::loop lp = co_await aio::this_loop();
            lp.add_signal_handler(SIGTERM, [] {});
            lp.remove_signal_handler(SIGTERM);
            kill(getpid(), SIGTERM);
            co_await aio::sleep(5s);
        });
        return 0;
    });
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGTERM);
}

TEST_CASE("a SIGINT ignored when run starts stays ignored, and run restores what it changed") {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    struct sigaction before {};
    sigaction(SIGINT, &ignore, &before);
    bool cancelled = false;
    int value = aio::run([&]() -> aio::awaitable<int> {
        std::raise(SIGINT);
        try {
            co_await aio::sleep(20ms);
        } catch (const aio::cancelled_error&) {
            cancelled = true;
        }
        co_return 7;
    });
    bool still_ignored = disposition_is(SIGINT, SIG_IGN);
    sigaction(SIGINT, &before, nullptr);
    CHECK_FALSE(cancelled);
    CHECK(value == 7);
    CHECK(still_ignored);
    CHECK(disposition_is(SIGTERM, SIG_DFL));
}

TEST_CASE("a runner keeps tasks alive between run calls") {
    std::optional<aio::future<int>> value;
    aio::task<int> waiter;
    int got = 0;
    {
        aio::runner r(aio::run_options{.handle_signals = false});
        r.run([&]() -> aio::awaitable<void> {
            value.emplace();
            waiter = aio::create_task([&]() -> aio::awaitable<int> {
                got = co_await (*value)();
                co_return got * 2;
            });
            co_await aio::sleep(0s);
        });
        CHECK_FALSE(waiter.done());
        CHECK(got == 0);
        int doubled = r.run([&]() -> aio::awaitable<int> {
            value->set_result(21);
            co_return co_await waiter();
        });
        CHECK(got == 21);
        CHECK(doubled == 42);
        r.close();
        CHECK(r.get_loop().is_closed());
        CHECK_THROWS_AS(r.run(forty_two()), std::logic_error);
    }
    CHECK(waiter.done());
}

TEST_CASE("run inside a running loop throws logic_error") {
    bool nested_threw = false;
    bool runner_threw = false;
    bool nested_main_ran = false;
    int value = aio_test::run([&]() -> aio::awaitable<int> {
        try {
            aio_test::run([&]() -> aio::awaitable<int> {
                nested_main_ran = true;
                co_return 1;
            });
        } catch (const std::logic_error&) {
            nested_threw = true;
        }
        aio::runner other(aio::run_options{.handle_signals = false});
        try {
            other.run(forty_two());
        } catch (const std::logic_error&) {
            runner_threw = true;
        }
        aio::task<int> t = aio::create_task(forty_two());
        co_return co_await t() + 1;
    });
    CHECK(nested_threw);
    CHECK(runner_threw);
    CHECK_FALSE(nested_main_ran);
    CHECK(value == 43);
}

TEST_CASE("user code stopping the io_context during shutdown does not cut the shutdown short") {
    aio::condition cond;
    aio_test::report_log log;
    bool waiter_ended = false;
    aio_test::run([&]() -> aio::awaitable<void> {
        aio::loop lp = co_await aio::this_loop();
        log.install(lp);
        aio::create_task([lp]() -> aio::awaitable<void> { // cancelled first at shutdown
            co_await aio_test::sleep_until_cancelled();
            lp.context().stop(); // the other task's resumption is still queued
        });
        aio::create_task(aio::finally(
            [&]() -> aio::awaitable<void> {
                auto held = co_await cond.scoped();
                co_await cond.wait();
            },
            [&]() -> aio::awaitable<void> {
                waiter_ended = true;
                co_return;
            }));
        co_await aio::sleep(0s);
    });
    CHECK(waiter_ended);
    CHECK_FALSE(cond.locked());
    CHECK(log.entries.empty());
}

TEST_CASE("a queue that outlives run after a hard stop is destroyed safely") {
    aio::queue<int> q;
    int interrupted_by = 0;
    try {
        aio::run([&]() -> aio::awaitable<void> {
            aio::create_task([&]() -> aio::awaitable<void> { (void)co_await q.get(); });
            co_await aio::sleep(0s);
            std::raise(SIGINT);
            co_await aio_test::sleep_until_cancelled();
            std::raise(SIGINT);
            co_await aio::sleep(1h);
        });
    } catch (const aio::interrupted_error& e) {
        interrupted_by = e.signal();
    }
    CHECK(interrupted_by == SIGINT);
}

TEST_CASE("two signals during shutdown after main returned make run throw, not return") {
    int interrupted_by = 0;
    int value = 0;
    try {
        value = aio::run([&]() -> aio::awaitable<int> {
            aio::create_task([]() -> aio::awaitable<void> {
                co_await aio_test::sleep_until_cancelled();
                std::raise(SIGINT);
                std::raise(SIGINT);
                co_await aio::sleep(0s);
                co_await aio::sleep(0s);
            });
            co_await aio::sleep(0s);
            co_return 7;
        });
    } catch (const aio::interrupted_error& e) {
        interrupted_by = e.signal();
    }
    CHECK(interrupted_by == SIGINT);
    CHECK(value == 0);
}

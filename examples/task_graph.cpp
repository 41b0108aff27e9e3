// task_graph: what a program's tasks are waiting for, from inside it - the call graph of one
// task (asyncio.print_call_graph) and the tree of all of them (`python -m asyncio pstree`).
#include <aio/aio.hpp>
#include <aio/diagnostics.hpp>

#include <chrono>
#include <iostream>
#include <string>
#include <vector>

using namespace std::chrono_literals;

// A song plays until the show stops.
aio::awaitable<void> play(aio::event& stop) {
    co_await stop.wait();
}

// An album plays its songs side by side, in a task group.
aio::awaitable<void> album(std::string title, std::vector<std::string> songs, aio::event& stop,
                           std::vector<aio::any_task>& playing) {
    aio::task_group tg;
    co_await aio::with(tg, [&](aio::task_group& g) -> aio::awaitable<void> {
        for (const std::string& song : songs) {
            playing.push_back(g.create_task(play(stop), title + ": " + song));
        }
        co_return;
    });
}

aio::awaitable<void> listen(aio::event& stop, std::vector<aio::any_task>& playing) {
    std::vector<std::string> sundowning{"Sleeping", "Chester"};
    std::vector<std::string> tmbte{"Tomorrow"};
    co_await aio::gather(album("Sundowning", sundowning, stop, playing),
                         album("TMBTE", tmbte, stop, playing));
}

aio::awaitable<void> show() {
    aio::event stop;
    std::vector<aio::any_task> playing;
    auto listening = aio::create_task(listen(stop, playing), "listen");
    // Let every task reach its await: three songs, each parked on the event.
    while (playing.size() < 3 || playing.back().waiting_on().empty() ||
           playing.back().waiting_on() == "not started") {
        co_await aio::sleep(0s);
    }

    std::cout << "--- print_call_graph(first song)\n";
    aio::print_call_graph(playing.front());
    std::cout << "--- print_task_tree\n";
    aio::print_task_tree(co_await aio::this_loop());

    stop.set();
    co_await listening();
    std::cout << "--- done: " << aio::all_tasks().size() - 1 << " task(s) left besides main\n";
}

int main() {
    aio::run(show());
}

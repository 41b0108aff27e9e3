// The second compile-time row's aio side: the smallest aio program that runs a task - one task
// created and awaited, with only the headers that needs (<aio/task.hpp> for the task,
// <aio/run.hpp> for the loop that runs it). bench/compile/with_aio.cpp includes <aio/aio.hpp>
// instead; compare.sh times both against bench/compile/with_raw_asio.cpp.
#include <aio/run.hpp>
#include <aio/task.hpp>

#include <cstdio>

namespace {

aio::awaitable<int> fetch(int id) {
    co_return id * 10;
}

aio::awaitable<void> main_task() {
    aio::task<int> t = aio::create_task(fetch(1));
    int value = co_await t();
    std::printf("task returned %d\n", value);
}

} // namespace

int main() {
    aio::run(main_task());
}

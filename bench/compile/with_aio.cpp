// The compile-time row's aio side: three tasks that sleep and return a value, gathered in order,
// and an operation cut short by a timeout. bench/compile/with_raw_asio.cpp does the same with
// Boost.Asio alone; compare.sh times the compilation of each.
#include <aio/aio.hpp>

#include <chrono>
#include <cstdio>

using namespace std::chrono_literals;

namespace {

aio::awaitable<int> fetch(int id) {
    co_await aio::sleep(1ms * id);
    co_return id * 10;
}

aio::awaitable<void> main_task() {
    auto [a, b, c] = co_await aio::gather(fetch(1), fetch(2), fetch(3));
    std::printf("gathered %d %d %d\n", a, b, c);
    try {
        co_await aio::timeout(5ms, fetch(100));
    } catch (const aio::timeout_error&) {
        std::printf("timed out\n");
    }
}

} // namespace

int main() {
    aio::run(main_task());
}

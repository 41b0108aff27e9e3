// Runs one task on an aio loop: the package's headers, Boost and threads are all found.
#include <aio/aio.hpp>

#include <iostream>

int main() {
    int answer = aio::run([]() -> aio::awaitable<int> {
        auto t = aio::create_task([]() -> aio::awaitable<int> { co_return 42; });
        co_return co_await t();
    });
    std::cout << "aio test_package: " << answer << '\n';
    return answer == 42 ? 0 : 1;
}

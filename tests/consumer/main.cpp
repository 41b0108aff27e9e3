// A program that uses aio from outside its source tree: it exits 0 only if aio works.
#include <aio/aio.hpp>

#include <chrono>
#include <iostream>

using namespace std::chrono_literals;

aio::awaitable<int> square(int x) {
    co_await aio::sleep(1ms);
    int result = x * x;
    co_return result;
}

int main() {
    int sum = aio::run([]() -> aio::awaitable<int> {
        auto [a, b] = co_await aio::gather(square(3), square(4));
        int c = co_await aio::to_thread([] { return 5 * 5; });
        co_return a + b + c;
    });
    std::cout << "consumer: 3^2 + 4^2 + 5^2 = " << sum << '\n';
    return sum == 50 ? 0 : 1;
}

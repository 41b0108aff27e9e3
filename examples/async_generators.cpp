// async_generators: the book's async generators and async comprehensions in aio - a generator
// that awaits a timer between yields, one that yields lines as they arrive on a socket, a
// comprehension pipeline (filter / transform / take / collect), and as_completed.
#include <aio/aio.hpp>
#include <aio/as_completed.hpp>
#include <aio/comprehension.hpp>
#include <aio/generator.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <cstddef>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using unix_socket = boost::asio::local::stream_protocol::socket;

// async def doubler(n):
//     for i in range(n):
//         yield i, i * 2
//         await asyncio.sleep(0.01)
aio::generator<std::pair<int, int>> doubler(int n) {
    for (int i = 0; i < n; ++i) {
        co_yield std::make_pair(i, i * 2);
        co_await aio::sleep(10ms);
    }
}

// 0, 1, 2, ... without end: the consumer decides when to stop.
aio::generator<int> naturals() {
    for (int i = 0;; ++i) {
        co_yield int(i);
    }
}

// Lines as they arrive on a socket; ends when the peer closes it.
aio::generator<std::string> read_lines(unix_socket& socket) {
    std::string buffer;
    for (;;) {
        boost::system::error_code ec;
        std::size_t n = co_await boost::asio::async_read_until(
            socket, boost::asio::dynamic_buffer(buffer), '\n',
            boost::asio::redirect_error(boost::asio::use_awaitable, ec));
        if (ec) {
            co_return; // end of stream
        }
        std::string line = buffer.substr(0, n - 1);
        buffer.erase(0, n);
        co_yield std::move(line);
    }
}

aio::awaitable<void> send_lines(unix_socket socket) {
    for (const char* line : {"alpha\n", "beta\n", "gamma\n"}) {
        co_await boost::asio::async_write(socket, boost::asio::buffer(std::string(line)),
                                          boost::asio::use_awaitable);
        co_await aio::sleep(5ms);
    }
}

aio::awaitable<std::string> job(std::string name, std::chrono::milliseconds duration) {
    co_await aio::sleep(duration);
    co_return name;
}

aio::awaitable<void> amain() {
    // Consuming a generator by hand: `async for i, doubled in doubler(3)`.
    auto pairs = doubler(3);
    while (std::optional<std::pair<int, int>> p = co_await pairs.next()) {
        std::cout << "doubler: " << p->first << " -> " << p->second << '\n';
    }

    // [x async for x in doubler(3)] and {x: y async for x, y in doubler(5)}
    std::vector<std::pair<int, int>> as_list = co_await aio::collect(doubler(3));
    std::cout << "list comprehension: " << as_list.size() << " pairs\n";
    std::map<int, int> as_dict;
    for (auto& [x, y] : co_await aio::collect(doubler(5))) {
        as_dict[x] = y;
    }
    std::cout << "dict comprehension: 4 -> " << as_dict[4] << '\n';

    // A pipeline over an endless generator: take() stops it after three values.
    auto is_odd = [](int v) { return v % 2 == 1; };
    auto square = [](int v) { return v * v; };
    std::vector<int> odd_squares = co_await aio::collect(
        aio::take(aio::transform(aio::filter(naturals(), is_odd), square), 3));
    std::cout << "first three odd squares:";
    for (int v : odd_squares) {
        std::cout << ' ' << v;
    }
    std::cout << '\n';

    // An async function in a comprehension: [await f(x) async for x in naturals()][:3]
    auto plus_100 = [](int x) -> aio::awaitable<int> {
        co_await aio::sleep(1ms);
        co_return x + 100;
    };
    std::vector<int> shifted =
        co_await aio::collect(aio::transform(aio::take(naturals(), 3), plus_100));
    std::cout << "await f(x) for the first three:";
    for (int v : shifted) {
        std::cout << ' ' << v;
    }
    std::cout << '\n';

    // A generator over I/O: lines are yielded as the writer sends them.
    unix_socket reader(co_await boost::asio::this_coro::executor);
    unix_socket writer(reader.get_executor());
    boost::asio::local::connect_pair(reader, writer);
    auto sender = aio::create_task(send_lines(std::move(writer)));
    auto lines = read_lines(reader);
    while (std::optional<std::string> line = co_await lines.next()) {
        std::cout << "line: " << *line << '\n';
    }
    co_await sender();

    // as_completed: the tasks, in the order they finish.
    std::vector<aio::task<std::string>> jobs{aio::create_task(job("slow", 30ms)),
                                             aio::create_task(job("fast", 10ms)),
                                             aio::create_task(job("medium", 20ms))};
    auto finished = aio::as_completed(jobs);
    while (std::optional<aio::task<std::string>> t = co_await finished.next()) {
        std::cout << "finished: " << co_await (*t)() << '\n';
    }
}

int main() {
    aio::run(amain());
    return 0;
}

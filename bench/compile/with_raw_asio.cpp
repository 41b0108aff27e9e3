// The compile-time row's raw Asio side: what bench/compile/with_aio.cpp does, with
// <boost/asio.hpp> alone - three coroutines that sleep and return a value, collected in order,
// and an operation cut short by a timeout (a timer that emits a cancellation signal).
#include <boost/asio.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <exception>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

asio::awaitable<int> fetch(int id) {
    asio::steady_timer timer(co_await asio::this_coro::executor, 1ms * id);
    co_await timer.async_wait(asio::use_awaitable);
    co_return id * 10;
}

asio::awaitable<void> main_task() {
    auto ex = co_await asio::this_coro::executor;
    std::array<int, 3> results{};
    int left = 3;
    asio::steady_timer all_done(ex, asio::steady_timer::time_point::max());
    for (int i = 0; i < 3; ++i) {
        asio::co_spawn(ex, fetch(i + 1), [&, i](std::exception_ptr e, int v) {
            if (e) {
                std::rethrow_exception(e);
            }
            results[static_cast<std::size_t>(i)] = v;
            if (--left == 0) {
                all_done.cancel();
            }
        });
    }
    boost::system::error_code ec;
    co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    std::printf("gathered %d %d %d\n", results[0], results[1], results[2]);

    asio::cancellation_signal cancel;
    asio::steady_timer deadline(ex, 5ms);
    deadline.async_wait([&](boost::system::error_code e) {
        if (!e) {
            cancel.emit(asio::cancellation_type::terminal);
        }
    });
    try {
        co_await asio::co_spawn(ex, fetch(100),
                                asio::bind_cancellation_slot(cancel.slot(), asio::use_awaitable));
        deadline.cancel();
    } catch (const boost::system::system_error& e) {
        if (e.code() != asio::error::operation_aborted) {
            throw;
        }
        std::printf("timed out\n");
    }
}

} // namespace

int main() {
    asio::io_context ctx(1);
    asio::co_spawn(ctx, main_task(), [](std::exception_ptr e) {
        if (e) {
            std::rethrow_exception(e);
        }
    });
    ctx.run();
}

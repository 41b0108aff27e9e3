// aio/http/detail/ws_stream.hpp - ws_stream: a Beast AsyncStream over aio's stream_reader and
// stream_writer, the layer boost::beast::websocket::stream runs on.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/loop_core.hpp>
#include <aio/error.hpp>
#include <aio/net/stream_reader.hpp>
#include <aio/net/stream_writer.hpp>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <cstddef>
#include <exception>
#include <string>
#include <utility>

namespace aio::http::detail {

/// The bytes of a connection as Beast's AsyncStream sees them: async_read_some serves what the
/// reader already holds first (the bytes that came right after the HTTP upgrade, which the
/// HTTP parser left there), then waits with fill(); async_write_some queues on the writer and
/// drains. Each operation runs as a small coroutine on the loop (co_spawn), which carries the
/// handler's cancellation slot: a cancelled operation completes with operation_aborted, the
/// bytes that arrive meanwhile stay in the reader. Sits on the streams, never on the socket,
/// so that whatever the streams run over (plain TCP, TLS) carries WebSocket unchanged.
class ws_stream {
public:
    using executor_type = boost::asio::io_context::executor_type;

    ws_stream(stream_reader reader, stream_writer writer)
        : reader_(std::move(reader)), writer_(std::move(writer)),
          executor_(aio::detail::require_running_loop().executor()) {}

    executor_type get_executor() const noexcept { return executor_; }
    stream_reader& reader() noexcept { return reader_; }
    stream_writer& writer() noexcept { return writer_; }

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto handler, const MutableBuffers& into) {
                start(read_into(reader_, into), std::move(handler));
            },
            token, buffers);
    }

    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        std::string bytes(boost::asio::buffer_size(buffers), '\0');
        boost::asio::buffer_copy(boost::asio::buffer(bytes), buffers);
        return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto handler, std::string out) {
                start(write_out(writer_, std::move(out)), std::move(handler));
            },
            token, std::move(bytes));
    }

    /// Beast closes the "socket" this way on a timeout or a failure: the connection is
    /// aborted (unsent bytes dropped).
    friend void beast_close_socket(ws_stream& s) { s.writer_.abort(); }

private:
    using outcome = std::pair<boost::system::error_code, std::size_t>;

    /// Runs `op` on the loop, then calls `handler` with its outcome; cancelling the handler's
    /// slot cancels `op`.
    template <class Handler>
    void start(awaitable<outcome> op, Handler handler) {
        auto slot = boost::asio::get_associated_cancellation_slot(handler);
        boost::asio::co_spawn(
            executor_, std::move(op),
            boost::asio::bind_cancellation_slot(
                slot, [h = std::move(handler)](std::exception_ptr e, outcome r) mutable {
                    if (e) {
                        r = {boost::asio::error::fault, 0}; // a broken invariant, not I/O
                    }
                    std::move(h)(r.first, r.second);
                }));
    }

    static outcome failure(const std::exception_ptr& e) {
        try {
            std::rethrow_exception(e);
        } catch (const boost::system::system_error& error) {
            return {error.code(), 0};
        } catch (const cancelled_error&) {
            return {boost::asio::error::operation_aborted, 0};
        } catch (...) {
            return {boost::asio::error::fault, 0};
        }
    }

    template <class MutableBuffers>
    static awaitable<outcome> read_into(stream_reader reader, MutableBuffers into) {
        if (boost::asio::buffer_size(into) == 0) {
            co_return outcome{};
        }
        std::exception_ptr error;
        try {
            if (reader.buffered().empty() && co_await reader.fill() == 0) {
                co_return outcome{boost::asio::error::eof, 0};
            }
        } catch (...) {
            error = std::current_exception();
        }
        if (error) {
            co_return failure(error);
        }
        std::string_view held = reader.buffered();
        std::size_t n =
            boost::asio::buffer_copy(into, boost::asio::buffer(held.data(), held.size()));
        reader.consume(n);
        co_return outcome{{}, n};
    }

    static awaitable<outcome> write_out(stream_writer writer, std::string bytes) {
        std::size_t n = bytes.size();
        std::exception_ptr error;
        try {
            writer.write(std::move(bytes));
            co_await writer.drain();
        } catch (...) {
            error = std::current_exception();
        }
        if (error) {
            co_return failure(error);
        }
        co_return outcome{{}, n};
    }

    stream_reader reader_;
    stream_writer writer_;
    executor_type executor_;
};

/// Beast's teardown of the connection once the closing handshake is over (found by ADL): the
/// writer closes after sending what it holds, as RFC 6455 has the server do; aio's client does
/// the same rather than wait for the server's EOF.
inline void teardown(boost::beast::role_type, ws_stream& s, boost::system::error_code& ec) {
    s.writer().close();
    ec = {};
}

template <class TeardownHandler>
void async_teardown(boost::beast::role_type, ws_stream& s, TeardownHandler&& handler) {
    s.writer().close();
    boost::asio::post(s.get_executor(), [h = std::forward<TeardownHandler>(handler)]() mutable {
        std::move(h)(boost::system::error_code{});
    });
}

} // namespace aio::http::detail

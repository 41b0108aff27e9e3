// aio/net/stream_writer.hpp - stream_writer: the writing half of a connection
// (asyncio.StreamWriter).
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/range.hpp>
#include <aio/error.hpp>
#include <aio/net/detail/transport.hpp>
#include <aio/net/socket_address.hpp>

#include <cstddef>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace aio {

namespace detail {
struct stream_access;
}

/// The writing half of a connection (asyncio.StreamWriter). A handle: copies write to the same
/// connection (any number of tasks may write and drain); the connection closes when the last
/// reader and writer handle of it are gone (after sending what was written). Loop-affine.
///
/// write() never waits: it sends what the socket takes at once and buffers the rest, which
/// goes out as the socket drains. Flow control is asyncio's: above the high water mark
/// (64 KiB) the writer is paused, and drain() waits until the buffer is down to the low water
/// mark (16 KiB).
///
/// Errors: once the connection is lost (reset by the peer, a failed send), write(), drain() and
/// wait_closed() throw boost::system::system_error with the cause; asyncio's write() drops the
/// data silently instead. Cancellation of drain() or wait_closed(): throws cancelled_error;
/// the buffered data stays queued and is still sent. drain()'s `where` is the caller's site,
/// for the task's call stack (see aio::sleep).
class stream_writer {
public:
    stream_writer() = default;
    explicit stream_writer(detail::transport_handle t) noexcept : t_(std::move(t)) {}

    /// Queues `data` for sending (asyncio's write); a std::string passed as an rvalue becomes
    /// the buffer itself when it cannot all go at once (no copy). Throws the connection's error
    /// if it is lost, std::logic_error after close() or write_eof().
    void write(std::string_view data) { t_->write(data); }
    void write(std::string&& data) { t_->write(std::move(data)); }
    void write(const char* data) { t_->write(std::string_view(data)); }

    /// write() of each element in turn, sent together (asyncio's writelines): when nothing is
    /// buffered, one system call takes up to 64 of them, where a write() per element makes one
    /// each. Elements are anything a std::string_view is made from. Throws as write().
    template <detail::input_range R>
    void writelines(const R& lines) {
        t_->write_pieces(lines);
    }

    /// Waits until the buffer is down to the low water mark if it went above the high one;
    /// returns at once otherwise (asyncio's drain). Any number of tasks may drain at once.
    /// Throws the connection's error if it is lost (before or while waiting). Cancellation:
    /// throws cancelled_error; nothing buffered is dropped.
    awaitable<void> drain(aio::source_location where = aio::source_location::current()) {
        detail::transport& t = *t_;
        rethrow_if_failed(t);
        if (t.paused()) {
            detail::io_waiter w(where);
            bool cancelled = co_await t.wait_drained(w);
            if (cancelled) {
                throw cancelled_error();
            }
            rethrow_if_failed(t);
        }
    }

    /// Closes the connection once what was written is sent (asyncio's close); reads then see
    /// EOF. Over TLS, close_notify is sent last (the peer's is not waited for). Idempotent.
    /// Never throws.
    void close() { t_->close(); }

    /// Closes now, dropping what was not sent (asyncio's transport.abort()).
    void abort() { t_->abort(); }

    /// Waits until the connection is closed (after close(), the buffer is sent first; asyncio's
    /// wait_closed). Throws the connection's error if it was lost rather than closed.
    /// Cancellation: throws cancelled_error; the close goes on.
    awaitable<void> wait_closed() {
        detail::transport& t = *t_;
        if (!t.closed()) {
            detail::io_waiter w;
            bool cancelled = co_await t.wait_closed(w);
            if (cancelled) {
                throw cancelled_error();
            }
        }
        rethrow_if_failed(t);
    }

    /// True once close() or abort() was called, or the connection was lost (asyncio's
    /// is_closing).
    bool is_closing() const { return t_->closing(); }

    /// Sends EOF once the buffer is sent (a TCP half-close: the peer reads EOF and may still
    /// reply; asyncio's write_eof). write() afterwards throws std::logic_error. On a TLS
    /// connection (no half-close): throws std::logic_error, as asyncio raises.
    void write_eof() { t_->write_eof(); }

    /// True: TCP and Unix stream sockets can half-close; false over TLS.
    bool can_write_eof() const noexcept { return t_.get() == nullptr || t_->tls() == nullptr; }

    /// Bytes written and not yet sent (asyncio's transport.get_write_buffer_size()).
    std::size_t write_buffer_size() const { return t_->write_buffer_size(); }

    /// Sets the flow control marks (asyncio's transport.set_write_buffer_limits): drain()
    /// waits once the buffer exceeds `high`, until it is at `low` or below (default high / 4).
    /// Throws std::invalid_argument if low > high.
    void set_write_buffer_limits(std::size_t high, std::optional<std::size_t> low = std::nullopt) {
        t_->set_write_buffer_limits(high, low.value_or(high / 4));
    }
    /// The marks as {low, high} (asyncio's get_write_buffer_limits order).
    std::pair<std::size_t, std::size_t> write_buffer_limits() const {
        return {t_->low_water(), t_->high_water()};
    }

    /// The peer's address (asyncio's get_extra_info("peername")), recorded when the connection
    /// was made: still told after the connection is lost or closed. Empty if the socket could
    /// not tell it then (the peer had already reset the connection).
    socket_address peername() const { return address(t_->peer_address()); }
    /// This end's address (get_extra_info("sockname")), recorded likewise.
    socket_address sockname() const { return address(t_->local_address()); }
    /// The socket itself (get_extra_info("socket")), for options aio does not wrap. Reading or
    /// writing it directly bypasses the streams' buffers.
    detail::stream_socket& socket() const { return t_->socket(); }

    /// False for a default-constructed writer.
    explicit operator bool() const noexcept { return static_cast<bool>(t_); }

    /// True if both write to the same connection (or both to none): writers compare by identity,
    /// as asyncio's do, so that one can be found in a list of subscribers or used as a map key
    /// (std::hash<stream_writer> hashes the same identity).
    friend bool operator==(const stream_writer& a, const stream_writer& b) noexcept {
        return a.t_.get() == b.t_.get();
    }

private:
    friend struct detail::stream_access;

    static socket_address address(const detail::transport::endpoint& ep) {
        return ep.data()->sa_family == AF_UNSPEC ? socket_address() : socket_address(ep);
    }

    static void rethrow_if_failed(const detail::transport& t) {
        if (t.error()) {
            std::rethrow_exception(t.error());
        }
    }

    detail::transport_handle t_;
};

namespace detail {
/// The transport behind a writer, for the server that tracks its connections.
struct stream_access {
    static transport* of(const stream_writer& w) noexcept { return w.t_.get(); }
};
} // namespace detail

} // namespace aio

/// Hashes a writer's identity: the connection it writes to.
template <>
struct std::hash<aio::stream_writer> {
    std::size_t operator()(const aio::stream_writer& w) const noexcept {
        return std::hash<const void*>()(aio::detail::stream_access::of(w));
    }
};

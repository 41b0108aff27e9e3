// aio/http/detail/body_source.hpp - where a request's body comes from: the connection that
// parses it, as the request sees it (and the connection a WebSocket takes over).
#pragma once

#include <aio/awaitable.hpp>
#include <aio/generator.hpp>
#include <aio/net/stream_reader.hpp>
#include <aio/net/stream_writer.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

namespace aio::http::detail {

/// What took a connection over from HTTP (a WebSocket), as the connection sees it.
class upgraded_protocol {
public:
    /// Called once the handler has returned: ends the protocol (a WebSocket still open is
    /// closed with 1000, as aiohttp's write_eof does).
    virtual awaitable<void> finish() = 0;
    /// Called by the server's shutdown: starts ending the protocol (a WebSocket is closed with
    /// 1001, going away), without waiting.
    virtual void going_away() = 0;

protected:
    ~upgraded_protocol() = default;
};

/// The streams of a connection handed over to another protocol.
struct taken_over_streams {
    stream_reader reader;
    stream_writer writer;
};

/// The body of the request being served, read as it arrives; and the connection itself, for
/// a protocol that takes it over.
class body_source {
public:
    /// Hands the connection over to `protocol` (after an upgrade): the server writes nothing
    /// more on it, and ends it with protocol->finish() once the handler returns. Returns its
    /// streams; the bytes after the request's header are still in the reader. Throws
    /// std::logic_error if the connection was already taken over.
    virtual taken_over_streams take_over(std::shared_ptr<upgraded_protocol> protocol) = 0;

    /// Appends the next bytes of the body to `out` (waiting for them if none are buffered);
    /// returns how many, 0 once the body is complete. Throws http_error (413 past the size
    /// limit, 400 for a malformed or truncated body).
    virtual awaitable<std::size_t> read_some(std::string& out) = 0;

protected:
    ~body_source() = default;
};

/// The body's pieces as they arrive, for request::chunks().
inline generator<std::string> body_chunks(body_source* source) {
    for (;;) {
        std::string piece;
        std::size_t n = co_await source->read_some(piece);
        if (n == 0) {
            co_return;
        }
        co_yield std::move(piece);
    }
}

} // namespace aio::http::detail

// aio/http/detail/body_source.hpp - where a request's body comes from: the connection that
// parses it, as the request sees it.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/generator.hpp>

#include <cstddef>
#include <string>
#include <utility>

namespace aio::http::detail {

/// The body of the request being served, read as it arrives.
class body_source {
public:
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

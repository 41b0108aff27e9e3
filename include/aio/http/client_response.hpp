// aio/http/client_response.hpp - client_response: a response as client_session's requests
// return it (aiohttp.ClientResponse), its header at hand and its body still to read.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/generator.hpp>
#include <aio/http/client_errors.hpp>
#include <aio/http/detail/response_reader.hpp>

#include <boost/beast/http/fields.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aio::http {

/// A redirect the request followed: its status and the URL that answered it (an entry of
/// aiohttp's ClientResponse.history).
struct redirect_record {
    unsigned status = 0;
    std::string url;
};

/// aiohttp.ClientResponse: the status and header of a response, and its body, read with
/// read(), text(), json() or in pieces (read_some, iter_chunked, iter_any). Move-only.
/// Loop-affine; must be used on the loop of the session that made it.
///
/// Its connection goes back to the session's pool the moment the body has been read to its end
/// (and the server did not ask to close). Dropping the response before that - destroying it,
/// release(), close() - closes the connection instead, so a half-read connection is never
/// reused (aiohttp's release()). A body read cancelled, cut short, or timed out closes the
/// connection too.
///
/// Body reads run under the request's client_timeout: the total deadline (counted from the
/// start of the request) and sock_read for each wait for bytes; an expiry throws
/// client_timeout_error naming the URL.
class client_response {
public:
    client_response() = default;
    client_response(client_response&&) noexcept = default;
    client_response& operator=(client_response&&) noexcept = default;
    ~client_response() = default;

    /// The status code (resp.status).
    unsigned status() const { return reader_->parser().get().result_int(); }
    /// The reason phrase (resp.reason).
    std::string_view reason() const { return reader_->parser().get().reason(); }
    /// True for a status below 400 (resp.ok).
    bool ok() const { return status() < 400; }
    /// The header fields, case-insensitive, repeats kept (resp.headers): `headers()["Server"]`
    /// (an empty view when absent), `headers().count(name)`, iteration in order.
    const boost::beast::http::fields& headers() const { return reader_->parser().get().base(); }
    /// The HTTP version as 10 or 11 (resp.version).
    unsigned version() const { return reader_->parser().get().version(); }
    /// The Content-Length, if the response has one (resp.content_length).
    std::optional<std::uint64_t> content_length() const {
        auto length = reader_->parser().content_length();
        return length ? std::optional<std::uint64_t>(*length) : std::nullopt;
    }
    /// The URL that gave this response, after redirects (resp.url).
    const std::string& url() const { return reader_->url(); }
    /// The method of the request that gave it, after redirects (resp.method).
    const std::string& method() const noexcept { return method_; }
    /// The redirects followed to get here, oldest first (resp.history).
    const std::vector<redirect_record>& history() const noexcept { return history_; }

    /// The whole body (resp.read()): reads what is left of it, then returns it all; the
    /// connection goes back to the pool. Later calls (and text(), json()) return it again.
    /// Errors: client_payload_error if the connection ends mid-body, client_timeout_error.
    /// Cancellation: throws cancelled_error and closes the connection. After read_some /
    /// iter_chunked took part of the body, returns the rest only.
    awaitable<std::string> read() {
        if (!body_) {
            while (!reader_->done()) {
                co_await reader_->read_body_step();
            }
            body_ = take_body();
        }
        co_return *body_;
    }

    /// resp.text(): the body as read() gives it. aio does no charset decoding: the bytes are
    /// returned as they came (UTF-8 in practice).
    awaitable<std::string> text() { return read(); }

    /// resp.json(): the body parsed with Boost.JSON. Throws content_type_error when
    /// `check_content_type` is set and Content-Type is not JSON (aiohttp's
    /// content_type='application/json' check; any "...json" type passes),
    /// boost::system::system_error for a body that is not JSON; read()'s errors otherwise.
    awaitable<boost::json::value> json(bool check_content_type = true) {
        if (check_content_type) {
            std::string_view type = headers()[boost::beast::http::field::content_type];
            if (type.find("json") == std::string_view::npos) {
                throw content_type_error(
                    status(),
                    "attempt to decode JSON with unexpected mimetype: " + std::string(type), url());
            }
        }
        std::string body = co_await read();
        co_return boost::json::parse(body);
    }

    /// The next piece of the body, at most `max` bytes, waiting only if nothing is buffered
    /// (resp.content.read(n) / readany()); empty once the body is over. Errors and
    /// cancellation as read().
    awaitable<std::string> read_some(std::size_t max = 64 * 1024) {
        std::string& pending = reader_->parser().get().body();
        while (pending.empty() && !reader_->done()) {
            co_await reader_->read_body_step();
        }
        if (pending.size() <= max) {
            co_return take_body();
        }
        std::string piece = pending.substr(0, max);
        pending.erase(0, max);
        co_return piece;
    }

    /// The body in pieces of at most `n` bytes as they arrive, as an aio::generator
    /// (`async for chunk in resp.content.iter_chunked(n)`; each piece may be shorter than n,
    /// as aiohttp's are). The response must outlive the generator. Errors and cancellation as
    /// read(), raised from the generator's next().
    generator<std::string> iter_chunked(std::size_t n) {
        for (;;) {
            std::string piece = co_await read_some(n);
            if (piece.empty()) {
                co_return;
            }
            co_yield std::move(piece);
        }
    }

    /// The body as it arrives, whatever the sizes (resp.content.iter_any()).
    generator<std::string> iter_any() {
        return iter_chunked(std::numeric_limits<std::size_t>::max());
    }

    /// True once the whole body has been received (resp.content.at_eof()).
    bool at_eof() const { return reader_->done() && reader_->parser().get().body().empty(); }

    /// resp.raise_for_status(): throws client_response_error (status, reason, URL) for a
    /// status of 400 or more; returns otherwise.
    void raise_for_status() const {
        if (!ok()) {
            throw client_response_error(status(), std::string(reason()), url());
        }
    }

    /// resp.release(): lets the connection go - back to the pool if the body was read to its
    /// end, closed otherwise. The header stays readable; the body's unread part is lost.
    void release() noexcept {
        if (reader_) {
            reader_->release();
        }
    }
    /// resp.close(): closes the connection unless it already went back to the pool.
    void close() noexcept { release(); }

private:
    friend class client_session;

    client_response(std::unique_ptr<detail::response_reader> reader, std::string method)
        : reader_(std::move(reader)), method_(std::move(method)) {}

    std::string take_body() {
        std::string body = std::move(reader_->parser().get().body());
        reader_->parser().get().body().clear();
        return body;
    }

    std::unique_ptr<detail::response_reader> reader_;
    std::string method_;
    std::vector<redirect_record> history_;
    std::optional<std::string> body_;
};

} // namespace aio::http

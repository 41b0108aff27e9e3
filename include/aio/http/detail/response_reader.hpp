// aio/http/detail/response_reader.hpp - reads one response from a pooled connection with
// Beast's response_parser, fed in place from the stream_reader (buffered, consume, fill),
// under the request's timeouts.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/error.hpp>
#include <aio/http/client_errors.hpp>
#include <aio/http/client_options.hpp>
#include <aio/http/detail/connection_pool.hpp>
#include <aio/wait.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>

namespace aio::http::detail {

/// The limits a response header is held to (client_session_options' names).
struct header_limits {
    std::size_t max_line_size = 8190;
    std::size_t max_field_size = 8190;
    std::size_t max_headers = 128;
};

/// One response being read: the parser, the connection it comes from, and the deadlines.
/// The connection goes back to the pool the moment the parser has the whole message (and the
/// server did not ask to close); every error and timeout closes it.
class response_reader {
public:
    using parser_type = boost::beast::http::response_parser<boost::beast::http::string_body>;
    using time_point = std::chrono::steady_clock::time_point;

    response_reader(connection_lease lease, std::string url, bool head,
                    std::optional<time_point> deadline,
                    std::optional<client_timeout::duration> sock_read, header_limits limits)
        : lease_(std::move(lease)), url_(std::move(url)), deadline_(deadline),
          sock_read_(sock_read), limits_(limits) {
        parser_.eager(true);
        parser_.body_limit(boost::none); // aiohttp's client reads bodies of any size
        // Beast bounds the whole header while it parses; the per-line and count limits are
        // checked on the parsed header (check_header), so memory stays bounded either way.
        std::uint64_t bound =
            limits.max_line_size + 2 + limits.max_headers * (limits.max_field_size + 2) + 2;
        parser_.header_limit(static_cast<std::uint32_t>(
            std::min<std::uint64_t>(bound, std::numeric_limits<std::uint32_t>::max())));
        if (head) {
            parser_.skip(true);
        }
    }

    parser_type& parser() noexcept { return parser_; }
    const std::string& url() const noexcept { return url_; }
    bool done() const noexcept { return done_; }
    /// Bytes of the response received so far (0: the server sent nothing).
    bool received_any() const noexcept { return received_any_; }

    /// Parses until the header is complete (and as much of the body as came with it). Throws
    /// server_disconnected_error if the connection ends first, malformed_response_error for
    /// what Beast rejects or what breaks the header limits, client_timeout_error.
    awaitable<void> read_header() {
        for (;;) {
            std::size_t used = parse_buffered();
            if (parser_.is_header_done()) {
                break;
            }
            if (used == 0 && co_await fill() == 0) {
                lease_.discard();
                throw server_disconnected_error(
                    received_any_
                        ? "aio::http: the server closed the connection mid-header, url='" + url_ +
                              "'"
                        : "aio::http: the server closed the connection without answering, url='" +
                              url_ + "'");
            }
        }
        check_header();
        if (parser_.is_done()) {
            finish();
        }
    }

    /// One step of the body: parses what is buffered, else waits for more bytes (appended to
    /// the parser's body string). Finishes the response at its end. Throws client_payload_error
    /// if the connection ends mid-body or the framing is broken, client_timeout_error.
    awaitable<void> read_body_step() {
        if (done_) {
            co_return;
        }
        if (!lease_) {
            throw client_payload_error("aio::http: the response was released or failed before "
                                       "its end, url='" +
                                       url_ + "'");
        }
        std::size_t used = parse_buffered();
        if (!parser_.is_done() && used == 0 && co_await fill() == 0) {
            boost::beast::error_code ec;
            parser_.put_eof(ec);
            if (ec) {
                lease_.discard();
                throw client_payload_error("aio::http: response payload is not completed (the "
                                           "connection ended mid-body), url='" +
                                           url_ + "'");
            }
        }
        if (parser_.is_done()) {
            finish();
        }
    }

    /// Closes the connection unless the response was read to its end (aiohttp's release()).
    void release() noexcept {
        if (!done_) {
            lease_.discard();
        }
    }

private:
    /// Feeds the buffered bytes to the parser and consumes what it used.
    std::size_t parse_buffered() {
        stream_reader& r = lease_->reader;
        std::string_view buf = r.buffered();
        if (buf.empty()) {
            return 0;
        }
        received_any_ = true;
        boost::beast::error_code ec;
        std::size_t used = parser_.put(boost::asio::buffer(buf.data(), buf.size()), ec);
        r.consume(used);
        if (ec && ec != boost::beast::http::error::need_more) {
            lease_.discard();
            if (parser_.is_header_done()) {
                throw client_payload_error("aio::http: bad response body (" + ec.message() +
                                           "), url='" + url_ + "'");
            }
            throw malformed_response_error(0, "bad response (" + ec.message() + ")", url_);
        }
        return used;
    }

    void check_header() {
        const auto& h = parser_.get();
        if (h.reason().size() + 13 > limits_.max_line_size) {
            bad_header("status line too long");
        }
        std::size_t count = 0;
        for (const auto& field : h) {
            if (++count > limits_.max_headers) {
                bad_header("more than " + std::to_string(limits_.max_headers) + " headers");
            }
            if (field.name_string().size() + 2 + field.value().size() > limits_.max_field_size) {
                bad_header("header line longer than " + std::to_string(limits_.max_field_size) +
                           " bytes");
            }
        }
    }

    [[noreturn]] void bad_header(const std::string& why) {
        lease_.discard();
        throw malformed_response_error(parser_.get().result_int(), why, url_);
    }

    /// Waits for more bytes, under the total deadline and sock_read; 0 at EOF.
    awaitable<std::size_t> fill() {
        stream_reader& r = lease_->reader;
        std::optional<time_point> when = deadline_;
        const char* which = "total";
        if (sock_read_) {
            time_point read_by = std::chrono::steady_clock::now() + *sock_read_;
            if (!when || read_by < *when) {
                when = read_by;
                which = "sock_read";
            }
        }
        std::size_t got = 0;
        try {
            if (when) {
                got = co_await aio::timeout_at(*when, r.fill());
            } else {
                got = co_await r.fill();
            }
        } catch (const aio::cancelled_error&) {
            lease_.discard(); // half-read: never back to the pool
            throw;
        } catch (const aio::timeout_error&) {
            lease_.discard();
            throw client_timeout_error(which, url_);
        } catch (const boost::system::system_error& e) {
            lease_.discard();
            if (parser_.is_header_done()) {
                throw client_payload_error("aio::http: connection lost mid-body (" +
                                           std::string(e.what()) + "), url='" + url_ + "'");
            }
            throw server_disconnected_error("aio::http: connection lost (" + std::string(e.what()) +
                                            "), url='" + url_ + "'");
        }
        co_return got;
    }

    void finish() {
        done_ = true;
        if (parser_.keep_alive()) {
            lease_.give_back();
        } else {
            lease_.discard();
        }
    }

    connection_lease lease_;
    std::string url_;
    std::optional<time_point> deadline_;
    std::optional<client_timeout::duration> sock_read_;
    header_limits limits_;
    parser_type parser_;
    bool done_ = false;
    bool received_any_ = false;
};

} // namespace aio::http::detail

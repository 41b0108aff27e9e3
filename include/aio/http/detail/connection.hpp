// aio/http/detail/connection.hpp - one HTTP/1.1 connection being served: Beast's request
// parser fed from the stream reader's buffer in place, the handler called for each request,
// the response written to the stream writer; and the server's state the connections share.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/intrusive_list.hpp>
#include <aio/detail/loop_core.hpp>
#include <aio/error.hpp>
#include <aio/event.hpp>
#include <aio/exception_handler.hpp>
#include <aio/http/application.hpp>
#include <aio/http/detail/body_source.hpp>
#include <aio/http/detail/router.hpp>
#include <aio/http/detail/wire.hpp>
#include <aio/http/request.hpp>
#include <aio/http/response.hpp>
#include <aio/net/server.hpp>
#include <aio/net/stream_reader.hpp>
#include <aio/net/stream_writer.hpp>
#include <aio/task.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aio::http {

/// Options of an HTTP server: the connections' and the listening sockets' (aio's
/// server_options: backlog, reuse_port, ...), and the limits of HTTP. The defaults are
/// aiohttp's (nginx's for the header timeout, which aiohttp lacks).
struct server_options : aio::server_options {
    /// The largest request body, in bytes (aiohttp's client_max_size, 1 MiB): a request that
    /// declares a longer one gets 413 at once, a body (chunked) that grows past it makes the
    /// body's read throw http_error(413); the connection closes after the answer.
    std::uint64_t client_max_size = 1024 * 1024;
    /// The largest request line plus header fields, in bytes (aiohttp's max_line_size and
    /// max_field_size are 8190 each): past it, 431 and the connection closes.
    std::uint32_t max_header_size = 8 * 1024;
    /// How long a request's line and header may take to arrive, from the connection's accept
    /// or the request's first byte (nginx's client_header_timeout, 60 s): then the connection
    /// closes without an answer. A client trickling a header (slowloris) holds a connection no
    /// longer than this.
    std::chrono::steady_clock::duration header_timeout = std::chrono::seconds(60);
    /// How long a keep-alive connection may wait for its next request (aiohttp's
    /// keepalive_timeout, 75 s): then it closes.
    std::chrono::steady_clock::duration keepalive_timeout = std::chrono::seconds(75);
    /// How long a graceful shutdown lets the requests in flight finish before cancelling
    /// their handlers (aiohttp's shutdown_timeout, 60 s): see server::shutdown.
    std::chrono::steady_clock::duration shutdown_timeout = std::chrono::seconds(60);
};

namespace detail {

class connection;

/// A server's state, shared by its handles and its connections. Loop-affine.
struct server_state {
    server_state(const application& app, server_options opt) : routes(app), options(opt) {}

    router routes;
    server_options options;
    aio::server listener;
    aio::detail::intrusive_list<connection> connections;
    std::size_t active = 0;
    /// Set by shutdown: idle connections close, busy ones close after their response.
    bool closing = false;
    /// Set when closing and no connection is left.
    event drained;
};

/// One connection: reads requests, answers them in order, until the client closes, asks to
/// close, a limit or an error closes it, or the server shuts down.
class connection final : public body_source,
                         public aio::detail::list_hook,
                         public std::enable_shared_from_this<connection> {
public:
    connection(std::shared_ptr<server_state> state, stream_reader reader, stream_writer writer)
        : state_(std::move(state)), reader_(std::move(reader)), writer_(std::move(writer)),
          peer_(writer_.peername()), timer_(aio::detail::require_running_loop().executor()) {}

    /// Serves the connection (registered with the server meanwhile). A lost connection ends
    /// it quietly; another error is reported and aborts it; a cancellation leaves.
    static awaitable<void> serve(std::shared_ptr<server_state> state, stream_reader reader,
                                 stream_writer writer) {
        auto self = std::make_shared<connection>(state, std::move(reader), std::move(writer));
        self->task_ = co_await current_task();
        state->connections.push_back(*self);
        ++state->active;
        std::exception_ptr error;
        try {
            co_await self->run();
        } catch (...) {
            error = std::current_exception();
        }
        self->finish();
        if (error && is_cancellation(error)) {
            std::rethrow_exception(error);
        }
        if (error) {
            // A lost connection ends quietly; anything else is a fault worth a report.
            try {
                std::rethrow_exception(error);
            } catch (const boost::system::system_error&) {
            } catch (...) {
                aio::detail::report_here(
                    {"aio.http: a connection failed (peer " + self->peer_.to_string() + ")", error,
                     ""});
            }
            self->writer_.abort();
        }
    }

    /// Shutdown: an idle connection closes now, a busy one after its response, a taken-over
    /// one as its protocol says (a WebSocket: closed with 1001, going away).
    void on_shutdown() {
        if (upgraded_) {
            upgraded_->going_away();
        } else if (phase_ != phase::handling) {
            writer_.close();
        }
    }
    /// Shutdown past its timeout: cancels the handler.
    void cancel() { task_.cancel(); }

    taken_over_streams take_over(std::shared_ptr<upgraded_protocol> protocol) override {
        if (upgraded_) {
            throw std::logic_error("aio.http: the connection was already taken over");
        }
        upgraded_ = std::move(protocol);
        watching_ = false; // no header or keep-alive timeout applies any more
        return {reader_, writer_};
    }

    awaitable<std::size_t> read_some(std::string& out) override {
        using boost::beast::http::error;
        if (body_failed_) {
            throw http_error(status::bad_request, "the request's body could not be read");
        }
        if (!continue_sent_) {
            continue_sent_ = true;
            const auto& header = parser_->get();
            if (header.version() == 11 &&
                boost::beast::iequals(header[field::expect], "100-continue")) {
                writer_.write(std::string_view("HTTP/1.1 100 Continue\r\n\r\n"));
            }
        }
        for (;;) {
            if (parser_->is_done()) {
                co_return 0;
            }
            std::string_view buffered = reader_.buffered();
            if (!buffered.empty()) {
                std::size_t old = out.size();
                out.resize(old + buffered.size());
                auto& body = parser_->get().body();
                body.data = out.data() + old;
                body.size = buffered.size();
                boost::beast::error_code ec;
                std::size_t used =
                    parser_->put(boost::asio::buffer(buffered.data(), buffered.size()), ec);
                std::size_t got = buffered.size() - body.size;
                reader_.consume(used);
                out.resize(old + got);
                if (ec == error::need_buffer) {
                    ec = {};
                }
                if (ec && ec != error::need_more) {
                    body_failed_ = true;
                    if (ec == error::body_limit) {
                        throw http_error(status::payload_too_large);
                    }
                    throw http_error(status::bad_request, "malformed body: " + ec.message());
                }
                if (got > 0) {
                    co_return got;
                }
                if (used > 0) {
                    continue; // a chunk's size line, without data yet
                }
            }
            std::size_t arrived = co_await reader_.fill();
            if (arrived == 0) {
                body_failed_ = true;
                throw http_error(status::bad_request, "the request's body was cut short");
            }
        }
    }

private:
    using parser_type = boost::beast::http::request_parser<boost::beast::http::buffer_body>;
    using clock = std::chrono::steady_clock;
    enum class phase { idle, header, handling };

    awaitable<void> run() {
        const server_options& options = state_->options;
        bool first = true;
        for (;;) {
            parser_type parser;
            // Beast's own header limit is checked against what each put() is given, so how the
            // bytes arrive moves it: the exact one (line and fields, max_header_size bytes at
            // most) is checked below, Beast's is set past it.
            parser.header_limit(options.max_header_size + header_limit_slack);
            std::size_t header_bytes = 0; // this request's line and fields parsed so far
            parser.body_limit(options.client_max_size);
            parser_ = &parser;
            continue_sent_ = false;
            phase_ = first ? phase::header : phase::idle;
            watch(first ? options.header_timeout : options.keepalive_timeout);
            first = false;
            for (;;) {
                std::string_view buffered = reader_.buffered();
                if (!buffered.empty()) {
                    if (phase_ == phase::idle) {
                        phase_ = phase::header;
                        watch(options.header_timeout);
                    }
                    boost::beast::error_code ec;
                    std::size_t used =
                        parser.put(boost::asio::buffer(buffered.data(), buffered.size()), ec);
                    reader_.consume(used);
                    header_bytes += used;
                    // (Not over Beast's own error: a declared body too large fails the header
                    // with the rest of a large read still buffered.)
                    if ((!ec || ec == boost::beast::http::error::need_more) &&
                        over_header_limit(parser, header_bytes)) {
                        ec = boost::beast::http::error::header_limit;
                    }
                    if (!ec && parser.is_header_done()) {
                        break;
                    }
                    if (ec && ec != boost::beast::http::error::need_more) {
                        co_await refuse(ec, parser.is_header_done() &&
                                                parser.get().method() == verb::head);
                        co_return;
                    }
                    if (!ec) {
                        continue;
                    }
                }
                if (state_->closing && phase_ == phase::idle) {
                    co_return;
                }
                std::size_t arrived = co_await reader_.fill();
                if (arrived == 0) {
                    co_return; // the client closed, or a timeout or the shutdown closed it
                }
            }
            phase_ = phase::handling;
            watching_ = false;
            bool keep_alive = co_await answer(parser);
            parser_ = nullptr;
            if (!keep_alive) {
                if (parser.is_done()) {
                    writer_.close();
                } else {
                    co_await close_lingering(); // the request's body was left unread
                }
                co_return;
            }
        }
    }

    /// Answers a request whose header is parsed; true to keep the connection for the next.
    awaitable<bool> answer(parser_type& parser) {
        const auto& header = parser.get();
        std::string path;
        std::string_view query;
        if (!split_target(header.target(), path, query)) {
            co_await send(header.version(),
                          http_error(status::bad_request, "malformed target").to_response(), false,
                          header.method() == verb::head);
            co_return false;
        }
        request req(header, std::move(path), query, peer_, *this);
        response res = co_await dispatch(req);
        if (upgraded_) {
            // The handler's response is not sent: the connection speaks another protocol now,
            // and ends with it.
            co_await upgraded_->finish();
            writer_.close();
            co_return false;
        }
        bool keep_alive = header.keep_alive() && !res.closes() && !state_->closing && !body_failed_;
        keep_alive = co_await send(header.version(), std::move(res), keep_alive,
                                   header.method() == verb::head);
        if (keep_alive && !parser.is_done()) {
            keep_alive = co_await skip_body();
        }
        co_return keep_alive;
    }

    /// The handler's response; an error it throws becomes a response (reported, as a 500,
    /// unless it is an http_error). A cancellation leaves.
    awaitable<response> dispatch(request& req) {
        std::optional<response> res;
        std::exception_ptr error;
        try {
            res.emplace(co_await state_->routes.resolve(req)(req));
        } catch (...) {
            error = std::current_exception();
        }
        if (!error) {
            co_return std::move(*res);
        }
        if (is_cancellation(error)) {
            std::rethrow_exception(error);
        }
        try {
            std::rethrow_exception(error);
        } catch (const http_error& e) {
            res.emplace(e.to_response());
        } catch (...) {
        }
        if (res) {
            co_return std::move(*res);
        }
        aio::detail::report_here({"aio.http: unhandled exception in a request handler (" +
                                      std::string(req.method_string()) + " " +
                                      std::string(req.target()) + ", peer " + peer_.to_string() +
                                      ")",
                                  error, ""});
        co_return response::text("500 Internal Server Error", status::internal_server_error);
    }

    /// Writes `res` (and its stream's chunks); returns whether the connection may go on.
    awaitable<bool> send(unsigned version, response res, bool keep_alive, bool head_only) {
        unsigned code = static_cast<unsigned>(res.code());
        bool bodyless = head_only || code < 200 || code == 204 || code == 304;
        generator<std::string>* stream = res.stream();
        framing how = framing::length;
        if (stream != nullptr) {
            how = version == 11 ? framing::chunked : framing::until_close;
            keep_alive = keep_alive && how == framing::chunked;
        }
        if (code < 200 || code == 204) {
            how = framing::none;
        }
        std::string out;
        out.reserve(160 + (bodyless ? 0 : res.body().size()));
        append_head(out, version, res, how, res.body().size(), keep_alive);
        if (!bodyless && stream == nullptr) {
            out += res.body();
        }
        writer_.write(std::move(out));
        co_await writer_.drain();
        if (stream == nullptr || bodyless) {
            co_return keep_alive;
        }
        std::optional<std::string> piece;
        std::exception_ptr error;
        try {
            while ((piece = co_await stream->next())) {
                if (piece->empty()) {
                    continue;
                }
                if (how == framing::chunked) {
                    std::string size;
                    append_number(size, piece->size(), 16);
                    size += "\r\n";
                    std::string_view pieces[] = {size, *piece, "\r\n"};
                    writer_.writelines(pieces);
                } else {
                    writer_.write(std::move(*piece));
                }
                co_await writer_.drain();
            }
        } catch (...) {
            error = std::current_exception();
        }
        if (error) {
            if (!is_cancellation(error)) {
                aio::detail::report_here(
                    {"aio.http: a streamed response's generator failed (peer " + peer_.to_string() +
                         ")",
                     error, ""});
            }
            writer_.abort();
            std::rethrow_exception(error);
        }
        if (how == framing::chunked) {
            writer_.write(std::string_view("0\r\n\r\n"));
            co_await writer_.drain();
        }
        co_return keep_alive;
    }

    /// How far past max_header_size Beast's own limit is set (see run()).
    static constexpr std::uint32_t header_limit_slack = 8;

    /// True once a request's line and fields are known to exceed max_header_size: parsed and
    /// longer, or not parsed yet with that many bytes already in hand (no end of header among
    /// them).
    bool over_header_limit(const parser_type& parser, std::size_t header_bytes) const {
        std::size_t limit = state_->options.max_header_size;
        if (parser.is_header_done()) {
            return header_bytes > limit;
        }
        return header_bytes + reader_.buffered().size() >= limit;
    }

    /// Refuses a request whose header does not parse: 413 (declared body too large), 431
    /// (header too large) or 400, then closes. `head`: the header was read and is a HEAD's, so
    /// the answer has no body.
    awaitable<void> refuse(boost::beast::error_code ec, bool head) {
        using boost::beast::http::error;
        status code = ec == error::body_limit     ? status::payload_too_large
                      : ec == error::header_limit ? status::request_header_fields_too_large
                                                  : status::bad_request;
        std::string why = code == status::bad_request ? "Bad Request: " + ec.message()
                                                      : std::string(obsolete_reason(code));
        co_await send(11, response::text(std::move(why), code), false, head);
        co_await close_lingering();
    }

    /// How long, and how many bytes, close_lingering() reads and drops at most.
    static constexpr std::chrono::seconds linger_time{2};
    static constexpr std::size_t linger_bytes = std::size_t{1} << 20;

    /// Closes a connection whose client may still be sending (a request refused before its
    /// end, a body left unread): the answer is sent and followed by EOF, then what the client
    /// still sends is read and dropped until its EOF, for at most linger_time and linger_bytes,
    /// before the socket closes. Closing a socket with unread bytes in it makes the kernel reset
    /// the connection, and a client that is still sending then meets the reset instead of
    /// reading the answer (nginx's lingering close, for the same reason).
    awaitable<void> close_lingering() {
        if (writer_.can_write_eof()) { // TLS has no half-close: the answer's framing must do
            writer_.write_eof();
        }
        watch(linger_time);
        std::size_t dropped = 0;
        while (dropped < linger_bytes) {
            std::size_t held = reader_.buffered().size();
            reader_.consume(held);
            dropped += held;
            if (co_await reader_.fill() == 0) {
                break;
            }
        }
        watching_ = false;
        writer_.close();
    }

    /// Reads and drops what the handler left of the body; false if that failed.
    awaitable<bool> skip_body() {
        std::string sink;
        try {
            while (co_await read_some(sink) != 0) {
                sink.clear();
            }
        } catch (const http_error&) {
            co_return false;
        }
        co_return true;
    }

    /// Closes the connection if it has not moved on by now + d (a header to arrive, an idle
    /// connection's next request). One timer per connection, armed lazily: moving the
    /// deadline later costs nothing; the timer finds the new deadline when it fires.
    void watch(clock::duration d) {
        clock::time_point now = clock::now();
        deadline_ = now + d;
        watching_ = true;
        // A deadline further than the header timeout may shrink to it when the first byte
        // comes: the timer never waits past that.
        clock::time_point alarm = std::min(deadline_, now + state_->options.header_timeout);
        if (!armed_ || alarm < armed_at_) {
            arm(alarm);
        }
    }

    void arm(clock::time_point when) {
        armed_ = true;
        armed_at_ = when;
        std::uint32_t generation = ++generation_;
        timer_.expires_at(when);
        timer_.async_wait([self = shared_from_this(), generation](boost::system::error_code ec) {
            if (ec || generation != self->generation_ || self->finished_) {
                return;
            }
            self->armed_ = false;
            if (!self->watching_) {
                return;
            }
            clock::time_point now = clock::now();
            if (now >= self->deadline_) {
                self->writer_.abort();
            } else {
                self->arm(std::min(self->deadline_, now + self->state_->options.header_timeout));
            }
        });
    }

    void finish() {
        finished_ = true;
        timer_.cancel();
        unlink();
        if (--state_->active == 0 && state_->closing) {
            state_->drained.set();
        }
    }

    std::shared_ptr<server_state> state_;
    stream_reader reader_;
    stream_writer writer_;
    socket_address peer_;
    any_task task_;
    std::shared_ptr<upgraded_protocol> upgraded_;
    parser_type* parser_ = nullptr;
    phase phase_ = phase::header;
    bool body_failed_ = false;
    bool continue_sent_ = false;

    boost::asio::steady_timer timer_;
    clock::time_point deadline_;
    clock::time_point armed_at_;
    std::uint32_t generation_ = 0;
    bool watching_ = false;
    bool armed_ = false;
    bool finished_ = false;
};

} // namespace detail
} // namespace aio::http

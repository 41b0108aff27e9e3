// aio/http/client_session.hpp - client_session: HTTP requests over a pool of keep-alive
// connections (aiohttp.ClientSession with its TCPConnector).
#pragma once

#include <aio/awaitable.hpp>
#include <aio/error.hpp>
#include <aio/http/client_errors.hpp>
#include <aio/http/client_options.hpp>
#include <aio/http/client_response.hpp>
#include <aio/http/client_websocket.hpp>
#include <aio/http/detail/connection_pool.hpp>
#include <aio/http/detail/request_target.hpp>
#include <aio/http/detail/response_reader.hpp>
#include <aio/wait.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/beast/websocket/stream_base.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aio::http {

/// aiohttp.ClientSession: makes requests, keeping connections open between them for reuse
/// (HTTP/1.1 keep-alive; aiohttp's TCPConnector, with its limits). One session for many
/// requests, as in aiohttp: it owns the pool. Plain http only (no TLS). Loop-affine: use it
/// on one loop; its requests may run concurrently in any number of tasks.
///
///   aio::http::client_session session;
///   aio::http::client_response resp = co_await session.get("http://127.0.0.1:8080/");
///   std::string body = co_await resp.text();
///   co_await session.close();
///
/// Every request returns once the response's header is in (the body follows as the caller
/// reads it; see client_response), after following redirects unless told not to.
/// Errors, as aiohttp's: invalid_url (a URL that does not parse, no host, not http),
/// client_connector_error (connection refused, name not resolved), server_disconnected_error
/// (the server closed before answering), malformed_response_error (Beast rejected the
/// response, or a header limit), too_many_redirects, client_response_error (raise_for_status),
/// client_timeout_error (an aio::timeout_error naming the timeout and the URL).
/// The session must outlive the requests it is running (close() it once they are done, as an
/// aiohttp session is closed); responses may outlive it.
/// Cancellation of a request: throws cancelled_error; the request's connection is closed (the
/// server sees EOF), never returned to the pool, and its slot in the limits freed.
class client_session {
public:
    /// A session with `options` (aiohttp's defaults: limit 100, no per-host limit, keep-alive
    /// 15 s, total timeout 300 s). Needs no running loop.
    explicit client_session(client_session_options options = {})
        : options_(std::move(options)),
          pool_(std::make_shared<detail::connection_pool>(options_.limit, options_.limit_per_host,
                                                          options_.keepalive_timeout)) {
        pool_->set_tls(options_.ssl, options_.verify_ssl);
    }
    client_session(const client_session&) = delete;
    client_session& operator=(const client_session&) = delete;
    client_session(client_session&&) noexcept = default;
    client_session& operator=(client_session&&) noexcept = default;
    /// Closes the idle connections, as close() does.
    ~client_session() {
        if (pool_) {
            pool_->close();
        }
    }

    /// session.request(method, url, ...): sends `method` (any token; upper-cased as aiohttp
    /// does) to `url` with `options` (headers, params, one body, redirects, timeouts) and
    /// returns the response with its header read. Throws as the class comment says; with
    /// raise_for_status (session or request option), client_response_error on a status >= 400.
    /// Redirects (301, 302, 303, 307, 308 with a Location) are followed up to max_redirects:
    /// 303 (except for HEAD), and 301/302 of a POST, become GET without a body, as in aiohttp;
    /// 307 and 308 keep the method and body; Authorization is dropped when the origin changes.
    /// A redirect response's connection goes back to the pool if its body had arrived, else it
    /// is closed. A keep-alive connection the server closed while idle is retried once on a new
    /// connection for idempotent methods (aiohttp does the same).
    awaitable<client_response> request(std::string method, std::string url,
                                       request_options options = {});

    /// session.get(url, ...): request("GET", ...).
    awaitable<client_response> get(std::string url, request_options options = {}) {
        return request("GET", std::move(url), std::move(options));
    }
    /// session.post(url, ...): request("POST", ...).
    awaitable<client_response> post(std::string url, request_options options = {}) {
        return request("POST", std::move(url), std::move(options));
    }
    /// session.put(url, ...): request("PUT", ...).
    awaitable<client_response> put(std::string url, request_options options = {}) {
        return request("PUT", std::move(url), std::move(options));
    }
    /// session.patch(url, ...): request("PATCH", ...).
    awaitable<client_response> patch(std::string url, request_options options = {}) {
        return request("PATCH", std::move(url), std::move(options));
    }
    /// session.delete(url, ...) (a C++ keyword, hence the name): request("DELETE", ...).
    awaitable<client_response> del(std::string url, request_options options = {}) {
        return request("DELETE", std::move(url), std::move(options));
    }
    /// session.head(url, ...): request("HEAD", ...), following no redirect unless
    /// options.allow_redirects says so (aiohttp's head() defaults it to false).
    awaitable<client_response> head(std::string url, request_options options = {}) {
        options.allow_redirects = options.allow_redirects.value_or(false);
        return request("HEAD", std::move(url), std::move(options));
    }
    /// session.options(url, ...): request("OPTIONS", ...).
    awaitable<client_response> options(std::string url, request_options options = {}) {
        return request("OPTIONS", std::move(url), std::move(options));
    }

    /// session.ws_connect(url, ...): opens a WebSocket to `url` (ws:// or http://; wss:// or
    /// https:// over TLS, which needs <aio/net/tls.hpp> as https requests do) and returns
    /// its client end once the server has accepted the upgrade (101). The connection is made
    /// as for a request (the session's limits and connect timeout apply; its total timeout
    /// bounds the handshake) and never returns to the pool. Throws
    /// ws_server_handshake_error if the server refuses the upgrade (a status other than 101,
    /// or a bad handshake), and as request() does otherwise (invalid_url for wss:// in a
    /// program without TLS). Cancellation: throws cancelled_error; the connection is closed.
    awaitable<client_websocket> ws_connect(std::string url, ws_connect_options options = {});

    /// `await session.close()`: closes the idle connections now; the ones in use close when
    /// their responses let them go. Requests waiting for a connection, and later requests,
    /// throw client_connection_error. Idempotent; never throws; does not wait.
    awaitable<void> close() {
        pool_->close();
        co_return;
    }
    /// session.closed.
    bool closed() const noexcept { return pool_->closed(); }

    /// Connections open now (in use, idle, or being connected), and those idle.
    std::size_t connection_count() const noexcept { return pool_->size(); }
    std::size_t idle_connection_count() const noexcept { return pool_->idle(); }
    /// Requests waiting for a connection because the limits are reached.
    std::size_t waiting_request_count() const noexcept { return pool_->waiting(); }

    const client_session_options& session_options() const noexcept { return options_; }

private:
    using time_point = std::chrono::steady_clock::time_point;

    /// What one request sends, kept across redirects.
    struct outgoing {
        std::string method;
        detail::request_target target;
        boost::beast::http::fields headers;
        std::optional<std::string> body;
    };

    awaitable<client_response> send_once(const outgoing& out, const client_timeout& timeouts,
                                         std::optional<time_point> deadline);
    awaitable<detail::connection_lease> connect(const detail::endpoint& to, const std::string& url,
                                                const client_timeout& timeouts,
                                                std::optional<time_point> deadline);
    std::string serialize(const outgoing& out) const;
    void set_body(outgoing& out, request_options& options) const;

    client_session_options options_;
    std::shared_ptr<detail::connection_pool> pool_;
};

namespace detail {
inline bool is_redirect(unsigned status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}
/// A header a caller gives: no CR, LF or NUL that would end it early and smuggle another.
inline void check_header(std::string_view name, std::string_view value) {
    auto bad = [](std::string_view text) {
        return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
    };
    if (name.empty() || bad(name) || bad(value)) {
        throw std::invalid_argument("aio::http: invalid header '" + std::string(name) + "'");
    }
}
inline bool is_idempotent(std::string_view method) {
    return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "PUT" ||
           method == "DELETE" || method == "TRACE";
}
} // namespace detail

inline awaitable<client_response> client_session::request(std::string method, std::string url,
                                                          request_options options) {
    if (pool_->closed()) {
        throw client_connection_error("aio::http: the session is closed");
    }
    client_timeout timeouts = options.timeout.value_or(options_.timeout);
    std::optional<time_point> deadline;
    if (timeouts.total) {
        deadline = std::chrono::steady_clock::now() + *timeouts.total;
    }
    outgoing out;
    out.method = std::move(method);
    std::transform(out.method.begin(), out.method.end(), out.method.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    out.target = detail::request_target::parse(url, options.params);
    for (const auto& [name, value] : options_.headers) {
        detail::check_header(name, value);
        out.headers.set(name, value);
    }
    for (const auto& [name, value] : options.headers) {
        detail::check_header(name, value);
        out.headers.erase(name);
    }
    for (const auto& [name, value] : options.headers) {
        out.headers.insert(name, value);
    }
    set_body(out, options);
    bool raise = options.raise_for_status.value_or(options_.raise_for_status);

    std::vector<redirect_record> history;
    for (;;) {
        client_response resp = co_await send_once(out, timeouts, deadline);
        std::string_view location = resp.headers()[boost::beast::http::field::location];
        if (!options.allow_redirects.value_or(true) || !detail::is_redirect(resp.status()) ||
            location.empty()) {
            resp.history_ = std::move(history);
            if (raise) {
                resp.raise_for_status();
            }
            co_return resp;
        }
        unsigned status = resp.status();
        history.push_back({status, out.target.url()});
        if (history.size() > options.max_redirects) {
            throw too_many_redirects(
                status, "too many redirects (" + std::to_string(options.max_redirects) + ")",
                out.target.url());
        }
        detail::request_target next = out.target.redirect(location);
        resp.release();
        if ((status == 303 && out.method != "HEAD") ||
            ((status == 301 || status == 302) && out.method == "POST")) {
            out.method = "GET";
            out.body.reset();
            out.headers.erase(boost::beast::http::field::content_length);
            out.headers.erase(boost::beast::http::field::content_type);
        }
        if (!next.same_origin(out.target)) {
            out.headers.erase(boost::beast::http::field::authorization);
        }
        out.target = std::move(next);
    }
}

inline awaitable<client_response> client_session::send_once(const outgoing& out,
                                                            const client_timeout& timeouts,
                                                            std::optional<time_point> deadline) {
    std::string wire = serialize(out);
    detail::header_limits limits{options_.max_line_size, options_.max_field_size,
                                 options_.max_headers};
    for (bool retried = false;; retried = true) {
        detail::connection_lease lease =
            co_await connect(out.target.connect_to(), out.target.url(), timeouts, deadline);
        bool may_retry = lease->reused && !retried && detail::is_idempotent(out.method);
        stream_writer writer = lease->writer;
        auto reader = std::make_unique<detail::response_reader>(std::move(lease), out.target.url(),
                                                                out.method == "HEAD", deadline,
                                                                timeouts.sock_read, limits);
        try {
            try {
                writer.write(std::string(wire));
            } catch (const boost::system::system_error& e) {
                throw server_disconnected_error("aio::http: connection lost (" +
                                                std::string(e.what()) + "), url='" +
                                                out.target.url() + "'");
            }
            if (writer.write_buffer_size() > writer.write_buffer_limits().second) {
                if (deadline) {
                    co_await aio::timeout_at(*deadline, writer.drain());
                } else {
                    co_await writer.drain();
                }
            }
            co_await reader->read_header();
        } catch (const server_disconnected_error&) {
            if (!may_retry || reader->received_any()) {
                throw;
            }
            continue;
        } catch (const aio::timeout_error& e) {
            if (dynamic_cast<const client_timeout_error*>(&e)) {
                throw;
            }
            throw client_timeout_error("total", out.target.url());
        }
        co_return client_response(std::move(reader), out.method);
    }
}

inline awaitable<detail::connection_lease>
client_session::connect(const detail::endpoint& to, const std::string& url,
                        const client_timeout& timeouts, std::optional<time_point> deadline) {
    std::string key = to.key();
    if (std::optional<detail::pooled_connection> idle = pool_->take_idle(key)) {
        co_return detail::connection_lease(pool_, std::move(*idle));
    }
    std::optional<time_point> when = deadline;
    const char* which = "total";
    if (timeouts.connect) {
        time_point connect_by = std::chrono::steady_clock::now() + *timeouts.connect;
        if (!when || connect_by < *when) {
            when = connect_by;
            which = "connect";
        }
    }
    // The lease is made inside the work: a connection it got just as the deadline passed is
    // closed with the work's result, never left counted against the limits.
    auto work = [pool = pool_, to, key]() -> awaitable<detail::connection_lease> {
        detail::pooled_connection c = co_await pool->acquire_slow(to, key);
        co_return detail::connection_lease(pool, std::move(c));
    };
    detail::connection_lease lease;
    if (!when) {
        lease = co_await work();
        co_return lease;
    }
    try {
        lease = co_await aio::timeout_at(*when, std::move(work));
    } catch (const aio::timeout_error&) {
        throw client_timeout_error(which, url);
    }
    co_return lease;
}

inline awaitable<client_websocket> client_session::ws_connect(std::string url,
                                                              ws_connect_options options) {
    namespace bw = boost::beast::websocket;
    if (pool_->closed()) {
        throw client_connection_error("aio::http: the session is closed");
    }
    std::string as_http = url;
    if (as_http.starts_with("ws://")) {
        as_http.replace(0, 2, "http");
    } else if (as_http.starts_with("wss://")) {
        as_http.replace(0, 3, "https");
    }
    detail::request_target target = detail::request_target::parse(as_http, options.params);
    boost::beast::http::fields headers;
    for (const auto& list : {options_.headers, options.headers}) {
        for (const auto& [name, value] : list) {
            detail::check_header(name, value);
            headers.set(name, value);
        }
    }
    client_timeout timeouts = options_.timeout;
    std::optional<time_point> deadline;
    if (timeouts.total) {
        deadline = std::chrono::steady_clock::now() + *timeouts.total;
    }
    detail::connection_lease lease = co_await connect(target.connect_to(), url, timeouts, deadline);
    auto core = std::make_shared<detail::ws_core>(lease->reader, lease->writer, options.websocket);
    core->ws.set_option(bw::stream_base::decorator([headers](bw::request_type& req) {
        req.set(boost::beast::http::field::user_agent, "aio-http/0.1");
        for (const auto& field : headers) {
            req.set(field.name_string(), field.value());
        }
    }));
    struct outcome {
        boost::system::error_code ec;
        bw::response_type res;
    };
    auto handshake = [core, host = target.host_header(),
                      path = target.target()]() -> awaitable<outcome> {
        outcome out;
        co_await core->ws.async_handshake(
            out.res, host, path, boost::asio::redirect_error(boost::asio::use_awaitable, out.ec));
        co_return out;
    };
    outcome done;
    try {
        if (deadline) {
            done = co_await aio::timeout_at(*deadline, std::move(handshake));
        } else {
            done = co_await handshake();
        }
    } catch (const aio::timeout_error&) {
        throw client_timeout_error("total", url);
    }
    if (done.ec == boost::asio::error::operation_aborted) {
        throw cancelled_error();
    }
    if (done.ec) {
        unsigned status = done.res.result_int();
        if (status == 0 &&
            done.ec.category() != bw::make_error_code(bw::error::closed).category()) {
            throw server_disconnected_error("aio::http: connection lost during the WebSocket "
                                            "handshake (" +
                                            done.ec.message() + "), url='" + url + "'");
        }
        throw ws_server_handshake_error(status,
                                        status != 101 ? "Invalid response status"
                                                      : "Invalid handshake: " + done.ec.message(),
                                        url);
    }
    co_return client_websocket(std::move(core), std::move(lease));
}

inline void client_session::set_body(outgoing& out, request_options& options) const {
    namespace bh = boost::beast::http;
    int given = options.data.has_value() + options.text.has_value() + options.form.has_value() +
                options.json.has_value();
    if (given > 1) {
        throw std::invalid_argument(
            "aio::http: a request takes one body: data, text, form or json");
    }
    std::string_view type;
    if (options.data) {
        out.body = std::move(*options.data);
        type = "application/octet-stream";
    } else if (options.text) {
        out.body = std::move(*options.text);
        type = "text/plain; charset=utf-8";
    } else if (options.form) {
        out.body = detail::form_urlencode(*options.form);
        type = "application/x-www-form-urlencoded";
    } else if (options.json) {
        out.body = boost::json::serialize(*options.json);
        type = "application/json";
    }
    if (out.body && out.headers.find(bh::field::content_type) == out.headers.end()) {
        out.headers.set(bh::field::content_type, type);
    }
}

inline std::string client_session::serialize(const outgoing& out) const {
    namespace bh = boost::beast::http;
    bh::request<bh::string_body> req;
    bh::verb verb = bh::string_to_verb(out.method);
    if (verb == bh::verb::unknown) {
        req.method_string(out.method);
    } else {
        req.method(verb);
    }
    req.target(out.target.target());
    req.version(11);
    req.set(bh::field::host, out.target.host_header());
    req.set(bh::field::user_agent, "aio-http/0.1");
    req.set(bh::field::accept, "*/*");
    for (const auto& field : out.headers) { // the caller's headers replace the defaults
        req.erase(field.name_string());
    }
    for (const auto& field : out.headers) {
        req.insert(field.name_string(), field.value());
    }
    if (out.body) {
        req.body() = *out.body;
    }
    req.prepare_payload();
    std::string wire;
    bh::serializer<true, bh::string_body> sr(req);
    boost::beast::error_code ec;
    while (!sr.is_done()) {
        sr.next(ec, [&](boost::beast::error_code&, const auto& buffers) {
            std::size_t n = boost::asio::buffer_size(buffers);
            std::size_t at = wire.size();
            wire.resize(at + n);
            boost::asio::buffer_copy(boost::asio::buffer(wire.data() + at, n), buffers);
            sr.consume(n);
        });
        if (ec) {
            throw std::runtime_error("aio::http: cannot serialize the request: " + ec.message());
        }
    }
    return wire;
}

} // namespace aio::http

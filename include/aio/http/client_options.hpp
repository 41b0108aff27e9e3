// aio/http/client_options.hpp - the settings of a client_session and of one request
// (aiohttp's ClientTimeout, TCPConnector and request arguments).
#pragma once

#include <aio/net/detail/tls_layer.hpp>

#include <boost/json/value.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace aio::http {

/// Name-value pairs, in order, repeats allowed: request headers, query parameters, form fields.
using name_value_list = std::vector<std::pair<std::string, std::string>>;

/// aiohttp.ClientTimeout. An empty optional means no limit. Each expiry throws
/// client_timeout_error naming the timeout and the URL, and closes the request's connection.
struct client_timeout {
    using duration = std::chrono::steady_clock::duration;
    /// The whole request: connecting, sending, the response's header and reading its body
    /// (aiohttp's total, 300 s).
    std::optional<duration> total = std::chrono::seconds(300);
    /// Getting a connection: waiting for a free one in the pool and connecting (aiohttp's
    /// connect, which aiohttp leaves unset; aio sets it to 30 s as aiohttp's sock_connect).
    std::optional<duration> connect = std::chrono::seconds(30);
    /// Each wait for bytes from the server (aiohttp's sock_read, none by default).
    std::optional<duration> sock_read{};
};

/// A client_session's settings (aiohttp's ClientSession arguments and TCPConnector's).
struct client_session_options {
    client_timeout timeout{};
    /// Connections open at once, over all hosts (TCPConnector's limit, 100); 0: no limit.
    /// Requests past it wait for a connection to come back or close.
    std::size_t limit = 100;
    /// Connections open at once to one host:port (TCPConnector's limit_per_host); 0: no limit.
    std::size_t limit_per_host = 0;
    /// How long an idle connection is kept for reuse (TCPConnector's keepalive_timeout, 15 s).
    std::chrono::steady_clock::duration keepalive_timeout = std::chrono::seconds(15);
    /// Headers sent with every request (ClientSession's headers); a request's own override.
    name_value_list headers{};
    /// raise_for_status() on every response (ClientSession's raise_for_status).
    bool raise_for_status = false;
    /// Response header limits (aiohttp's max_line_size, max_field_size, max_headers): the status
    /// line, and each header line ("Name: value"), at most these bytes; at most max_headers
    /// headers. Past them: malformed_response_error.
    std::size_t max_line_size = 8190;
    std::size_t max_field_size = 8190;
    std::size_t max_headers = 128;
    /// TLS for https URLs (aiohttp's ssl=ctx): a client context, e.g.
    /// `aio::create_default_context(aio::ssl_purpose::server_auth, "ca.pem")` from
    /// <aio/net/tls.hpp>. Null: the default context (the system's CA store, host name checked).
    std::shared_ptr<const aio::detail::tls_context> ssl{};
    /// False: https without verifying the server's certificate (aiohttp's ssl=False), when
    /// `ssl` is null.
    bool verify_ssl = true;
};

/// One request's arguments (aiohttp's session.request keyword arguments). At most one body:
/// `data` (bytes, application/octet-stream), `text` (text/plain; charset=utf-8), `form`
/// (application/x-www-form-urlencoded) or `json` (application/json, Boost.JSON); a
/// Content-Type among `headers` wins over these.
struct request_options {
    name_value_list headers{};
    /// Query parameters, percent-encoded and appended to the URL's own query (aiohttp's params).
    name_value_list params{};
    std::optional<std::string> data{};
    std::optional<std::string> text{};
    std::optional<name_value_list> form{};
    std::optional<boost::json::value> json{};
    /// Follow 301, 302, 303, 307 and 308 (aiohttp's allow_redirects). Unset: true, but false
    /// for head(), as aiohttp's defaults are.
    std::optional<bool> allow_redirects{};
    /// Redirects followed at most, then too_many_redirects (aiohttp's max_redirects, 10).
    std::size_t max_redirects = 10;
    /// This request's timeouts instead of the session's.
    std::optional<client_timeout> timeout{};
    /// raise_for_status() on the response, whatever the session's setting says.
    std::optional<bool> raise_for_status{};
};

} // namespace aio::http

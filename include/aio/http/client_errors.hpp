// aio/http/client_errors.hpp - what aio::http's client throws (aiohttp's client exceptions).
#pragma once

#include <aio/error.hpp>

#include <boost/system/errc.hpp>
#include <boost/system/error_code.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

namespace aio::http {

/// aiohttp.ClientError: the base of every error the client throws about a request, except
/// timeouts (client_timeout_error, an aio::timeout_error as aiohttp's are asyncio's) and
/// cancellation (aio::cancelled_error).
class client_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// aiohttp.InvalidURL: a URL that does not parse, lacks a host, or names a scheme other than
/// http and https (https only in a program that includes <aio/net/tls.hpp>). url() is the URL
/// as given.
class invalid_url : public client_error {
public:
    invalid_url(std::string url, const std::string& why)
        : client_error("aio::http: invalid URL '" + url + "': " + why), url_(std::move(url)) {}
    const std::string& url() const noexcept { return url_; }

private:
    std::string url_;
};

/// aiohttp.ClientConnectionError: the connection failed or was lost.
class client_connection_error : public client_error {
public:
    using client_error::client_error;
};

/// aiohttp.ClientConnectorError: connecting to host:port failed (refused, unreachable, a name
/// that does not resolve). The system's error is in code().
class client_connector_error : public client_connection_error {
public:
    client_connector_error(std::string host, std::uint16_t port, boost::system::error_code code,
                           const std::string& why)
        : client_connection_error("aio::http: cannot connect to " + host + ":" +
                                  std::to_string(port) + ": " + why),
          host_(std::move(host)), port_(port), code_(code) {}
    const std::string& host() const noexcept { return host_; }
    std::uint16_t port() const noexcept { return port_; }
    boost::system::error_code code() const noexcept { return code_; }

private:
    std::string host_;
    std::uint16_t port_;
    boost::system::error_code code_;
};

/// aiohttp.ClientSSLError (ClientConnectorSSLError): the TLS handshake with host:port failed
/// (a server that does not speak TLS, no protocol or cipher in common). what() holds the TLS
/// library's reason.
class client_ssl_error : public client_connector_error {
public:
    client_ssl_error(std::string host, std::uint16_t port, const std::string& why)
        : client_connector_error(
              std::move(host), port,
              boost::system::errc::make_error_code(boost::system::errc::protocol_error), why) {}
};

/// aiohttp.ClientConnectorCertificateError: the server's certificate did not verify (an
/// unknown CA, another host's name, expired); what() says "certificate verify failed: ...".
class client_connector_certificate_error : public client_ssl_error {
public:
    using client_ssl_error::client_ssl_error;
};

/// aiohttp.ServerDisconnectedError: the server closed the connection (or it was reset) before
/// the response's header arrived.
class server_disconnected_error : public client_connection_error {
public:
    using client_connection_error::client_connection_error;
};

/// aiohttp.ClientPayloadError: the response's body was cut short (the connection ended
/// mid-body) or its chunked framing is broken.
class client_payload_error : public client_error {
public:
    using client_error::client_error;
};

/// aiohttp.ClientResponseError: a response the client refuses - raise_for_status() on a 4xx or
/// 5xx status, too many redirects, a body that is not of the content type asked for.
/// status() is the response's status (0 when none was parsed).
class client_response_error : public client_error {
public:
    client_response_error(unsigned status, const std::string& message, std::string url)
        : client_error("aio::http: " + (status ? std::to_string(status) + ", " : std::string()) +
                       message + ", url='" + url + "'"),
          status_(status), url_(std::move(url)) {}
    unsigned status() const noexcept { return status_; }
    const std::string& url() const noexcept { return url_; }

private:
    unsigned status_;
    std::string url_;
};

/// aiohttp.TooManyRedirects: more redirects than max_redirects in a row.
class too_many_redirects : public client_response_error {
public:
    using client_response_error::client_response_error;
};

/// aiohttp.WSServerHandshakeError: ws_connect's upgrade was refused - the server answered
/// with a status other than 101 (status() tells it), or its 101 is not a valid WebSocket
/// handshake (a wrong Sec-WebSocket-Accept, no Upgrade header; status() is 101).
class ws_server_handshake_error : public client_response_error {
public:
    using client_response_error::client_response_error;
};

/// aiohttp.ContentTypeError: json() on a response whose Content-Type is not JSON.
class content_type_error : public client_response_error {
public:
    using client_response_error::client_response_error;
};

/// A response that is not valid HTTP/1.x (Beast's parser rejected it) or breaks a header limit
/// (aiohttp raises ClientResponseError from its parser's BadHttpMessage / LineTooLong). The
/// connection is closed.
class malformed_response_error : public client_response_error {
public:
    using client_response_error::client_response_error;
};

/// A timeout of client_timeout expired (aiohttp raises asyncio.TimeoutError, ServerTimeoutError
/// for sock_read): an aio::timeout_error whose what() names the timeout and the URL. The
/// request's connection is closed.
class client_timeout_error : public aio::timeout_error {
public:
    client_timeout_error(std::string which, std::string url)
        : message_("aio::http: " + which + " timeout expired, url='" + url + "'"),
          which_(std::move(which)), url_(std::move(url)) {}
    const char* what() const noexcept override { return message_.c_str(); }
    /// "total", "connect" or "sock_read".
    const std::string& which() const noexcept { return which_; }
    const std::string& url() const noexcept { return url_; }

private:
    std::string message_;
    std::string which_;
    std::string url_;
};

} // namespace aio::http

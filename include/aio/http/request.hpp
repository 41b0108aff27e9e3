// aio/http/request.hpp - the request a handler gets (aiohttp's web.Request).
#pragma once

#include <aio/awaitable.hpp>
#include <aio/generator.hpp>
#include <aio/http/detail/body_source.hpp>
#include <aio/http/response.hpp>
#include <aio/net/socket_address.hpp>

#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/url/encoding_opts.hpp>
#include <boost/url/params_view.hpp>
#include <boost/url/parse_query.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aio::http {

/// Request methods (Beast's enum: verb::get, verb::post, ...).
using verb = boost::beast::http::verb;

/// One request being served (aiohttp's web.Request): its method, target, header fields and
/// path parameters, and its body, read on demand. Handlers and middlewares get it by
/// reference; it lives until the response is sent. Not copyable. Loop-affine.
///
/// The body is read from the connection as the handler asks for it: read(), text(), json()
/// or chunks(), once (a second read gets what is left: nothing). A body the handler does not
/// read is read and dropped by the server before the next request on the connection.
/// Reading it throws http_error(413) past the server's client_max_size, http_error(400) if it
/// is malformed or cut short; the server answers with that status and closes the connection.
/// Cancellation of a read: throws cancelled_error; the connection is closed after the
/// handler (the rest of the body cannot be told from the next request any more).
class request {
public:
    /// The parsed message: its header, and a body buffer the server fills.
    using header_type = boost::beast::http::request<boost::beast::http::buffer_body>;

    request(const header_type& header, std::string path, std::string_view query,
            const socket_address& peer, detail::body_source& body)
        : header_(&header), path_(std::move(path)), query_(query), peer_(&peer), body_(&body) {}
    // query_ is a copy: Boost.URL 1.81's parse_query measures its input with strlen, so it
    // must end with a NUL, which the target inside Beast's fields does not.
    request(const request&) = delete;
    request& operator=(const request&) = delete;

    /// The method (aiohttp's method, as an enum); verb::unknown for a method Beast does not
    /// know (method_string() then tells it).
    verb method() const noexcept { return header_->method(); }
    /// The method as sent, e.g. "GET".
    std::string_view method_string() const { return header_->method_string(); }
    /// The request target as sent: path and query, still percent-encoded (aiohttp's
    /// raw_path... plus the query: rel_url as a string).
    std::string_view target() const { return header_->target(); }
    /// The path, percent-decoded (aiohttp's path).
    const std::string& path() const noexcept { return path_; }
    /// The query string as sent, without '?' (aiohttp's query_string).
    std::string_view query_string() const noexcept { return query_; }
    /// The query's parameters, decoded ('+' as a space), in order, repeats kept (aiohttp's
    /// query, a MultiDictProxy): `for (auto p : req.query()) use(p.key, p.value)`. A query that
    /// is not valid percent-encoding throws http_error(400).
    boost::urls::params_view query() const {
        if (!boost::urls::parse_query(query_)) {
            throw http_error(status::bad_request, "malformed query string");
        }
        boost::urls::encoding_opts options;
        options.space_as_plus = true;
        return boost::urls::params_view(query_, options);
    }
    /// The first value of the query parameter `key`, or nothing (aiohttp's query.get(key)).
    /// Throws as query().
    std::optional<std::string> query(std::string_view key) const {
        boost::urls::params_view params = query();
        auto it = params.find(key);
        if (it == params.end()) {
            return std::nullopt;
        }
        return std::string((*it).value);
    }

    /// The header fields (aiohttp's headers): `req.headers()["Content-Type"]` (empty if
    /// absent), case-insensitive.
    const fields& headers() const noexcept { return *header_; }
    /// The HTTP version: 11 for HTTP/1.1, 10 for HTTP/1.0 (aiohttp's version).
    unsigned version() const noexcept { return header_->version(); }
    /// True if the client asked to keep the connection open (aiohttp's keep_alive).
    bool keep_alive() const { return header_->keep_alive(); }
    /// The Content-Length the client sent, if any (aiohttp's content_length).
    std::optional<std::uint64_t> content_length() const {
        auto it = header_->find(field::content_length);
        if (it == header_->end()) {
            return std::nullopt;
        }
        return std::stoull(std::string(it->value()));
    }
    /// True if the request has a body (Content-Length above 0, or chunked; aiohttp's
    /// body_exists).
    bool has_body() const { return header_->chunked() || content_length().value_or(0) > 0; }

    /// The value of the path parameter `name` of the route that matched (aiohttp's
    /// match_info[name]), decoded. Throws std::out_of_range if the route has no such
    /// parameter.
    std::string_view match_info(std::string_view name) const {
        for (const auto& [key, value] : match_) {
            if (key == name) {
                return value;
            }
        }
        throw std::out_of_range("aio.http: the route has no path parameter {" + std::string(name) +
                                "}");
    }
    /// Every path parameter, in the order of the route's pattern.
    const std::vector<std::pair<std::string_view, std::string_view>>& match_infos() const noexcept {
        return match_;
    }

    /// The client's address (aiohttp's transport.get_extra_info("peername"); remote is its
    /// host).
    const socket_address& peername() const noexcept { return *peer_; }

    /// The whole body (aiohttp's read()). Throws http_error(413) past client_max_size,
    /// http_error(400) if malformed or cut short. Cancellation: see the class comment.
    awaitable<std::string> read() {
        std::string out;
        while (co_await body_->read_some(out) != 0) {
        }
        co_return out;
    }
    /// The whole body as text (aiohttp's text()); the same bytes as read(): aio does not
    /// transcode (UTF-8 is assumed).
    awaitable<std::string> text() { return read(); }
    /// The body parsed as JSON (aiohttp's json()). Throws http_error(400) if it is not JSON
    /// (aiohttp lets the JSONDecodeError out, a 500), and as read().
    awaitable<boost::json::value> json() {
        std::string body = co_await read();
        boost::system::error_code ec;
        boost::json::value value = boost::json::parse(body, ec);
        if (ec) {
            throw http_error(status::bad_request, "the body is not JSON: " + ec.message());
        }
        co_return value;
    }
    /// The body's pieces as they arrive, without holding all of it (aiohttp's
    /// content.iter_any()): `auto c = req.chunks(); while (auto piece = co_await c.next())`.
    /// The request must outlive the generator. Errors as read().
    generator<std::string> chunks() { return detail::body_chunks(body_); }

    /// For websocket_response::prepare(): hands the connection over to `protocol` and returns
    /// its streams (see detail::body_source::take_over). The handler's response is then
    /// ignored. Throws std::logic_error if it was already taken over.
    detail::taken_over_streams take_over(std::shared_ptr<detail::upgraded_protocol> protocol) {
        return body_->take_over(std::move(protocol));
    }

    /// For the router: records the path parameters (views into the route and path()).
    void set_match(std::vector<std::pair<std::string_view, std::string_view>> match) {
        match_ = std::move(match);
    }

private:
    const header_type* header_;
    std::string path_;
    std::string query_;
    std::vector<std::pair<std::string_view, std::string_view>> match_;
    const socket_address* peer_;
    detail::body_source* body_;
};

} // namespace aio::http

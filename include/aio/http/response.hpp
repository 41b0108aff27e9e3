// aio/http/response.hpp - what a handler returns (aiohttp's web.Response, web.json_response,
// web.StreamResponse) and the exception that becomes an error response (web.HTTPException).
#pragma once

#include <aio/generator.hpp>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace aio::http {

/// HTTP status codes (Beast's enum: status::ok, status::not_found, ...; aiohttp's web.HTTPOk,
/// web.HTTPNotFound, ... as codes).
using status = boost::beast::http::status;
/// Header fields (Beast's: case-insensitive names, several values per name allowed).
using fields = boost::beast::http::fields;
/// Well-known header names (field::content_type, ...); fields also take any string name.
using field = boost::beast::http::field;

/// A response (aiohttp's web.Response / web.StreamResponse): a status, a reason phrase, header
/// fields, and a body that is either a string (sent with Content-Length) or a generator of
/// chunks (sent with chunked transfer encoding as they are yielded: web.StreamResponse, e.g.
/// Server-Sent Events). Move-only (a streamed body is a generator). The server adds
/// Content-Length or Transfer-Encoding, Connection and Date; fields the handler set win,
/// except those three.
class response {
public:
    /// An empty 200 OK (or `code`) response (aiohttp's web.Response()).
    explicit response(status code = status::ok) : status_(code) {}

    /// A text response (aiohttp's web.Response(text=...)): Content-Type `content_type`
    /// (text/plain; charset=utf-8 by default).
    static response text(std::string body, status code = status::ok,
                         std::string_view content_type = "text/plain; charset=utf-8") {
        response r(code);
        r.fields_.set(field::content_type, content_type);
        r.body_ = std::move(body);
        return r;
    }

    /// A JSON response (aiohttp's web.json_response): `value` serialized, Content-Type
    /// application/json.
    static response json(const boost::json::value& value, status code = status::ok) {
        response r(code);
        r.fields_.set(field::content_type, "application/json");
        r.body_ = boost::json::serialize(value);
        return r;
    }

    /// A streamed response (aiohttp's web.StreamResponse with write()): each string `body`
    /// yields is sent as one chunk as soon as it is yielded (HTTP/1.0 clients get the bytes
    /// unframed and the connection closes after). An error the generator throws once the
    /// header is sent is reported and aborts the connection (the client sees a truncated
    /// body); the generator is closed when the client goes away or the server is cancelled.
    static response stream(generator<std::string> body, status code = status::ok,
                           std::string_view content_type = "application/octet-stream") {
        response r(code);
        r.fields_.set(field::content_type, content_type);
        r.stream_.emplace(std::move(body));
        return r;
    }

    /// The status code (aiohttp's status).
    status code() const noexcept { return status_; }
    /// Sets the status code (aiohttp's set_status).
    void set_code(status code) noexcept { status_ = code; }
    /// The reason phrase: the one set, else the standard one for the code (aiohttp's reason).
    std::string_view reason() const {
        return reason_ ? std::string_view(*reason_)
                       : std::string_view(boost::beast::http::obsolete_reason(status_));
    }
    /// Sets the reason phrase sent in the status line.
    void set_reason(std::string reason) { reason_ = std::move(reason); }

    /// The header fields (aiohttp's headers), to read or set: `r.headers().set("X-A", "1")`.
    fields& headers() noexcept { return fields_; }
    const fields& headers() const noexcept { return fields_; }

    /// The body of a non-streamed response (aiohttp's body / text).
    std::string& body() noexcept { return body_; }
    const std::string& body() const noexcept { return body_; }
    /// The chunks of a streamed response, or nullptr.
    generator<std::string>* stream() noexcept { return stream_ ? &*stream_ : nullptr; }

    /// Asks the server to close the connection after this response (aiohttp's force_close).
    void force_close() noexcept { close_ = true; }
    /// True if force_close() was called.
    bool closes() const noexcept { return close_; }

private:
    status status_;
    std::optional<std::string> reason_;
    fields fields_;
    std::string body_;
    std::optional<generator<std::string>> stream_;
    bool close_ = false;
};

/// Thrown by a handler or a middleware (or by request::read() and friends) to answer with an
/// error status instead of a 500 (aiohttp's web.HTTPException family: raise
/// web.HTTPNotFound()). The server answers `code()` with `what()` as a text body; it is not
/// reported. Middlewares see it go by, as aiohttp's do. Without a text, the text is aiohttp's
/// default, the code and its reason: "404: Not Found".
class http_error : public std::runtime_error {
public:
    explicit http_error(status code, std::string text = {})
        : std::runtime_error(text.empty() ? default_text(code) : std::move(text)), status_(code) {}

    /// The status the server answers with.
    status code() const noexcept { return status_; }
    /// Header fields to send with the error response (e.g. Allow with a 405, as aiohttp's
    /// HTTPMethodNotAllowed sends).
    fields& headers() noexcept { return fields_; }
    const fields& headers() const noexcept { return fields_; }

    /// The error response: `code()` with what() as text/plain, and headers().
    response to_response() const {
        response r = response::text(what(), status_);
        for (const auto& f : fields_) {
            r.headers().insert(f.name_string(), f.value());
        }
        return r;
    }

private:
    static std::string default_text(status code) {
        return std::to_string(static_cast<unsigned>(code)) + ": " +
               std::string(boost::beast::http::obsolete_reason(code));
    }

    status status_;
    fields fields_;
};

} // namespace aio::http

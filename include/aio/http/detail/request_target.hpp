// aio/http/detail/request_target.hpp - a request's URL, parsed and checked with Boost.URL:
// where to connect, the request target, the Host header, redirects resolved against it; and
// form encoding.
#pragma once

#include <aio/http/client_errors.hpp>
#include <aio/http/client_options.hpp>
#include <aio/http/detail/connection_pool.hpp>

#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <boost/url/url.hpp>

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace aio::http::detail {

/// Percent-encodes name-value pairs as application/x-www-form-urlencoded ("a=1&b=x%20y"):
/// everything but RFC 3986's unreserved characters is escaped, so '+', '&' and '=' in a value
/// survive.
inline std::string form_urlencode(const name_value_list& pairs) {
    std::string out;
    for (const auto& [name, value] : pairs) {
        if (!out.empty()) {
            out += '&';
        }
        out += boost::urls::encode(name, boost::urls::unreserved_chars);
        out += '=';
        out += boost::urls::encode(value, boost::urls::unreserved_chars);
    }
    return out;
}

/// An absolute http or https URL, checked: it has a host and a valid port.
class request_target {
public:
    request_target() = default;

    /// Parses `text` and appends `params` to its query. Throws invalid_url.
    static request_target parse(std::string_view text, const name_value_list& params = {}) {
        auto parsed = boost::urls::parse_uri(text);
        if (!parsed) {
            throw invalid_url(std::string(text), parsed.error().message());
        }
        request_target t;
        t.url_ = *parsed;
        if (!params.empty()) {
            std::string query(t.url_.encoded_query());
            std::string extra = form_urlencode(params);
            t.url_.set_encoded_query(query.empty() ? extra : query + "&" + extra);
        }
        t.check(std::string(text));
        return t;
    }

    /// The target a redirect's Location names, resolved against this URL. Throws invalid_url.
    request_target redirect(std::string_view location) const {
        auto ref = boost::urls::parse_uri_reference(location);
        if (!ref) {
            throw invalid_url(std::string(location),
                              "bad redirect Location: " + ref.error().message());
        }
        request_target t;
        auto resolved = boost::urls::resolve(url_, *ref, t.url_);
        if (!resolved) {
            throw invalid_url(std::string(location),
                              "bad redirect Location: " + resolved.error().message());
        }
        t.check(std::string(location));
        return t;
    }

    /// Where to connect.
    const endpoint& connect_to() const noexcept { return endpoint_; }
    /// The request target: path and query ("/" when the path is empty), no fragment.
    std::string target() const {
        std::string path(url_.encoded_path());
        std::string out = path.empty() ? "/" : path;
        if (url_.has_query()) {
            out += '?';
            out += url_.encoded_query();
        }
        return out;
    }
    /// The Host header: the host, and the port unless it is 80.
    std::string host_header() const {
        std::string host(url_.encoded_host_and_port());
        return host;
    }
    /// The URL without its fragment, as text.
    const std::string& url() const noexcept { return text_; }
    bool same_origin(const request_target& other) const {
        return endpoint_.host == other.endpoint_.host && endpoint_.port == other.endpoint_.port &&
               endpoint_.tls == other.endpoint_.tls;
    }

private:
    void check(const std::string& given) {
        bool tls = url_.scheme_id() == boost::urls::scheme::https;
        if (tls && aio::detail::default_client_tls == nullptr) {
            throw invalid_url(given, "https needs TLS: include <aio/net/tls.hpp> and link "
                                     "OpenSSL (CMake: aio::tls)");
        }
        if (!tls && url_.scheme_id() != boost::urls::scheme::http) {
            throw invalid_url(given, "not an http or https URL");
        }
        if (url_.encoded_host().empty()) {
            throw invalid_url(given, "no host");
        }
        std::uint16_t port = tls ? 443 : 80;
        if (url_.has_port()) {
            // port_number() wraps numbers past 65535: read the digits here.
            std::string_view digits = url_.port();
            unsigned long value = 0;
            auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
            if (ec != std::errc() || end != digits.data() + digits.size() || value == 0 ||
                value > 65535) {
                throw invalid_url(given, "bad port '" + std::string(digits) + "'");
            }
            port = static_cast<std::uint16_t>(value);
        }
        endpoint_ = {url_.host_address(), port, tls};
        url_.remove_fragment();
        text_ = std::string(url_.buffer());
    }

    boost::urls::url url_;
    endpoint endpoint_;
    std::string text_;
};

} // namespace aio::http::detail

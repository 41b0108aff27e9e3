// aio/http/detail/wire.hpp - the small pieces of HTTP/1.1's text that the server writes and
// reads itself: a request target split into path and query, the Date header's value, a
// response's head formatted from Beast's fields.
#pragma once

#include <aio/http/response.hpp>

#include <boost/url/parse.hpp>
#include <boost/url/pct_string_view.hpp>

#include <charconv>
#include <cstddef>
#include <cstdio>
#include <ctime>
#include <string>
#include <string_view>

namespace aio::http::detail {

/// Splits a request target into its decoded path and its (still encoded) query. The origin
/// form ("/a/b?q") is the common one; the absolute form ("http://h/a?q", sent to proxies) and
/// "*" are accepted too. False if the target is not a valid one.
inline bool split_target(std::string_view target, std::string& path, std::string_view& query) {
    if (!target.empty() && target.front() == '/') {
        std::size_t mark = target.find('?');
        std::string_view raw = target.substr(0, mark);
        query = mark == std::string_view::npos ? std::string_view() : target.substr(mark + 1);
        if (raw.find('%') == std::string_view::npos) {
            path.assign(raw);
            return true;
        }
        auto encoded = boost::urls::make_pct_string_view(raw);
        if (!encoded) {
            return false;
        }
        path = encoded->decode();
        return true;
    }
    if (target == "*") {
        path = "*";
        return true;
    }
    auto url = boost::urls::parse_absolute_uri(target);
    if (!url) {
        return false;
    }
    path = url->path();
    if (path.empty()) {
        path = "/";
    }
    query = url->encoded_query();
    return true;
}

/// The Date header's value for now (RFC 9110's IMF-fixdate), made once a second per thread.
inline std::string_view http_date() {
    thread_local std::time_t cached = -1;
    thread_local char text[32];
    std::time_t now = std::time(nullptr);
    if (now != cached) {
        static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
        static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        std::tm tm{};
        gmtime_r(&now, &tm);
        std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
                      tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                      tm.tm_sec);
        cached = now;
    }
    return text;
}

/// Appends `n` in decimal (or hexadecimal, for a chunk's size).
inline void append_number(std::string& out, std::size_t n, int base = 10) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n, base);
    out.append(digits, end);
}

/// How the body follows the head.
enum class framing { length, chunked, until_close, none };

/// Appends the status line and the header fields of `res`, then the framing fields, Date and
/// Connection, and the blank line. The handler's Content-Length, Transfer-Encoding,
/// Connection and Date are replaced by the server's.
inline void append_head(std::string& out, unsigned version, const response& res, framing how,
                        std::size_t length, bool keep_alive) {
    out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    append_number(out, static_cast<unsigned>(res.code()));
    out += ' ';
    out += res.reason();
    out += "\r\n";
    for (const auto& f : res.headers()) {
        switch (f.name()) {
        case field::content_length:
        case field::transfer_encoding:
        case field::connection:
        case field::date:
            continue;
        default:
            break;
        }
        out += f.name_string();
        out += ": ";
        out += f.value();
        out += "\r\n";
    }
    if (how == framing::length) {
        out += "Content-Length: ";
        append_number(out, length);
        out += "\r\n";
    } else if (how == framing::chunked) {
        out += "Transfer-Encoding: chunked\r\n";
    }
    out += "Date: ";
    out += http_date();
    out += "\r\n";
    if (!keep_alive) {
        out += "Connection: close\r\n";
    } else if (version == 10) {
        out += "Connection: keep-alive\r\n";
    }
    out += "\r\n";
}

} // namespace aio::http::detail

// aio/http/application.hpp - routes and middlewares (aiohttp's web.Application, its router
// and its middlewares).
#pragma once

#include <aio/awaitable.hpp>
#include <aio/http/request.hpp>
#include <aio/http/response.hpp>

#include <boost/regex.hpp>

#include <cctype>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aio::http {

/// What answers a request (aiohttp's handler, `async def handler(request)`): any callable
/// taking request& and returning awaitable<response>. The request lives until the response
/// is sent, so the handler takes it by reference.
using handler = std::function<awaitable<response>(request&)>;

/// A middleware (aiohttp's @web.middleware, `async def mw(request, handler)`): gets the
/// request and the next handler (the next middleware, or the route's handler), and returns
/// the response - calling `co_await next(req)` or answering itself. It sees what the inner
/// handlers throw (http_error included) and may catch it.
using middleware = std::function<awaitable<response>(request&, const handler& next)>;

/// The routes and middlewares of a web application (aiohttp's web.Application with its
/// router). Built before serving: start_server takes a snapshot, so routes added later do not
/// reach a server already started (aiohttp freezes the application and raises instead).
/// Copyable. A snapshot may be served by several loops at once (one per thread): the
/// handlers are then called on those threads concurrently.
///
/// Patterns are paths with parameters, as aiohttp's: `{name}` matches one or more characters
/// other than '/', `{name:regex}` what the regular expression (Perl syntax, Boost.Regex)
/// matches, '/' included (`/static/{tail:.*}`), and a parameter may sit inside a segment
/// (`/{name}.html`). The pattern must match the whole decoded path. Names are identifiers
/// (letters, digits, '_', not starting with a digit), each used once. The first route
/// registered that matches the path and the method answers. A path that matches
/// no route gets 404 Not Found; a path that matches routes of other methods only gets 405
/// Method Not Allowed with an Allow header naming them. Both go through the middlewares, as
/// in aiohttp.
class application {
public:
    /// A route for `method` (aiohttp's router.add_route). Throws std::invalid_argument if the
    /// pattern does not start with '/', has an unbalanced brace, a parameter without a valid
    /// name or named twice, or a regular expression that does not compile.
    application& route(verb method, std::string pattern, handler h) {
        route_entry entry = parse_pattern(pattern);
        entry.method = method;
        entry.pattern = std::move(pattern);
        entry.answer = std::move(h);
        routes_.push_back(std::move(entry));
        return *this;
    }
    /// A GET route, which also answers HEAD (aiohttp's add_get with allow_head=True; the body
    /// is left out of a HEAD's answer).
    application& get(std::string pattern, handler h) {
        route(verb::get, pattern, h);
        return route(verb::head, std::move(pattern), std::move(h));
    }
    /// aiohttp's add_post.
    application& post(std::string pattern, handler h) {
        return route(verb::post, std::move(pattern), std::move(h));
    }
    /// aiohttp's add_put.
    application& put(std::string pattern, handler h) {
        return route(verb::put, std::move(pattern), std::move(h));
    }
    /// aiohttp's add_patch.
    application& patch(std::string pattern, handler h) {
        return route(verb::patch, std::move(pattern), std::move(h));
    }
    /// aiohttp's add_delete (`delete` is a C++ keyword).
    application& del(std::string pattern, handler h) {
        return route(verb::delete_, std::move(pattern), std::move(h));
    }

    /// Adds a middleware (aiohttp's Application(middlewares=[...])): the first added is the
    /// outermost, called first and seeing the response last.
    application& use(middleware m) {
        middlewares_.push_back(std::move(m));
        return *this;
    }

    /// One segment of a route's pattern: literal text, or a parameter's name.
    struct segment {
        std::string text;
        bool parameter = false;
    };
    /// One route as registered. A pattern made of whole segments, each literal or `{name}`,
    /// is kept as its segments (matched without a regular expression); any other is compiled
    /// into `regex` (the whole path must match it), whose named groups are `names`.
    struct route_entry {
        verb method{};
        std::vector<segment> segments;
        std::shared_ptr<const boost::regex> regex;
        std::vector<std::string> names;
        std::string pattern;
        handler answer;
    };
    const std::vector<route_entry>& routes() const noexcept { return routes_; }
    const std::vector<middleware>& middlewares() const noexcept { return middlewares_; }

private:
    /// A piece of a pattern: literal text, or a parameter with its regular expression (empty:
    /// the default, one or more characters other than '/').
    struct piece {
        std::string text;
        bool parameter = false;
        std::string regex;
    };

    [[noreturn]] static void bad_pattern(const std::string& pattern, std::string_view why) {
        throw std::invalid_argument("aio.http: " + std::string(why) + " in route pattern " +
                                    pattern);
    }

    static bool is_identifier(std::string_view name) {
        if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front()))) {
            return false;
        }
        for (char c : name) {
            if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') {
                return false;
            }
        }
        return true;
    }

    /// The pattern's literal text and parameters, in order.
    static std::vector<piece> split_pattern(const std::string& pattern) {
        std::vector<piece> out;
        std::size_t i = 0;
        while (i < pattern.size()) {
            if (pattern[i] == '}') {
                bad_pattern(pattern, "an unmatched '}'");
            }
            if (pattern[i] != '{') {
                std::size_t next = pattern.find_first_of("{}", i);
                next = next == std::string::npos ? pattern.size() : next;
                out.push_back({pattern.substr(i, next - i), false, ""});
                i = next;
                continue;
            }
            // {name} or {name:regex}; the regex may hold braces ({2,4}), balanced.
            std::size_t depth = 0;
            std::size_t close = i;
            for (; close < pattern.size(); ++close) {
                if (pattern[close] == '{') {
                    ++depth;
                } else if (pattern[close] == '}' && --depth == 0) {
                    break;
                }
            }
            if (close == pattern.size()) {
                bad_pattern(pattern, "an unmatched '{'");
            }
            std::string_view inside(pattern.data() + i + 1, close - i - 1);
            std::size_t colon = inside.find(':');
            std::string_view name = inside.substr(0, colon);
            if (!is_identifier(name)) {
                bad_pattern(pattern, "a parameter's name that is not an identifier");
            }
            for (const piece& p : out) {
                if (p.parameter && p.text == name) {
                    bad_pattern(pattern, "a parameter named twice");
                }
            }
            piece p{std::string(name), true, ""};
            if (colon != std::string_view::npos) {
                p.regex = inside.substr(colon + 1);
                if (p.regex.empty()) {
                    bad_pattern(pattern, "an empty regular expression");
                }
            }
            out.push_back(std::move(p));
            i = close + 1;
        }
        return out;
    }

    static route_entry parse_pattern(const std::string& pattern) {
        if (pattern.empty() || pattern.front() != '/') {
            bad_pattern(pattern, "a path that does not start with '/'");
        }
        std::vector<piece> pieces = split_pattern(pattern);
        route_entry out;
        // Whole segments, each literal or {name}: matched segment by segment.
        bool simple = true;
        for (std::size_t k = 0; k < pieces.size() && simple; ++k) {
            if (pieces[k].parameter) {
                bool starts = pieces[k - 1].text.back() == '/';
                bool ends = k + 1 == pieces.size() || pieces[k + 1].text.front() == '/';
                simple = pieces[k].regex.empty() && starts && ends;
            }
        }
        if (simple) {
            std::string_view rest(pattern.data() + 1, pattern.size() - 1);
            for (;;) {
                std::size_t end = rest.find('/');
                std::string_view part = rest.substr(0, end);
                bool parameter = !part.empty() && part.front() == '{';
                out.segments.push_back(
                    {std::string(parameter ? part.substr(1, part.size() - 2) : part), parameter});
                if (end == std::string_view::npos) {
                    return out;
                }
                rest.remove_prefix(end + 1);
            }
        }
        std::string regex;
        for (const piece& p : pieces) {
            if (!p.parameter) {
                for (char c : p.text) {
                    if (std::ispunct(static_cast<unsigned char>(c)) && c != '_') {
                        regex += '\\';
                    }
                    regex += c;
                }
                continue;
            }
            regex += "(?<" + p.text + ">" + (p.regex.empty() ? "[^{}/]+" : p.regex) + ")";
            out.names.push_back(p.text);
        }
        try {
            out.regex = std::make_shared<const boost::regex>(regex, boost::regex::perl);
        } catch (const boost::regex_error& e) {
            bad_pattern(pattern, std::string("a regular expression that does not compile (") +
                                     e.what() + ")");
        }
        return out;
    }

    std::vector<route_entry> routes_;
    std::vector<middleware> middlewares_;
};

} // namespace aio::http

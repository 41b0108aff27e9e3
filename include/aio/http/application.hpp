// aio/http/application.hpp - routes and middlewares (aiohttp's web.Application, its router
// and its middlewares).
#pragma once

#include <aio/awaitable.hpp>
#include <aio/http/request.hpp>
#include <aio/http/response.hpp>

#include <functional>
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
/// Patterns are paths whose segments are literal or `{name}` (a whole segment, matching one
/// non-empty segment of the decoded path; aiohttp's `{name:regex}` is not supported). The
/// first route registered that matches the path and the method answers. A path that matches
/// no route gets 404 Not Found; a path that matches routes of other methods only gets 405
/// Method Not Allowed with an Allow header naming them. Both go through the middlewares, as
/// in aiohttp.
class application {
public:
    /// A route for `method` (aiohttp's router.add_route). Throws std::invalid_argument if the
    /// pattern does not start with '/' or has a malformed `{name}` segment.
    application& route(verb method, std::string pattern, handler h) {
        routes_.push_back({method, parse_pattern(pattern), std::move(pattern), std::move(h)});
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
    /// One route as registered.
    struct route_entry {
        verb method;
        std::vector<segment> segments;
        std::string pattern;
        handler answer;
    };
    const std::vector<route_entry>& routes() const noexcept { return routes_; }
    const std::vector<middleware>& middlewares() const noexcept { return middlewares_; }

private:
    static std::vector<segment> parse_pattern(const std::string& pattern) {
        if (pattern.empty() || pattern.front() != '/') {
            throw std::invalid_argument("aio.http: a route's path must start with '/': " + pattern);
        }
        std::vector<segment> out;
        std::size_t start = 1;
        for (;;) {
            std::size_t end = pattern.find('/', start);
            std::string_view part = std::string_view(pattern).substr(
                start, end == std::string::npos ? std::string::npos : end - start);
            bool opens = part.find('{') != std::string_view::npos;
            bool closes = part.find('}') != std::string_view::npos;
            if (opens || closes) {
                if (part.size() < 3 || part.front() != '{' || part.back() != '}' ||
                    part.substr(1, part.size() - 2).find_first_of("{}") != std::string_view::npos) {
                    throw std::invalid_argument(
                        "aio.http: a path parameter is a whole segment, {name}: " + pattern);
                }
                out.push_back({std::string(part.substr(1, part.size() - 2)), true});
            } else {
                out.push_back({std::string(part), false});
            }
            if (end == std::string::npos) {
                return out;
            }
            start = end + 1;
        }
    }

    std::vector<route_entry> routes_;
    std::vector<middleware> middlewares_;
};

} // namespace aio::http

// aio/http/detail/router.hpp - a server's snapshot of an application: each route's handler
// wrapped in the middlewares once, and the matching of a path against the routes.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/http/application.hpp>
#include <aio/http/request.hpp>
#include <aio/http/response.hpp>

#include <boost/regex.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aio::http::detail {

class router {
public:
    explicit router(const application& app) {
        for (const auto& r : app.routes()) {
            routes_.push_back({r.method, r.segments, r.regex, r.names, wrap(app, r.answer)});
        }
        not_found_ = wrap(app, handler(&answer_not_found));
        not_allowed_ = wrap(app, [this](request& req) { return answer_not_allowed(req); });
    }
    router(const router&) = delete;
    router& operator=(const router&) = delete;

    /// The handler (middlewares included) that answers `req`; records its path parameters
    /// in it, or the methods allowed for a 405.
    const handler& resolve(request& req) const {
        std::vector<std::pair<std::string_view, std::string_view>> params;
        bool path_matched = false;
        for (const auto& r : routes_) {
            params.clear();
            if (!matches(r, req.path(), params)) {
                continue;
            }
            if (r.method == req.method()) {
                req.set_match(std::move(params));
                return r.answer;
            }
            path_matched = true;
        }
        return path_matched ? not_allowed_ : not_found_;
    }

    /// The methods of the routes that match `path`, for an Allow header: "GET, HEAD, POST".
    std::string allowed(std::string_view path) const {
        std::string out;
        std::vector<std::pair<std::string_view, std::string_view>> params;
        for (const auto& r : routes_) {
            params.clear();
            std::string_view name = boost::beast::http::to_string(r.method);
            if (!matches(r, path, params) || listed(out, name)) {
                continue;
            }
            if (!out.empty()) {
                out += ", ";
            }
            out += name;
        }
        return out;
    }

private:
    struct compiled_route {
        verb method;
        std::vector<application::segment> segments;
        std::shared_ptr<const boost::regex> regex;
        std::vector<std::string> names;
        handler answer;
    };

    /// `inner` inside every middleware, the first registered outermost.
    static handler wrap(const application& app, handler inner) {
        const auto& mws = app.middlewares();
        for (auto it = mws.rbegin(); it != mws.rend(); ++it) {
            inner = [mw = *it, next = std::move(inner)](request& req) { return mw(req, next); };
        }
        return inner;
    }

    static bool listed(std::string_view list, std::string_view name) {
        std::size_t at = list.find(name);
        return at != std::string_view::npos &&
               (at + name.size() == list.size() || list[at + name.size()] == ',');
    }

    /// True if `path` matches the route; appends the parameters' values.
    static bool matches(const compiled_route& route, std::string_view path,
                        std::vector<std::pair<std::string_view, std::string_view>>& params) {
        if (route.regex) {
            return matches(*route.regex, route.names, path, params);
        }
        return matches(route.segments, path, params);
    }

    /// True if the whole of `path` matches `regex`; appends the named groups' values. A
    /// match that Boost.Regex gives up on (past its complexity bound, on a pathological
    /// expression and path) counts as no match.
    static bool matches(const boost::regex& regex, const std::vector<std::string>& names,
                        std::string_view path,
                        std::vector<std::pair<std::string_view, std::string_view>>& params) {
        boost::match_results<std::string_view::const_iterator> found;
        try {
            if (!boost::regex_match(path.begin(), path.end(), found, regex)) {
                return false;
            }
        } catch (const std::runtime_error&) {
            return false;
        }
        for (const std::string& name : names) {
            const auto& group = found[name];
            params.emplace_back(name, path.substr(group.first - path.begin(),
                                                  static_cast<std::size_t>(group.length())));
        }
        return true;
    }

    /// True if `path` matches the segments; appends the parameters' values.
    static bool matches(const std::vector<application::segment>& segments, std::string_view path,
                        std::vector<std::pair<std::string_view, std::string_view>>& params) {
        if (path.empty() || path.front() != '/') {
            return false;
        }
        std::size_t start = 1;
        for (std::size_t i = 0; i < segments.size(); ++i) {
            if (start > path.size()) {
                return false; // the path has fewer segments
            }
            std::size_t end = path.find('/', start);
            bool last = i + 1 == segments.size();
            if (last != (end == std::string_view::npos)) {
                return false; // the segment counts differ
            }
            std::string_view part = path.substr(start, last ? std::string_view::npos : end - start);
            if (segments[i].parameter) {
                if (part.empty()) {
                    return false;
                }
                params.emplace_back(segments[i].text, part);
            } else if (part != segments[i].text) {
                return false;
            }
            start = last ? path.size() + 1 : end + 1;
        }
        return true;
    }

    static awaitable<response> answer_not_found(request&) {
        throw http_error(status::not_found);
        co_return response();
    }

    awaitable<response> answer_not_allowed(request& req) const {
        http_error e(status::method_not_allowed);
        e.headers().set(field::allow, allowed(req.path()));
        throw e;
        co_return response();
    }

    std::vector<compiled_route> routes_;
    handler not_found_;
    handler not_allowed_;
};

} // namespace aio::http::detail

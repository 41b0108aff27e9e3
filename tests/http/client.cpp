// Tests of aio/http/client.hpp: client_session and client_response against small HTTP servers
// written here on aio::start_server with raw bytes, on the loopback interface.
#include "support.hpp"

#include <aio/http/client.hpp>
#include <aio/streams.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using aio_test::co_throws_as;
namespace http = aio::http;

namespace {

/// A request as the test server received it.
struct received {
    std::string method;
    std::string target;
    std::string head; // request line and headers, lower-cased
    std::string body;
    int connection = 0; // which connection (1, 2, ...) it came on
};

/// What the test server does with a request: writes its answer; returns false to close the
/// connection afterwards.
using responder = std::function<aio::awaitable<bool>(const received&, aio::stream_writer&)>;

/// What the test server has seen, for the checks.
struct server_log {
    int connections = 0;
    int eofs = 0; // connections the client closed
    std::vector<received> requests;
    aio::event eof_seen;
};

/// An HTTP server on a free port of 127.0.0.1 that parses requests just enough for the tests
/// (request line, Content-Length body) and answers with `respond`.
struct test_server {
    aio::server server;
    std::shared_ptr<server_log> log = std::make_shared<server_log>();
    responder respond;

    /// Made outside any co_await: GCC 12 destroys a lambda temporary twice when it is converted
    /// to std::function inside a co_await expression.
    explicit test_server(responder r) : respond(std::move(r)) {}

    /// Starts listening.
    aio::awaitable<void> listen() {
        auto log = this->log;
        auto respond = this->respond;
        auto handler = [log, respond](aio::stream_reader r,
                                      aio::stream_writer w) -> aio::awaitable<void> {
            int id = ++log->connections;
            try {
                for (;;) {
                    std::string head;
                    try {
                        head = co_await r.readuntil("\r\n\r\n");
                    } catch (const aio::incomplete_read_error&) {
                        ++log->eofs;
                        log->eof_seen.set();
                        break;
                    }
                    received req;
                    req.connection = id;
                    req.method = head.substr(0, head.find(' '));
                    std::size_t t = head.find(' ') + 1;
                    req.target = head.substr(t, head.find(' ', t) - t);
                    req.head = head;
                    std::transform(
                        req.head.begin(), req.head.end(), req.head.begin(),
                        [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
                    std::size_t cl = req.head.find("content-length: ");
                    if (cl != std::string::npos) {
                        std::size_t n = std::stoul(req.head.substr(cl + 16));
                        req.body = co_await r.readexactly(n);
                    }
                    log->requests.push_back(req);
                    bool keep = co_await respond(req, w);
                    if (!keep) {
                        break;
                    }
                }
            } catch (const boost::system::system_error&) {
            }
            w.close();
        };
        server = co_await aio::start_server(handler, "127.0.0.1", 0);
    }

    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(server.port()) + path;
    }

    aio::awaitable<void> stop() {
        server.close();
        server.abort_clients();
        co_await server.wait_closed();
    }
};

/// A response with a Content-Length.
std::string reply(const std::string& status, const std::string& body,
                  const std::string& extra_headers = "") {
    return "HTTP/1.1 " + status + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
           extra_headers + "\r\n" + body;
}

/// A responder that answers every request with `raw` and keeps the connection.
responder always(std::string raw) {
    return [raw](const received&, aio::stream_writer& w) -> aio::awaitable<bool> {
        w.write(raw);
        co_return true;
    };
}

/// A responder that never answers, and waits for the client to go away.
responder never_answers() {
    return [](const received&, aio::stream_writer&) -> aio::awaitable<bool> { co_return true; };
}

/// GET `url` and read the body.
aio::awaitable<std::string> fetch(http::client_session& session, std::string url) {
    http::client_response resp = co_await session.get(url);
    std::string body = co_await resp.text();
    co_return body;
}

} // namespace

AIO_TEST_CASE("GET: status, reason, headers, text, the request line and Host") {
    test_server srv(always(
        reply("200 OK", "hello", "Content-Type: text/plain\r\nX-Thing: a\r\nX-Thing: b\r\n")));
    co_await srv.listen();
    http::client_session session;
    http::client_response resp = co_await session.get(srv.url("/path?x=1#frag"));
    CHECK(resp.status() == 200);
    CHECK(resp.reason() == "OK");
    CHECK(resp.ok());
    CHECK(resp.headers()["content-type"] == "text/plain");
    CHECK(resp.headers().count("X-Thing") == 2);
    CHECK(resp.content_length() == 5u);
    std::string body = co_await resp.text();
    CHECK(body == "hello");
    std::string again = co_await resp.read();
    CHECK(again == "hello");
    REQUIRE(srv.log->requests.size() == 1);
    const received& req = srv.log->requests[0];
    CHECK(req.method == "GET");
    CHECK(req.target == "/path?x=1");
    CHECK(req.head.find("host: 127.0.0.1:" + std::to_string(srv.server.port()) + "\r\n") !=
          std::string::npos);
    co_await session.close();
    co_await srv.stop();
}

/// Echoes the request's method, Content-Type and body.
responder echo_body() {
    return [](const received& req, aio::stream_writer& w) -> aio::awaitable<bool> {
        std::size_t at = req.head.find("content-type: ");
        std::string type = at == std::string::npos
                               ? "-"
                               : req.head.substr(at + 14, req.head.find("\r\n", at) - at - 14);
        w.write(reply("200 OK", req.method + "|" + type + "|" + req.body));
        co_return true;
    };
}

AIO_TEST_CASE("POST with each kind of body: bytes, text, form, JSON, one connection for all") {
    test_server srv(echo_body());
    co_await srv.listen();
    http::client_session session;
    std::string url = srv.url("/echo");
    http::request_options bytes, text, form, json, custom;
    bytes.data = std::string("\x01\x02", 2);
    text.text = "héllo";
    form.form = http::name_value_list{{"a", "1"}, {"b", "x y&z=+"}};
    json.json = boost::json::value{{"k", 1}, {"list", {1, 2}}};
    custom.headers = {{"Content-Type", "application/x-custom"}};
    custom.data = "z";
    http::client_response a = co_await session.post(url, bytes);
    std::string a_body = co_await a.text();
    CHECK(a_body == std::string("POST|application/octet-stream|\x01\x02"));
    http::client_response b = co_await session.put(url, text);
    std::string b_body = co_await b.text();
    CHECK(b_body == "PUT|text/plain; charset=utf-8|héllo");
    http::client_response c = co_await session.patch(url, form);
    std::string c_body = co_await c.text();
    CHECK(c_body == "PATCH|application/x-www-form-urlencoded|a=1&b=x%20y%26z%3D%2B");
    http::client_response d = co_await session.post(url, json);
    std::string d_body = co_await d.text();
    CHECK(d_body == R"(POST|application/json|{"k":1,"list":[1,2]})");
    http::client_response e = co_await session.post(url, custom);
    std::string e_body = co_await e.text();
    CHECK(e_body == "POST|application/x-custom|z");
    http::client_response f = co_await session.del(url);
    std::string f_body = co_await f.text();
    CHECK(f_body == "DELETE|-|");
    CHECK(srv.log->connections == 1);
    http::request_options two_bodies;
    two_bodies.data = "a";
    two_bodies.text = "b";
    bool two = co_await co_throws_as<std::invalid_argument>(session.post(url, two_bodies));
    CHECK(two);
    co_await session.close();
    co_await srv.stop();
}

AIO_TEST_CASE("query parameters are encoded and appended to the URL's query, headers sent") {
    test_server srv(always(reply("200 OK", "")));
    co_await srv.listen();
    http::client_session_options session_options;
    session_options.headers = {{"X-Session", "s"}, {"X-Both", "session"}};
    http::client_session session(session_options);
    http::request_options options;
    options.headers = {{"X-Both", "request"}, {"X-Req", "r"}};
    options.params = {{"a", "1"}, {"b", "x y&z"}};
    http::client_response resp = co_await session.get(srv.url("/p?q=0"), options);
    REQUIRE(srv.log->requests.size() == 1);
    const received& req = srv.log->requests[0];
    CHECK(req.target == "/p?q=0&a=1&b=x%20y%26z");
    CHECK(req.head.find("x-session: s\r\n") != std::string::npos);
    CHECK(req.head.find("x-both: request\r\n") != std::string::npos);
    CHECK(req.head.find("x-both: session") == std::string::npos);
    CHECK(req.head.find("x-req: r\r\n") != std::string::npos);
    http::request_options smuggling;
    smuggling.headers = {{"X-Evil", "a\r\nX-Injected: b"}};
    bool refused =
        co_await co_throws_as<std::invalid_argument>(session.get(srv.url("/"), smuggling));
    CHECK(refused);
    CHECK(srv.log->requests.size() == 1);
    co_await session.close();
    co_await srv.stop();
}

AIO_TEST_CASE("json() parses a JSON body, another content type is content_type_error") {
    test_server srv([](const received& req, aio::stream_writer& w) -> aio::awaitable<bool> {
        std::string type = req.target == "/json" ? "application/json" : "text/plain";
        w.write(reply("200 OK", R"({"a":[1,2,3]})", "Content-Type: " + type + "\r\n"));
        co_return true;
    });
    co_await srv.listen();
    http::client_session session;
    http::client_response resp = co_await session.get(srv.url("/json"));
    boost::json::value v = co_await resp.json();
    CHECK(v.at("a").as_array().size() == 3);
    http::client_response text = co_await session.get(srv.url("/text"));
    bool refused = co_await co_throws_as<http::content_type_error>(text.json());
    CHECK(refused);
    boost::json::value unchecked = co_await text.json(false);
    CHECK(unchecked.at("a").at(0) == 1);
    co_await session.close();
    co_await srv.stop();
}

AIO_TEST_CASE("keep-alive: read responses return their connection, Connection: close does not") {
    test_server srv([](const received& req, aio::stream_writer& w) -> aio::awaitable<bool> {
        bool close = req.target == "/close";
        w.write(reply("200 OK", "x", close ? "Connection: close\r\n" : ""));
        co_return !close;
    });
    co_await srv.listen();
    http::client_session session;
    for (int i = 0; i < 3; ++i) {
        http::client_response resp = co_await session.get(srv.url("/"));
        std::string body = co_await resp.text();
        CHECK(body == "x");
    }
    CHECK(srv.log->connections == 1);
    CHECK(session.idle_connection_count() == 1);
    http::client_response closing = co_await session.get(srv.url("/close"));
    std::string body = co_await closing.text();
    CHECK(session.connection_count() == 0);
    http::client_response next = co_await session.get(srv.url("/"));
    CHECK(srv.log->connections == 2);
    CHECK(srv.log->requests.back().connection == 2);
    co_await session.close();
    co_await srv.stop();
}

AIO_TEST_CASE("an idle connection past keepalive_timeout is closed, not reused") {
    test_server srv(always(reply("200 OK", "x")));
    co_await srv.listen();
    http::client_session_options brief;
    brief.keepalive_timeout = std::chrono::nanoseconds(1);
    http::client_session session(brief);
    std::string a = co_await fetch(session, srv.url("/"));
    CHECK(session.idle_connection_count() == 1);
    std::string b = co_await fetch(session, srv.url("/"));
    CHECK(b == "x");
    CHECK(srv.log->connections == 2);
    co_await srv.log->eof_seen.wait(); // the expired one was closed
    co_await session.close();
    co_await srv.stop();
}

AIO_TEST_CASE("a keep-alive connection the server closed while idle is replaced") {
    test_server srv([](const received&, aio::stream_writer& w) -> aio::awaitable<bool> {
        w.write(reply("200 OK", "x")); // keep-alive as far as the client knows
        co_return false;
    });
    co_await srv.listen();
    http::client_session session;
    http::client_response first = co_await session.get(srv.url("/"));
    std::string a = co_await first.text();
    http::client_response second = co_await session.get(srv.url("/"));
    std::string b = co_await second.text();
    CHECK(b == "x");
    CHECK(srv.log->connections == 2);
    co_await session.close();
    co_await srv.stop();
}

/// Requests held by a gated responder, and the event it sets as each arrives.
struct held_requests {
    int count = 0;
    aio::event arrived;
    aio::event gate;

    /// Waits until `n` requests are held.
    aio::awaitable<void> until(int n) {
        while (count < n) {
            co_await arrived.wait();
            arrived.clear();
        }
    }
};

/// A responder that holds each request to /wait until `held->gate` is set.
responder gated(std::shared_ptr<held_requests> held) {
    return [held](const received& req, aio::stream_writer& w) -> aio::awaitable<bool> {
        if (req.target == "/wait") {
            ++held->count;
            held->arrived.set();
            co_await held->gate.wait();
        }
        w.write(reply("200 OK", req.target));
        co_return true;
    };
}

AIO_TEST_CASE("limit: requests past it wait for a connection, then reuse it") {
    auto held = std::make_shared<held_requests>();
    test_server srv(gated(held));
    co_await srv.listen();
    http::client_session_options limit_two;
    limit_two.limit = 2;
    http::client_session session(limit_two);
    std::vector<aio::task<std::string>> tasks;
    for (int i = 0; i < 3; ++i) {
        tasks.push_back(aio::create_task(fetch(session, srv.url("/wait"))));
    }
    co_await held->until(2);
    CHECK(held->count == 2);
    CHECK(srv.log->connections == 2);
    CHECK(session.connection_count() == 2);
    CHECK(!tasks[2].done());
    held->gate.set();
    for (auto& t : tasks) {
        std::string body = co_await t();
        CHECK(body == "/wait");
    }
    CHECK(srv.log->connections == 2);
    CHECK(srv.log->requests.size() == 3);
    co_await session.close();
    co_await srv.stop();
}

AIO_TEST_CASE("limit_per_host: one host's requests wait, another host's go through") {
    auto held = std::make_shared<held_requests>();
    test_server a(gated(held));
    co_await a.listen();
    test_server b(always(reply("200 OK", "b")));
    co_await b.listen();
    http::client_session_options one_per_host;
    one_per_host.limit_per_host = 1;
    http::client_session session(one_per_host);
    aio::task<std::string> first = aio::create_task(fetch(session, a.url("/wait")));
    aio::task<std::string> second = aio::create_task(fetch(session, a.url("/wait")));
    co_await held->until(1);
    std::string other = co_await fetch(session, b.url("/"));
    CHECK(other == "b");
    CHECK(held->count == 1);
    CHECK(a.log->connections == 1);
    CHECK(!second.done());
    held->gate.set();
    std::string r1 = co_await first();
    std::string r2 = co_await second();
    CHECK(r1 == "/wait");
    CHECK(r2 == "/wait");
    CHECK(a.log->connections == 1);
    co_await session.close();
    co_await a.stop();
    co_await b.stop();
}

/// Redirects: /chain/N -> /chain/N-1 ... -> /chain/0 (200), /loop -> /loop, /see-other (303),
/// /temp (307) and /moved (301) -> /target.
responder redirector() {
    return [](const received& req, aio::stream_writer& w) -> aio::awaitable<bool> {
        const std::string& t = req.target;
        if (t.rfind("/chain/", 0) == 0) {
            int n = std::stoi(t.substr(7));
            w.write(n == 0 ? reply("200 OK", req.method == "HEAD" ? "" : "end")
                           : reply("302 Found", "",
                                   "Location: /chain/" + std::to_string(n - 1) + "\r\n"));
        } else if (t == "/loop") {
            w.write(reply("302 Found", "", "Location: /loop\r\n"));
        } else if (t == "/see-other") {
            w.write(reply("303 See Other", "", "Location: /target\r\n"));
        } else if (t == "/temp") {
            w.write(reply("307 Temporary Redirect", "", "Location: /target\r\n"));
        } else if (t == "/moved") {
            w.write(reply("301 Moved Permanently", "", "Location: target\r\n"));
        } else {
            w.write(reply("200 OK", req.method + " " + req.body));
        }
        co_return true;
    };
}

AIO_TEST_CASE("redirects: a chain is followed, history kept, allow_redirects=false stops") {
    test_server srv(redirector());
    co_await srv.listen();
    http::client_session session;
    http::client_response resp = co_await session.get(srv.url("/chain/3"));
    std::string body = co_await resp.text();
    CHECK(body == "end");
    CHECK(resp.url() == srv.url("/chain/0"));
    REQUIRE(resp.history().size() == 3);
    CHECK(resp.history()[0].status == 302);
    CHECK(resp.history()[0].url == srv.url("/chain/3"));
    CHECK(srv.log->connections == 1);
    http::request_options no_redirects;
    no_redirects.allow_redirects = false;
    http::client_response stopped = co_await session.get(srv.url("/chain/1"), no_redirects);
    CHECK(stopped.status() == 302);
    CHECK(stopped.headers()["Location"] == "/chain/0");
    stopped.release();
    http::client_response head = co_await session.head(srv.url("/chain/1")); // as aiohttp's
    CHECK(head.status() == 302);
    head.release();
    http::request_options follow;
    follow.allow_redirects = true;
    http::client_response followed = co_await session.head(srv.url("/chain/1"), follow);
    CHECK(followed.status() == 200);
    CHECK(followed.history().size() == 1);
    followed.release();
    co_await session.close();
    co_await srv.stop();
}

AIO_TEST_CASE("redirects: a loop ends with too_many_redirects after max_redirects") {
    test_server srv(redirector());
    co_await srv.listen();
    http::client_session session;
    bool threw = co_await co_throws_as<http::too_many_redirects>(session.get(srv.url("/loop")));
    CHECK(threw);
    CHECK(srv.log->requests.size() == 11);
    http::request_options three_at_most;
    three_at_most.max_redirects = 3;
    bool three = co_await co_throws_as<http::too_many_redirects>(
        session.get(srv.url("/chain/4"), three_at_most));
    CHECK(three);
    http::client_response ok = co_await session.get(srv.url("/chain/3"), three_at_most);
    CHECK(ok.status() == 200);
    co_await session.close();
    co_await srv.stop();
}

AIO_TEST_CASE("redirects: 303 and 301 turn POST into GET without body, 307 keeps both") {
    test_server srv(redirector());
    co_await srv.listen();
    http::client_session session;
    http::request_options data;
    data.text = "data";
    http::client_response see = co_await session.post(srv.url("/see-other"), data);
    std::string a = co_await see.text();
    CHECK(a == "GET ");
    CHECK(srv.log->requests.back().head.find("content-type") == std::string::npos);
    http::client_response moved = co_await session.post(srv.url("/moved"), data);
    std::string b = co_await moved.text();
    CHECK(b == "GET ");
    CHECK(moved.url() == srv.url("/target"));
    http::client_response temp = co_await session.post(srv.url("/temp"), data);
    std::string c = co_await temp.text();
    CHECK(c == "POST data");
    co_await session.close();
    co_await srv.stop();
}

AIO_TEST_CASE("a chunked response: read whole, and streamed piece by piece as it arrives") {
    auto more = std::make_shared<aio::event>();
    test_server srv([more](const received& req, aio::stream_writer& w) -> aio::awaitable<bool> {
        w.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n");
        if (req.target == "/stream") {
            co_await more->wait(); // until the client has had the first piece
        }
        w.write("6\r\nsecond\r\n0\r\n\r\n");
        co_return true;
    });
    co_await srv.listen();
    http::client_session session;
    http::client_response whole = co_await session.get(srv.url("/"));
    std::string body = co_await whole.text();
    CHECK(body == "firstsecond");
    http::client_response streamed = co_await session.get(srv.url("/stream"));
    CHECK(!streamed.content_length());
    std::vector<std::string> pieces;
    auto gen = streamed.iter_chunked(4);
    while (auto piece = co_await gen.next()) {
        pieces.push_back(*piece);
        if (pieces.size() == 2) {
            CHECK(pieces[0] + pieces[1] == "first");
            more->set();
        }
    }
    CHECK(aio_test::join(pieces) == "firs|t|seco|nd");
    CHECK(streamed.at_eof());
    CHECK(srv.log->connections == 1);
    co_await session.close();
    co_await srv.stop();
}

AIO_TEST_CASE("a body cut short is client_payload_error, a body until EOF is read whole") {
    test_server srv([](const received& req, aio::stream_writer& w) -> aio::awaitable<bool> {
        if (req.target == "/cut") {
            w.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345");
        } else if (req.target == "/cut-chunked") {
            w.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n12345\r\n");
        } else {
            w.write("HTTP/1.1 200 OK\r\n\r\nuntil the end");
        }
        co_return false;
    });
    co_await srv.listen();
    http::client_session session;
    http::client_response cut = co_await session.get(srv.url("/cut"));
    bool threw = co_await co_throws_as<http::client_payload_error>(cut.read());
    CHECK(threw);
    http::client_response chunked = co_await session.get(srv.url("/cut-chunked"));
    bool threw_chunked = co_await co_throws_as<http::client_payload_error>(chunked.read());
    CHECK(threw_chunked);
    http::client_response eof = co_await session.get(srv.url("/eof"));
    std::string body = co_await eof.read();
    CHECK(body == "until the end");
    CHECK(session.connection_count() == 0);
    co_await session.close();
    co_await srv.stop();
}

AIO_TEST_CASE("header limits: a line past 8190 bytes, more than 128 headers, garbage") {
    test_server srv([](const received& req, aio::stream_writer& w) -> aio::awaitable<bool> {
        std::string headers;
        if (req.target == "/long") {
            headers = "X-Long: " + std::string(8190, 'a') + "\r\n";
        } else if (req.target == "/many" || req.target == "/128") {
            int n = req.target == "/many" ? 129 : 127; // + Content-Length
            for (int i = 0; i < n; ++i) {
                headers += "X-H" + std::to_string(i) + ": v\r\n";
            }
        } else {
            w.write("garbage\r\n\r\n");
            co_return false;
        }
        w.write(reply("200 OK", "", headers));
        co_return true;
    });
    co_await srv.listen();
    http::client_session session;
    bool long_line =
        co_await co_throws_as<http::malformed_response_error>(session.get(srv.url("/long")));
    CHECK(long_line);
    bool many =
        co_await co_throws_as<http::malformed_response_error>(session.get(srv.url("/many")));
    CHECK(many);
    http::client_response fine = co_await session.get(srv.url("/128"));
    CHECK(fine.status() == 200);
    bool garbage =
        co_await co_throws_as<http::malformed_response_error>(session.get(srv.url("/bad")));
    CHECK(garbage);
    co_await session.close();
    co_await srv.stop();
}

AIO_TEST_CASE("sock_read and total timeouts throw client_timeout_error naming the URL") {
    test_server srv(never_answers());
    co_await srv.listen();
    http::client_session_options session_options;
    session_options.timeout.sock_read = 20ms;
    http::client_session session(session_options);
    http::request_options short_total;
    short_total.timeout = http::client_timeout{};
    short_total.timeout->total = 20ms;
    std::string url = srv.url("/silent");
    std::string which, what;
    try {
        co_await session.get(url);
    } catch (const http::client_timeout_error& e) {
        which = e.which();
        what = e.what();
    }
    CHECK(which == "sock_read");
    CHECK(what.find(url) != std::string::npos);
    bool as_aio_timeout = co_await co_throws_as<aio::timeout_error>(session.get(url, short_total));
    CHECK(as_aio_timeout);
    try {
        co_await session.get(url, short_total);
    } catch (const http::client_timeout_error& e) {
        which = e.which();
    }
    CHECK(which == "total");
    co_await srv.log->eof_seen.wait(); // the timed-out requests' connections were closed
    CHECK(session.connection_count() == 0);
    co_await session.close();
    co_await srv.stop();
}

AIO_TEST_CASE("the total timeout covers the body, connect covers waiting for the pool") {
    auto held = std::make_shared<held_requests>();
    test_server srv([held](const received& req, aio::stream_writer& w) -> aio::awaitable<bool> {
        if (req.target == "/stall") {
            w.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345");
        } else {
            ++held->count;
            held->arrived.set();
        }
        co_return true; // never answers /hold, never finishes /stall
    });
    co_await srv.listen();
    http::client_session_options one;
    one.limit = 1;
    http::client_session session(one);
    http::request_options short_total;
    short_total.timeout = http::client_timeout{};
    short_total.timeout->total = 30ms;
    http::client_response stalled = co_await session.get(srv.url("/stall"), short_total);
    std::string which;
    try {
        co_await stalled.read();
    } catch (const http::client_timeout_error& e) {
        which = e.which();
    }
    CHECK(which == "total");
    co_await srv.log->eof_seen.wait();
    CHECK(session.connection_count() == 0);

    aio::task<std::string> holder = aio::create_task(fetch(session, srv.url("/hold")));
    co_await held->until(1);
    http::request_options short_connect;
    short_connect.timeout = http::client_timeout{};
    short_connect.timeout->connect = 20ms;
    try {
        co_await session.get(srv.url("/other"), short_connect);
    } catch (const http::client_timeout_error& e) {
        which = e.which();
    }
    CHECK(which == "connect");
    CHECK(session.connection_count() == 1);
    holder.cancel();
    bool cancelled = co_await co_throws_as<aio::cancelled_error>(holder());
    CHECK(cancelled);
    CHECK(session.connection_count() == 0);
    co_await session.close();
    co_await srv.stop();
}

AIO_TEST_CASE("a request cancelled while waiting for the pool leaves the line") {
    auto held = std::make_shared<held_requests>();
    test_server srv(gated(held));
    co_await srv.listen();
    http::client_session_options one;
    one.limit = 1;
    http::client_session session(one);
    aio::task<std::string> first = aio::create_task(fetch(session, srv.url("/wait")));
    co_await held->until(1);
    aio::task<std::string> second = aio::create_task(fetch(session, srv.url("/wait")));
    aio::task<std::string> third = aio::create_task(fetch(session, srv.url("/third")));
    while (session.waiting_request_count() < 2) {
        co_await aio::sleep(0s);
    }
    second.cancel();
    bool cancelled = co_await co_throws_as<aio::cancelled_error>(second());
    CHECK(cancelled);
    held->gate.set();
    std::string a = co_await first();
    std::string c = co_await third();
    CHECK(a == "/wait");
    CHECK(c == "/third");
    CHECK(srv.log->requests.size() == 2);
    CHECK(srv.log->connections == 1);
    co_await session.close();
    co_await srv.stop();
}

AIO_TEST_CASE("cancelling a request closes its connection, the next one opens a new one") {
    auto answer = std::make_shared<bool>(false);
    test_server srv([answer](const received&, aio::stream_writer& w) -> aio::awaitable<bool> {
        if (*answer) {
            w.write(reply("200 OK", "late"));
        }
        co_return true;
    });
    co_await srv.listen();
    http::client_session session;
    aio::task<std::string> t = aio::create_task(fetch(session, srv.url("/")));
    while (srv.log->requests.empty()) {
        co_await aio::sleep(0s);
    }
    t.cancel();
    bool cancelled = co_await co_throws_as<aio::cancelled_error>(t());
    CHECK(cancelled);
    co_await srv.log->eof_seen.wait();
    CHECK(srv.log->eofs == 1);
    CHECK(session.connection_count() == 0);
    *answer = true;
    std::string body = co_await fetch(session, srv.url("/"));
    CHECK(body == "late");
    CHECK(srv.log->connections == 2);
    co_await session.close();
    co_await srv.stop();
}

AIO_TEST_CASE(
    "a response dropped half-read closes its connection, release() of a read one keeps it") {
    test_server srv([](const received& req, aio::stream_writer& w) -> aio::awaitable<bool> {
        if (req.target == "/half") {
            w.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345");
        } else {
            w.write(reply("200 OK", "whole"));
        }
        co_return true;
    });
    co_await srv.listen();
    http::client_session session;
    {
        http::client_response half = co_await session.get(srv.url("/half"));
        std::string piece = co_await half.read_some();
        CHECK(piece == "12345");
    }
    co_await srv.log->eof_seen.wait();
    CHECK(session.connection_count() == 0);
    http::client_response whole = co_await session.get(srv.url("/"));
    std::string body = co_await whole.read();
    whole.release();
    CHECK(session.idle_connection_count() == 1);
    http::client_response again = co_await session.get(srv.url("/"));
    CHECK(srv.log->connections == 2);
    co_await session.close();
    co_await srv.stop();
}

AIO_TEST_CASE("raise_for_status: 4xx and 5xx throw client_response_error with the status") {
    test_server srv(always(reply("404 Not Found", "no")));
    co_await srv.listen();
    http::client_session session;
    http::client_response resp = co_await session.get(srv.url("/x"));
    CHECK(!resp.ok());
    unsigned status = 0;
    try {
        resp.raise_for_status();
    } catch (const http::client_response_error& e) {
        status = e.status();
    }
    CHECK(status == 404);
    http::request_options raising;
    raising.raise_for_status = true;
    bool raised =
        co_await co_throws_as<http::client_response_error>(session.get(srv.url("/x"), raising));
    CHECK(raised);
    co_await session.close();
    co_await srv.stop();
}

AIO_TEST_CASE("HEAD reads no body even with a Content-Length, the connection is reused") {
    test_server srv([](const received&, aio::stream_writer& w) -> aio::awaitable<bool> {
        w.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
        co_return true;
    });
    co_await srv.listen();
    http::client_session session;
    http::client_response resp = co_await session.head(srv.url("/"));
    CHECK(resp.content_length() == 100u);
    std::string body = co_await resp.read();
    CHECK(body.empty());
    CHECK(session.idle_connection_count() == 1);
    co_await session.close();
    co_await srv.stop();
}

AIO_TEST_CASE("connection refused is client_connector_error, bad URLs are invalid_url") {
    aio::connection_handler nothing = [](aio::stream_reader,
                                         aio::stream_writer) -> aio::awaitable<void> { co_return; };
    aio::server probe = co_await aio::start_server(nothing, "127.0.0.1", 0);
    std::uint16_t port = probe.port();
    probe.close();
    co_await probe.wait_closed();
    http::client_session session;
    bool refused = co_await co_throws_as<http::client_connector_error>(
        session.get("http://127.0.0.1:" + std::to_string(port) + "/"));
    CHECK(refused);
    CHECK(session.connection_count() == 0);
    for (const char* bad : {"not a url", "ftp://example.com/", "http:///path", "https://x/",
                            "http://127.0.0.1:99999/", "http://[::1/"}) {
        bool invalid = co_await co_throws_as<http::invalid_url>(session.get(bad));
        CHECK_MESSAGE(invalid, std::string(bad));
    }
    std::string why;
    try { // this program does not include <aio/net/tls.hpp>
        co_await session.get("https://127.0.0.1:1/");
    } catch (const http::invalid_url& e) {
        why = e.what();
    }
    CHECK(why.find("include <aio/net/tls.hpp>") != std::string::npos);
    co_await session.close();
    bool closed =
        co_await co_throws_as<http::client_connection_error>(session.get("http://127.0.0.1:1/"));
    CHECK(closed);
}

// Tests of aio/http/server.hpp, application.hpp, request.hpp, response.hpp: an HTTP server on
// the loopback interface, talked to with raw bytes over aio::open_connection; responses are
// read with Beast's response parser.
#include "support.hpp"

#include <aio/http/server.hpp>
#include <aio/streams.hpp>

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace http = aio::http;
namespace beast_http = boost::beast::http;

namespace {

using answer = beast_http::response<beast_http::string_body>;

/// Reads one response from `reader`, or nothing if the connection ends first. `head` for
/// the answer to a HEAD request (no body follows).
aio::awaitable<std::optional<answer>> read_response(aio::stream_reader& reader, bool head = false) {
    beast_http::response_parser<beast_http::string_body> parser;
    parser.skip(head);
    parser.body_limit(64 * 1024 * 1024);
    for (;;) {
        std::string_view buffered = reader.buffered();
        if (!buffered.empty()) {
            boost::beast::error_code ec;
            std::size_t used =
                parser.put(boost::asio::buffer(buffered.data(), buffered.size()), ec);
            reader.consume(used);
            if (ec && ec != beast_http::error::need_more) {
                FAIL("the response does not parse: " << ec.message());
            }
            if (parser.is_done()) {
                co_return parser.release();
            }
            if (!ec) {
                continue;
            }
        }
        std::size_t arrived = co_await reader.fill();
        if (arrived == 0) {
            boost::beast::error_code ec;
            parser.put_eof(ec);
            if (parser.is_header_done() && !ec) {
                co_return parser.release();
            }
            co_return std::nullopt;
        }
    }
}

/// A connection to the server under test.
struct client {
    aio::stream_pair streams;

    static aio::awaitable<client> open(const http::server& srv) {
        client c;
        c.streams = co_await aio::open_connection("127.0.0.1", srv.port());
        co_return c;
    }
    void send(std::string bytes) { streams.writer.write(std::move(bytes)); }
    aio::awaitable<std::optional<answer>> receive(bool head = false) {
        return read_response(streams.reader, head);
    }
    /// Sends `request` and reads the answer, which must come.
    aio::awaitable<answer> ask(std::string request) {
        send(std::move(request));
        std::optional<answer> got = co_await receive();
        REQUIRE(got.has_value());
        co_return std::move(*got);
    }
    /// True once the server has closed the connection (what was still sent is dropped).
    aio::awaitable<bool> closed_by_server() {
        std::string rest = co_await streams.reader.read();
        co_return streams.reader.at_eof();
    }
};

std::string get(std::string target, std::string extra = {}) {
    return "GET " + target + " HTTP/1.1\r\nHost: test\r\n" + extra + "\r\n";
}

aio::awaitable<http::response> hello(http::request& req) {
    co_return http::response::text("Hello, " + std::string(req.match_info("name")));
}

aio::awaitable<http::response> root(http::request&) {
    co_return http::response::text("root");
}

/// The application most tests serve.
http::application sample_app() {
    http::application app;
    app.get("/", root);
    app.get("/hello/{name}", hello);
    app.post("/echo", [](http::request& req) -> aio::awaitable<http::response> {
        std::string body = co_await req.read();
        co_return http::response::text(body);
    });
    app.get("/query", [](http::request& req) -> aio::awaitable<http::response> {
        co_return http::response::text(req.query("a").value_or("-") + "," +
                                       req.query("b").value_or("-"));
    });
    app.post("/json", [](http::request& req) -> aio::awaitable<http::response> {
        boost::json::value v = co_await req.json();
        co_return http::response::json({{"got", v}});
    });
    app.get("/fail", [](http::request&) -> aio::awaitable<http::response> {
        throw std::runtime_error("the handler failed");
        co_return http::response();
    });
    return app;
}

} // namespace

AIO_TEST_CASE("routes answer with their handler and path parameters come decoded") {
    http::server srv = co_await http::start_server(sample_app(), "127.0.0.1", 0);
    client c = co_await client::open(srv);
    answer a = co_await c.ask(get("/"));
    CHECK(a.result() == beast_http::status::ok);
    CHECK(a.body() == "root");
    CHECK(a[beast_http::field::content_type] == "text/plain; charset=utf-8");
    CHECK(!a[beast_http::field::date].empty());
    answer b = co_await c.ask(get("/hello/J%C3%BCrgen"));
    CHECK(b.body() == "Hello, J\xC3\xBCrgen");
    answer q = co_await c.ask(get("/query?a=1+2&b=%41"));
    CHECK(q.body() == "1 2,A");
    answer j = co_await c.ask("POST /json HTTP/1.1\r\nHost: t\r\nContent-Length: 7\r\n\r\n[1,2,3]");
    CHECK(j[beast_http::field::content_type] == "application/json");
    CHECK(j.body() == R"({"got":[1,2,3]})");
    answer bad_json =
        co_await c.ask("POST /json HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\n[1,");
    CHECK(bad_json.result() == beast_http::status::bad_request);
    c.send("HEAD /hello/x HTTP/1.1\r\nHost: t\r\n\r\n");
    std::optional<answer> head = co_await c.receive(true);
    REQUIRE(head.has_value());
    CHECK(head->result() == beast_http::status::ok);
    CHECK((*head)[beast_http::field::content_length] == "8");
    answer after = co_await c.ask(get("/"));
    CHECK(after.body() == "root");
    srv.close();
}

AIO_TEST_CASE("an unknown path gets 404 and a known path with another method 405 with Allow") {
    http::server srv = co_await http::start_server(sample_app(), "127.0.0.1", 0);
    client c = co_await client::open(srv);
    answer missing = co_await c.ask(get("/nowhere"));
    CHECK(missing.result() == beast_http::status::not_found);
    CHECK(missing.body() == "404: Not Found"); // aiohttp's text
    answer too_deep = co_await c.ask(get("/hello/a/b"));
    CHECK(too_deep.result() == beast_http::status::not_found);
    answer wrong = co_await c.ask("DELETE /hello/x HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK(wrong.result() == beast_http::status::method_not_allowed);
    CHECK(wrong[beast_http::field::allow] == "GET, HEAD");
    answer still = co_await c.ask(get("/"));
    CHECK(still.result() == beast_http::status::ok);
    srv.close();
}

TEST_CASE("a route's pattern is rejected when malformed, as aiohttp's add_route rejects it") {
    http::application app;
    auto add = [&](const char* pattern) { app.get(pattern, root); };
    CHECK(aio_test::throws_as<std::invalid_argument>([&] { add("nope"); }));
    CHECK(aio_test::throws_as<std::invalid_argument>([&] { add("/{}"); }));
    CHECK(aio_test::throws_as<std::invalid_argument>([&] { add("/{a"); }));
    CHECK(aio_test::throws_as<std::invalid_argument>([&] { add("/a}"); }));
    CHECK(aio_test::throws_as<std::invalid_argument>([&] { add("/{1a}"); }));
    CHECK(aio_test::throws_as<std::invalid_argument>([&] { add("/{a-b}"); }));
    CHECK(aio_test::throws_as<std::invalid_argument>([&] { add("/{a}/{a}"); }));
    CHECK(aio_test::throws_as<std::invalid_argument>([&] { add("/{a:}"); }));
    std::string why;
    try {
        add("/{a:(}");
    } catch (const std::invalid_argument& e) {
        why = e.what();
    }
    CHECK(why.find("regular expression") != std::string::npos);
    CHECK(why.find("/{a:(}") != std::string::npos);
    CHECK(app.routes().empty());
    add("/{a}/b");
    add("/a{b}c");
    add("/{n:\\d{2,4}}");
    CHECK(app.routes().size() == 6);         // GET and HEAD each
    CHECK(app.routes()[0].regex == nullptr); // whole segments: no regular expression
    CHECK(app.routes()[2].regex != nullptr);
}

AIO_TEST_CASE("{name:regex} and parameters inside a segment match as aiohttp's do") {
    http::application app;
    auto echo = [](http::request& req) -> aio::awaitable<http::response> {
        std::string out;
        for (const auto& [key, value] : req.match_infos()) {
            out += std::string(key) + "=" + std::string(value) + ";";
        }
        co_return http::response::text(out);
    };
    app.get("/user/{id:\\d+}", echo);
    app.get("/user/{name}", echo);
    app.get("/static/{tail:.*}", echo);
    app.get("/files/{name}.{ext:(txt|md)}", echo);
    app.get("/year/{y:\\d{4}}", echo);
    app.post("/static/{tail:.*}", echo);
    http::server srv = co_await http::start_server(app, "127.0.0.1", 0);
    client c = co_await client::open(srv);
    CHECK((co_await c.ask(get("/user/42"))).body() == "id=42;");
    CHECK((co_await c.ask(get("/user/bob"))).body() == "name=bob;"); // the first route failed
    CHECK((co_await c.ask(get("/static/"))).body() == "tail=;");
    CHECK((co_await c.ask(get("/static/a/b%20c.css"))).body() == "tail=a/b c.css;");
    CHECK((co_await c.ask(get("/files/notes.md"))).body() == "name=notes;ext=md;");
    CHECK((co_await c.ask(get("/files/notes.pdf"))).result() == beast_http::status::not_found);
    CHECK((co_await c.ask(get("/files/a/b.txt"))).result() == beast_http::status::not_found);
    CHECK((co_await c.ask(get("/year/2026"))).body() == "y=2026;");
    CHECK((co_await c.ask(get("/year/20266"))).result() == beast_http::status::not_found);
    answer wrong = co_await c.ask("DELETE /static/x HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK(wrong.result() == beast_http::status::method_not_allowed);
    CHECK(wrong[beast_http::field::allow] == "GET, HEAD, POST");
    srv.close();
}

AIO_TEST_CASE("a body past client_max_size gets 413 and the connection closes") {
    http::server_options options;
    options.client_max_size = 16;
    http::server srv = co_await http::start_server(sample_app(), "127.0.0.1", 0, options);
    client declared = co_await client::open(srv);
    answer a = co_await declared.ask(
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 17\r\n\r\n" + std::string(17, 'x'));
    CHECK(a.result() == beast_http::status::payload_too_large);
    bool closed = co_await declared.closed_by_server();
    CHECK(closed);
    client chunked = co_await client::open(srv);
    answer b = co_await chunked.ask("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked"
                                    "\r\n\r\n10\r\n0123456789abcdef\r\n1\r\nx\r\n0\r\n\r\n");
    CHECK(b.result() == beast_http::status::payload_too_large);
    closed = co_await chunked.closed_by_server();
    CHECK(closed);
    client fits = co_await client::open(srv);
    answer c = co_await fits.ask("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 16\r\n\r\n" +
                                 std::string(16, 'y'));
    CHECK(c.body() == std::string(16, 'y'));
    srv.close();
}

AIO_TEST_CASE("garbage gets 400 and a closed connection and a huge header 431") {
    http::server_options options;
    options.max_header_size = 1024;
    http::server srv = co_await http::start_server(sample_app(), "127.0.0.1", 0, options);
    client c = co_await client::open(srv);
    answer a = co_await c.ask("NOT HTTP AT ALL\r\n\r\n");
    CHECK(a.result() == beast_http::status::bad_request);
    bool closed = co_await c.closed_by_server();
    CHECK(closed);
    client big = co_await client::open(srv);
    answer b = co_await big.ask(get("/", "X-Big: " + std::string(2000, 'b') + "\r\n"));
    CHECK(b.result() == beast_http::status::request_header_fields_too_large);
    closed = co_await big.closed_by_server();
    CHECK(closed);
    srv.close();
}

AIO_TEST_CASE("max_header_size is exact: a header of that many bytes passes, one more is 431") {
    http::server_options options;
    options.max_header_size = 1024;
    http::server srv = co_await http::start_server(sample_app(), "127.0.0.1", 0, options);
    // The request line and fields, blank line included, padded to `size` bytes.
    auto sized = [](std::size_t size) {
        std::string head = get("/", "X-Pad: \r\n");
        return get("/", "X-Pad: " + std::string(size - head.size(), 'p') + "\r\n");
    };
    REQUIRE(sized(1024).size() == 1024);
    // Whole, and in 39-byte pieces (how the bytes arrive must not move the limit).
    for (std::size_t piece : {std::size_t{1024}, std::size_t{39}}) {
        for (std::size_t size : {std::size_t{1024}, std::size_t{1025}}) {
            CAPTURE(piece);
            CAPTURE(size);
            client c = co_await client::open(srv);
            std::string request = sized(size);
            for (std::size_t at = 0; at < request.size(); at += piece) {
                c.send(request.substr(at, piece));
                co_await c.streams.writer.drain();
            }
            std::optional<answer> a = co_await c.receive();
            REQUIRE(a.has_value());
            CHECK(a->result() == (size == 1024
                                      ? beast_http::status::ok
                                      : beast_http::status::request_header_fields_too_large));
        }
    }
    srv.close();
}

TEST_CASE("a handler's exception becomes a 500 that is reported and the connection goes on") {
    aio_test::report_log log;
    aio_test::run([&]() -> aio::awaitable<void> {
        log.install(co_await aio::this_loop());
        http::server srv = co_await http::start_server(sample_app(), "127.0.0.1", 0);
        client c = co_await client::open(srv);
        answer a = co_await c.ask(get("/fail"));
        CHECK(a.result() == beast_http::status::internal_server_error);
        answer b = co_await c.ask(get("/"));
        CHECK(b.result() == beast_http::status::ok);
        srv.close();
    });
    REQUIRE(log.entries.size() == 1);
    CHECK(log.entries[0].message.find("GET /fail") != std::string::npos);
    CHECK(aio::describe(log.entries[0].exception).find("the handler failed") != std::string::npos);
}

AIO_TEST_CASE("keep-alive serves two requests on one connection and honours Connection: close") {
    http::server srv = co_await http::start_server(sample_app(), "127.0.0.1", 0);
    client c = co_await client::open(srv);
    answer a = co_await c.ask(get("/hello/a"));
    answer b = co_await c.ask(get("/hello/b"));
    CHECK(a.body() == "Hello, a");
    CHECK(b.body() == "Hello, b");
    CHECK(srv.connections() == 1);
    answer last = co_await c.ask(get("/", "Connection: close\r\n"));
    CHECK(last[beast_http::field::connection] == "close");
    bool closed = co_await c.closed_by_server();
    CHECK(closed);
    srv.close();
}

AIO_TEST_CASE("pipelined requests are answered in order") {
    http::application app;
    // The first request's handler finishes last: the answers still come in request order.
    auto slow_first = [](http::request& req) -> aio::awaitable<http::response> {
        std::string name(req.match_info("n"));
        if (name == "1") {
            co_await aio::sleep(0ms);
            co_await aio::sleep(0ms);
        }
        co_return http::response::text(name);
    };
    app.get("/{n}", slow_first);
    http::server srv = co_await http::start_server(app, "127.0.0.1", 0);
    client c = co_await client::open(srv);
    c.send(get("/1") + "POST /2 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc" + get("/3"));
    std::vector<std::string> bodies;
    for (int i = 0; i < 3; ++i) {
        std::optional<answer> a = co_await c.receive();
        REQUIRE(a.has_value());
        bodies.push_back(a->body());
    }
    // The POST has no route for its method: a 405, its body skipped, and the third parsed.
    CHECK(bodies == std::vector<std::string>{"1", "405: Method Not Allowed", "3"});
    srv.close();
}

AIO_TEST_CASE("a chunked upload is read whole or piece by piece with chunks()") {
    http::application app;
    app.post("/echo", [](http::request& req) -> aio::awaitable<http::response> {
        std::string body = co_await req.text();
        co_return http::response::text(body);
    });
    app.post("/pieces", [](http::request& req) -> aio::awaitable<http::response> {
        auto pieces = req.chunks();
        std::string out;
        while (auto piece = co_await pieces.next()) {
            out += "[" + *piece + "]";
        }
        co_return http::response::text(out);
    });
    http::server srv = co_await http::start_server(app, "127.0.0.1", 0);
    client c = co_await client::open(srv);
    answer a = co_await c.ask("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    CHECK(a.body() == "hello world");
    c.send("POST /pieces HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
    co_await aio::sleep(0ms);
    c.send("2\r\nde\r\n0\r\n\r\n");
    std::optional<answer> b = co_await c.receive();
    REQUIRE(b.has_value());
    CHECK((b->body() == "[abc][de]" || b->body() == "[abcde]" || b->body() == "[abc][d][e]"));
    srv.close();
}

AIO_TEST_CASE("a streamed response goes out in chunks as the generator yields (SSE)") {
    auto events = std::make_shared<aio::queue<std::string>>();
    http::application app;
    auto sse = [events](http::request&) -> aio::awaitable<http::response> {
        auto body = [](std::shared_ptr<aio::queue<std::string>> q) -> aio::generator<std::string> {
            for (;;) {
                std::string e = co_await q->get();
                if (e.empty()) {
                    co_return;
                }
                co_yield "data: " + e + "\n\n";
            }
        };
        co_return http::response::stream(body(events), http::status::ok, "text/event-stream");
    };
    app.get("/events", sse);
    http::server srv = co_await http::start_server(app, "127.0.0.1", 0);
    client c = co_await client::open(srv);
    c.send(get("/events"));
    co_await events->put("one");
    // The first event arrives before the second is even produced.
    std::string head = co_await c.streams.reader.readuntil("\r\n\r\n");
    CHECK(head.find("Transfer-Encoding: chunked") != std::string::npos);
    CHECK(head.find("Content-Type: text/event-stream") != std::string::npos);
    std::string first = co_await c.streams.reader.readuntil("\n\n\r\n");
    CHECK(first == "b\r\ndata: one\n\n\r\n");
    co_await events->put("two");
    co_await events->put("");
    std::string rest = co_await c.streams.reader.readuntil("0\r\n\r\n");
    CHECK(rest == "b\r\ndata: two\n\n\r\n0\r\n\r\n");
    answer after = co_await c.ask(get("/nowhere"));
    CHECK(after.result() == beast_http::status::not_found);
    srv.close();
}

AIO_TEST_CASE("middlewares run outermost first and see 404s") {
    auto trail = std::make_shared<std::vector<std::string>>();
    http::application app;
    app.get("/", [trail](http::request&) -> aio::awaitable<http::response> {
        trail->push_back("handler");
        co_return http::response::text("ok");
    });
    auto outer = [trail](http::request& req,
                         const http::handler& next) -> aio::awaitable<http::response> {
        trail->push_back("outer in");
        http::response res = co_await next(req);
        trail->push_back("outer out");
        res.headers().set("X-Outer", "1");
        co_return res;
    };
    auto inner = [trail](http::request& req,
                         const http::handler& next) -> aio::awaitable<http::response> {
        trail->push_back("inner in");
        std::exception_ptr error;
        std::optional<http::response> res;
        try {
            res.emplace(co_await next(req));
        } catch (const http::http_error& e) {
            trail->push_back("inner saw " + std::to_string(static_cast<int>(e.code())));
            res.emplace(http::response::text("custom 404", e.code()));
        }
        trail->push_back("inner out");
        co_return std::move(*res);
    };
    app.use(outer).use(inner);
    http::server srv = co_await http::start_server(app, "127.0.0.1", 0);
    client c = co_await client::open(srv);
    answer a = co_await c.ask(get("/"));
    CHECK(a["X-Outer"] == "1");
    CHECK(*trail ==
          std::vector<std::string>{"outer in", "inner in", "handler", "inner out", "outer out"});
    trail->clear();
    answer b = co_await c.ask(get("/missing"));
    CHECK(b.result() == beast_http::status::not_found);
    CHECK(b.body() == "custom 404");
    CHECK(*trail == std::vector<std::string>{"outer in", "inner in", "inner saw 404", "inner out",
                                             "outer out"});
    srv.close();
}

AIO_TEST_CASE(
    "a client trickling its header is closed after header_timeout while others are served") {
    http::server_options options;
    options.header_timeout = 200ms;
    http::server srv = co_await http::start_server(sample_app(), "127.0.0.1", 0, options);
    client slow = co_await client::open(srv);
    slow.send("GET / HTTP/1.1\r\nX-Slow: ");
    // While the slow client holds its connection, another is served.
    client quick = co_await client::open(srv);
    answer a = co_await quick.ask(get("/"));
    CHECK(a.body() == "root");
    // The slow one keeps sending a byte at a time: it is closed anyway, the header unfinished.
    bool closed = false;
    for (int i = 0; i < 1000 && !closed; ++i) {
        try {
            slow.send("a");
            std::string got = co_await aio::wait_for(slow.streams.reader.read(1), 10ms);
            closed = got.empty();
        } catch (const aio::timeout_error&) {
        } catch (const boost::system::system_error&) {
            closed = true; // reset by the server
        }
    }
    CHECK(closed);
    srv.close();
}

AIO_TEST_CASE(
    "shutdown closes idle connections and lets the request in flight finish before it ends") {
    auto started = std::make_shared<aio::event>();
    auto release = std::make_shared<aio::event>();
    http::application app = sample_app();
    app.get("/slow", [started, release](http::request&) -> aio::awaitable<http::response> {
        started->set();
        co_await release->wait();
        co_return http::response::text("finished");
    });
    http::server srv = co_await http::start_server(app, "127.0.0.1", 0);
    client idle = co_await client::open(srv);
    answer first = co_await idle.ask(get("/"));
    CHECK(first.body() == "root");
    client busy = co_await client::open(srv);
    busy.send(get("/slow"));
    co_await started->wait();
    aio::task<void> shutting = aio::create_task(srv.shutdown(60s));
    bool idle_closed = co_await idle.closed_by_server();
    CHECK(idle_closed);
    CHECK(!shutting.done());
    CHECK(!srv.is_serving());
    release->set();
    std::optional<answer> last = co_await busy.receive();
    REQUIRE(last.has_value());
    CHECK(last->body() == "finished");
    CHECK((*last)[beast_http::field::connection] == "close");
    co_await shutting();
    CHECK(srv.connections() == 0);
}

AIO_TEST_CASE("shutdown cancels the handlers still running once its timeout has passed") {
    auto started = std::make_shared<aio::event>();
    auto saw_cancel = std::make_shared<bool>(false);
    http::application app;
    app.get("/forever", [started, saw_cancel](http::request&) -> aio::awaitable<http::response> {
        started->set();
        aio::event never;
        try {
            co_await never.wait();
        } catch (const aio::cancelled_error&) {
            *saw_cancel = true;
            throw;
        }
        co_return http::response();
    });
    http::server srv = co_await http::start_server(app, "127.0.0.1", 0);
    client c = co_await client::open(srv);
    c.send(get("/forever"));
    co_await started->wait();
    co_await srv.shutdown(50ms);
    CHECK(*saw_cancel);
    CHECK(srv.connections() == 0);
    bool closed = co_await c.closed_by_server();
    CHECK(closed);
}

TEST_CASE("two loops serve one port with reuse_port and each answers connections") {
    std::atomic<std::uint16_t> port{0};
    std::atomic<int> answered{0};
    auto serve_both = [&] {
        aio::run_loops(
            2,
            [&](std::size_t index) -> aio::awaitable<void> {
                http::server_options options;
                options.reuse_port = true;
                http::application app;
                app.get("/", [index](http::request&) -> aio::awaitable<http::response> {
                    co_return http::response::text(std::to_string(index));
                });
                if (index == 0) {
                    http::server srv = co_await http::start_server(app, "127.0.0.1", 0, options);
                    port = srv.port();
                    // Clients on loop 0 until both loops have answered (the kernel spreads them).
                    std::vector<client> clients;
                    for (int i = 0; i < 200 && answered.load() != 3; ++i) {
                        aio::stream_pair s =
                            co_await aio::open_connection("127.0.0.1", port.load());
                        client c{s};
                        answer a = co_await c.ask(get("/"));
                        answered |= a.body() == "0" ? 1 : 2;
                        clients.push_back(std::move(c));
                    }
                    CHECK(answered.load() == 3);
                    srv.close();
                    throw aio::cancelled_error(); // stops every loop: run_loops throws it
                }
                while (port.load() == 0) {
                    co_await aio::sleep(1ms);
                }
                http::server srv =
                    co_await http::start_server(app, "127.0.0.1", port.load(), options);
                co_await srv.serve_forever();
            },
            aio::run_options{.handle_signals = false});
    };
    CHECK(aio_test::throws_as<aio::cancelled_error>(serve_both));
    CHECK(answered.load() == 3);
}

AIO_TEST_CASE(
    "an idle keep-alive connection closes after keepalive_timeout and HTTP/1.0 closes after one") {
    http::server_options options;
    options.keepalive_timeout = 100ms;
    http::server srv = co_await http::start_server(sample_app(), "127.0.0.1", 0, options);
    client c = co_await client::open(srv);
    answer a = co_await c.ask(get("/"));
    CHECK(a.keep_alive());
    std::string rest = co_await aio::wait_for(c.streams.reader.read(), 10s);
    CHECK(rest.empty()); // closed by the server, without a word
    client old = co_await client::open(srv);
    answer b = co_await old.ask("GET /hello/old HTTP/1.0\r\n\r\n");
    CHECK(b.version() == 10);
    CHECK(b.body() == "Hello, old");
    bool closed = co_await old.closed_by_server();
    CHECK(closed);
    srv.close();
}

// aio::http's client against an aiohttp server (tests/http/aiohttp_peer.py starts it and runs
// these cases with AIO_HTTP_PEER_URL set; they are skipped in the ordinary run).
#include "support.hpp"

#include <aio/http/client.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using aio_test::co_throws_as;
namespace http = aio::http;

namespace {
std::string peer(const std::string& path) {
    const char* base = std::getenv("AIO_HTTP_PEER_URL");
    REQUIRE_MESSAGE(base, "run through tests/http/aiohttp_peer.py");
    return base + path;
}
} // namespace

AIO_TEST_CASE("aiohttp peer: keep-alive, one connection for sequential requests" *
              doctest::skip()) {
    http::client_session session;
    for (int i = 0; i < 5; ++i) {
        http::client_response resp = co_await session.get(peer("/hello"));
        std::string body = co_await resp.text();
        CHECK(body == "Hello, world");
    }
    http::client_response count = co_await session.get(peer("/connections"));
    std::string n = co_await count.text();
    CHECK(n == "1");
    co_await session.close();
}

AIO_TEST_CASE("aiohttp peer: JSON both ways" * doctest::skip()) {
    http::client_session session;
    http::request_options options;
    options.json = boost::json::value{{"name", "aio"}, {"n", 3}};
    http::client_response resp = co_await session.post(peer("/json"), options);
    boost::json::value v = co_await resp.json();
    CHECK(v.at("got").at("name") == "aio");
    CHECK(v.at("got").at("n") == 3);
    CHECK(v.at("method") == "POST");
    co_await session.close();
}

AIO_TEST_CASE("aiohttp peer: redirects, 303 POST becomes GET, too many" * doctest::skip()) {
    http::client_session session;
    http::client_response chain = co_await session.get(peer("/redirect/4"));
    std::string done = co_await chain.text();
    CHECK(done == "done");
    CHECK(chain.history().size() == 4);
    CHECK(chain.url() == peer("/redirect/0"));
    http::request_options post;
    post.text = "payload";
    http::client_response see = co_await session.post(peer("/see-other"), post);
    std::string method = co_await see.text();
    CHECK(method == "GET 0");
    bool too_many =
        co_await co_throws_as<http::too_many_redirects>(session.get(peer("/redirect/11")));
    CHECK(too_many);
    co_await session.close();
}

AIO_TEST_CASE("aiohttp peer: a chunked response, whole and in pieces" * doctest::skip()) {
    http::client_session session;
    http::client_response whole = co_await session.get(peer("/chunked"));
    std::string body = co_await whole.text();
    CHECK(body == "chunk0;chunk1;chunk2;");
    http::client_response streamed = co_await session.get(peer("/chunked"));
    std::string joined;
    auto gen = streamed.iter_chunked(5);
    while (auto piece = co_await gen.next()) {
        CHECK(piece->size() <= 5);
        joined += *piece;
    }
    CHECK(joined == "chunk0;chunk1;chunk2;");
    co_await session.close();
}

AIO_TEST_CASE("aiohttp peer: sock_read timeout, raise_for_status" * doctest::skip()) {
    http::client_session session;
    http::request_options quick;
    quick.timeout = http::client_timeout{};
    quick.timeout->sock_read = 50ms;
    bool timed_out =
        co_await co_throws_as<http::client_timeout_error>(session.get(peer("/slow"), quick));
    CHECK(timed_out);
    http::client_response missing = co_await session.get(peer("/status/404"));
    bool raised =
        aio_test::throws_as<http::client_response_error>([&] { missing.raise_for_status(); });
    CHECK(raised);
    http::client_response after = co_await session.get(peer("/hello"));
    std::string body = co_await after.text();
    CHECK(body == "Hello, world");
    co_await session.close();
}

AIO_TEST_CASE("aiohttp peer: WebSocket echo, ping, and closes both ways" * doctest::skip()) {
    http::client_session session;
    std::string url = peer("/ws");
    url.replace(0, 4, "ws"); // http://... as ws://...
    http::client_websocket ws = co_await session.ws_connect(url);
    co_await ws.send_str("hello");
    CHECK(co_await ws.receive_str() == "hello");
    co_await ws.send_bytes(std::string("\x00\x01", 2));
    CHECK(co_await ws.receive_bytes() == std::string("\x00\x01", 2));
    co_await ws.ping("p1");
    CHECK(co_await ws.receive_str() == "ping p1");
    for (int i = 0; i < 50; ++i) {
        co_await ws.send_str("m" + std::to_string(i));
    }
    for (int i = 0; i < 50; ++i) {
        CHECK(co_await ws.receive_str() == "m" + std::to_string(i));
    }
    co_await ws.send_str("close:4003");
    http::ws_message closing = co_await ws.receive();
    CHECK(closing.type == http::ws_msg_type::close);
    CHECK(closing.code == 4003);
    CHECK(closing.data == "asked");

    http::client_websocket second = co_await session.ws_connect(url);
    co_await second.send_str("x");
    CHECK(co_await second.receive_str() == "x");
    CHECK(co_await second.close(4004, "bye"));
    // aiohttp answers a close with 1000 whatever the code: close_code() is the answer.
    CHECK(second.close_code().value_or(0) == http::ws_close_code::ok);

    http::client_websocket third = co_await session.ws_connect(url);
    co_await third.send_str(std::string(1025, 'y'));
    http::ws_message too_big = co_await third.receive();
    CHECK(too_big.type == http::ws_msg_type::close);
    CHECK(too_big.code == http::ws_close_code::message_too_big);

    bool refused = false;
    try {
        http::client_websocket none = co_await session.ws_connect(peer("/hello"));
    } catch (const http::ws_server_handshake_error& e) {
        refused = e.status() == 200;
    }
    CHECK(refused);
    co_await session.close();
}

// Tests of aio/http/websocket.hpp, websocket_response.hpp and client_websocket.hpp: aio's
// WebSocket client against aio's server on the loopback interface, and raw bytes where the
// wire itself is the point.
#include "fixtures.hpp"
#include "support.hpp"

#include <aio/http/client_session.hpp>
#include <aio/http/server.hpp>
#include <aio/http/websocket_response.hpp>
#include <aio/streams.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace http = aio::http;

namespace {

/// What the server's handlers saw, for the tests to check once the handler is done.
struct server_log {
    std::optional<std::uint16_t> close_code;
    std::vector<http::ws_message> received;
    aio::event handler_done;
    aio::event opened;
};

/// An echo server: each text or binary message comes back as it came; "close:N" makes the
/// server close with code N; a ping payload comes back as "ping ok" after a send.
http::application echo_app(std::shared_ptr<server_log> log, http::websocket_options options = {}) {
    http::application app;
    app.get("/ws", [log, options](http::request& req) -> aio::awaitable<http::response> {
        http::websocket_response ws(options);
        co_await ws.prepare(req);
        log->opened.set();
        for (auto msgs = ws.messages(); auto msg = co_await msgs.next();) {
            log->received.push_back(*msg);
            if (msg->type == http::ws_msg_type::text && msg->data.starts_with("close:")) {
                co_await ws.close(static_cast<std::uint16_t>(std::stoi(msg->data.substr(6))),
                                  "asked");
            } else if (msg->type == http::ws_msg_type::text) {
                co_await ws.send_str(msg->data);
            } else if (msg->type == http::ws_msg_type::binary) {
                co_await ws.send_bytes(msg->data);
            }
        }
        log->close_code = ws.close_code();
        log->handler_done.set();
        co_return ws.finish();
    });
    return app;
}

std::string ws_url(const http::server& srv) {
    return "ws://127.0.0.1:" + std::to_string(srv.port()) + "/ws";
}

} // namespace

AIO_TEST_CASE("websocket: text and binary messages are echoed in order, then a client close") {
    auto log = std::make_shared<server_log>();
    http::server srv = co_await http::start_server(echo_app(log), "127.0.0.1", 0);
    http::client_session session;
    http::client_websocket ws = co_await session.ws_connect(ws_url(srv));
    CHECK(!ws.closed());
    co_await ws.send_str("hello");
    http::ws_message m = co_await ws.receive();
    CHECK(m.type == http::ws_msg_type::text);
    CHECK(m.data == "hello");
    std::string binary("\x00\x01\xff", 3);
    co_await ws.send_bytes(binary);
    CHECK(co_await ws.receive_bytes() == binary);
    for (int i = 0; i < 100; ++i) {
        co_await ws.send_str("m" + std::to_string(i));
    }
    for (int i = 0; i < 100; ++i) {
        CHECK(co_await ws.receive_str() == "m" + std::to_string(i));
    }
    boost::json::value sent = {{"a", 1}};
    co_await ws.send_json(sent);
    boost::json::value echoed = co_await ws.receive_json();
    CHECK(echoed.at("a").as_int64() == 1);
    CHECK(co_await ws.close(4001, "bye"));
    CHECK(ws.closed());
    CHECK(ws.close_code() == 4001); // the server answers with the client's code
    CHECK(!co_await ws.close());
    co_await log->handler_done.wait();
    CHECK(log->close_code == 4001);
    CHECK(log->received.size() == 103);
    http::ws_message after = co_await ws.receive();
    CHECK(after.type == http::ws_msg_type::closed);
    co_await srv.shutdown(1s);
    co_await session.close();
}

AIO_TEST_CASE("websocket: the server closes with a code and the client receives it") {
    auto log = std::make_shared<server_log>();
    http::server srv = co_await http::start_server(echo_app(log), "127.0.0.1", 0);
    http::client_session session;
    http::client_websocket ws = co_await session.ws_connect(ws_url(srv));
    co_await ws.send_str("close:4002");
    http::ws_message m = co_await ws.receive();
    CHECK(m.type == http::ws_msg_type::close);
    CHECK(m.code == 4002);
    CHECK(m.data == "asked");
    CHECK(ws.close_code() == 4002);
    CHECK(ws.closed());
    co_await log->handler_done.wait();
    CHECK(log->close_code == 4002);
    co_await srv.shutdown(1s);
}

AIO_TEST_CASE("websocket: a ping is answered and the WebSocket goes on") {
    auto log = std::make_shared<server_log>();
    http::server srv = co_await http::start_server(echo_app(log), "127.0.0.1", 0);
    http::client_session session;
    http::client_websocket ws = co_await session.ws_connect(ws_url(srv));
    co_await ws.ping("are you there");
    co_await ws.send_str("after the ping");
    CHECK(co_await ws.receive_str() == "after the ping");
    CHECK(co_await ws.close());
    co_await log->handler_done.wait();
    CHECK(log->close_code == http::ws_close_code::ok);
    co_await srv.shutdown(1s);
}

AIO_TEST_CASE("websocket: a message over max_msg_size closes with 1009 and is reported") {
    auto log = std::make_shared<server_log>();
    http::websocket_options small;
    small.max_msg_size = 10;
    http::server srv = co_await http::start_server(echo_app(log, small), "127.0.0.1", 0);
    http::client_session session;
    http::client_websocket ws = co_await session.ws_connect(ws_url(srv));
    co_await ws.send_str("0123456789"); // at the limit: passes
    CHECK(co_await ws.receive_str() == "0123456789");
    co_await ws.send_str("0123456789a");
    http::ws_message m = co_await ws.receive();
    CHECK(m.type == http::ws_msg_type::close);
    CHECK(m.code == http::ws_close_code::message_too_big);
    co_await log->handler_done.wait();
    REQUIRE(log->received.size() == 2);
    CHECK(log->received[1].type == http::ws_msg_type::error);
    CHECK(log->received[1].code == http::ws_close_code::message_too_big);
    CHECK(log->close_code == http::ws_close_code::message_too_big);
    co_await srv.shutdown(1s);
}

AIO_TEST_CASE("websocket: a plain GET of a WebSocket route gets 400, a refused upgrade throws") {
    auto log = std::make_shared<server_log>();
    http::server srv = co_await http::start_server(echo_app(log), "127.0.0.1", 0);
    http::client_session session;
    http::client_response plain =
        co_await session.get("http://127.0.0.1:" + std::to_string(srv.port()) + "/ws");
    CHECK(plain.status() == 400);
    CHECK((co_await plain.text()).starts_with("No WebSocket UPGRADE hdr"));
    bool refused = false;
    try {
        http::client_websocket ws = co_await session.ws_connect(
            "ws://127.0.0.1:" + std::to_string(srv.port()) + "/elsewhere");
    } catch (const http::ws_server_handshake_error& e) {
        refused = e.status() == 404;
    }
    CHECK(refused);
    co_await session.close();
    co_await srv.shutdown(1s);
}

AIO_TEST_CASE("websocket: a frame sent with the upgrade request is not lost") {
    auto log = std::make_shared<server_log>();
    http::server srv = co_await http::start_server(echo_app(log), "127.0.0.1", 0);
    aio::stream_pair c = co_await aio::open_connection("127.0.0.1", srv.port());
    // The upgrade and a masked text frame "early" (mask 0: the payload as is), in one write.
    std::string frame = std::string("\x81\x85\0\0\0\0", 6) + "early";
    c.writer.write("GET /ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n" +
                   frame);
    std::string head = co_await c.reader.readuntil("\r\n\r\n");
    CHECK(head.starts_with("HTTP/1.1 101"));
    CHECK(head.find("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != std::string::npos);
    std::string echoed = co_await c.reader.readexactly(7);
    CHECK(echoed == std::string("\x81\x05", 2) + "early");
    c.writer.close();
    co_await log->handler_done.wait();
    REQUIRE(log->received.size() == 1);
    CHECK(log->received[0].data == "early");
    co_await srv.shutdown(1s);
}

AIO_TEST_CASE(
    "websocket: a second receive at once throws, cancelling a receive aborts the connection") {
    auto log = std::make_shared<server_log>();
    http::server srv = co_await http::start_server(echo_app(log), "127.0.0.1", 0);
    http::client_session session;
    http::client_websocket ws = co_await session.ws_connect(ws_url(srv));
    auto receiving = [&ws](aio::future<void> started) -> aio::awaitable<http::ws_message> {
        started.set_result();
        co_return co_await ws.receive();
    };
    aio::task<http::ws_message> t = co_await aio_test::start_task(receiving);
    CHECK(co_await aio_test::co_throws_as<std::logic_error>(ws.receive())); // one at a time
    CHECK(co_await aio_test::cancel_and_await(t));
    CHECK(ws.closed());
    CHECK(ws.close_code() == http::ws_close_code::abnormal_closure);
    co_await log->handler_done.wait();
    CHECK(log->close_code == http::ws_close_code::abnormal_closure);
    co_await srv.shutdown(1s);
}

AIO_TEST_CASE("websocket: the server's shutdown closes open WebSockets with 1001") {
    auto log = std::make_shared<server_log>();
    http::server srv = co_await http::start_server(echo_app(log), "127.0.0.1", 0);
    http::client_session session;
    http::client_websocket ws = co_await session.ws_connect(ws_url(srv));
    co_await log->opened.wait();
    aio::task<void> shutting = aio::create_task(srv.shutdown(60s));
    http::ws_message m = co_await ws.receive();
    CHECK(m.type == http::ws_msg_type::close);
    CHECK(m.code == http::ws_close_code::going_away);
    co_await shutting();
    CHECK(srv.connections() == 0);
    CHECK(log->close_code == http::ws_close_code::going_away);
}

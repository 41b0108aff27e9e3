// peer_server: an aio::http server for tests/http/real_peers.py, which checks it with curl and
// aiohttp's client. Serves on 127.0.0.1 on a free port (printed in run_app's banner) until
// SIGTERM, then exits 0.
//
//   GET  /                 "root"
//   GET  /hello/{name}     "Hello, {name}"
//   POST /echo             the body back (client_max_size: 1 MiB)
//   POST /json             {"got": <the JSON body>}
//   GET  /fail             a handler that throws: 500
//   GET  /ws               a WebSocket echo (max_msg_size 1 KiB): text and binary come back;
//                          "close" makes the server close with 4000
//
// Built a second time with AIO_PEER_SERVER_TLS (aio_https_peer_server): `CERT KEY` as arguments
// make it serve https with that certificate (real_peers.py https).
#include <aio/http/boost_sources.hpp>
#include <aio/http/server.hpp>
#include <aio/http/websocket_response.hpp>
#ifdef AIO_PEER_SERVER_TLS
#include <aio/net/tls.hpp>
#endif

#include <stdexcept>
#include <string>

namespace web = aio::http;

int main([[maybe_unused]] int argc, [[maybe_unused]] char** argv) {
    web::application app;
    app.get("/", [](web::request&) -> aio::awaitable<web::response> {
        co_return web::response::text("root");
    });
    app.get("/hello/{name}", [](web::request& req) -> aio::awaitable<web::response> {
        co_return web::response::text("Hello, " + std::string(req.match_info("name")));
    });
    app.post("/echo", [](web::request& req) -> aio::awaitable<web::response> {
        std::string body = co_await req.read();
        co_return web::response::text(std::move(body));
    });
    app.post("/json", [](web::request& req) -> aio::awaitable<web::response> {
        boost::json::value value = co_await req.json();
        co_return web::response::json({{"got", value}});
    });
    app.get("/fail", [](web::request&) -> aio::awaitable<web::response> {
        throw std::runtime_error("peer_server: /fail fails");
        co_return web::response();
    });
    app.get("/ws", [](web::request& req) -> aio::awaitable<web::response> {
        web::websocket_options limits;
        limits.max_msg_size = 1024;
        web::websocket_response ws(limits);
        co_await ws.prepare(req);
        for (auto msgs = ws.messages(); auto msg = co_await msgs.next();) {
            if (msg->type == web::ws_msg_type::text && msg->data == "close") {
                co_await ws.close(4000, "as asked");
            } else if (msg->type == web::ws_msg_type::text) {
                co_await ws.send_str(msg->data);
            } else if (msg->type == web::ws_msg_type::binary) {
                co_await ws.send_bytes(msg->data);
            }
        }
        co_return ws.finish();
    });
    web::run_app_options options;
    options.host = "127.0.0.1";
    options.port = 0;
#ifdef AIO_PEER_SERVER_TLS
    if (argc == 3) {
        options.ssl = aio::create_server_context(argv[1], argv[2]);
    }
#endif
    web::run_app(app, options);
    return 0;
}

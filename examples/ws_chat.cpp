// ws_chat: a WebSocket chat room, the browser's classic demo on aio::http (aiohttp's
// web.WebSocketResponse): GET / serves a page with a small JavaScript client, and /ws
// broadcasts each text message it receives to every connected client.
//
//   ./ws_chat                   serves on 127.0.0.1:18092, runs three chat clients against
//                               it (each sends a line, every client must get every line),
//                               checks the page, prints what happened, shuts down, exits 0
//                               (1 if a client missed a line)
//   ./ws_chat --serve [--host HOST] [--port PORT]
//                serves on HOST (127.0.0.1) : PORT (8080) until SIGINT or SIGTERM: open
//                http://HOST:PORT/ in two browser windows and chat
#include <aio/aio.hpp>
#include <aio/http/boost_sources.hpp> // Boost.JSON's and Boost.URL's compiled parts, once
#include <aio/http/client.hpp>
#include <aio/http/server.hpp>
#include <aio/http/websocket_response.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace web = aio::http;

constexpr std::string_view page = R"(<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>aio chat</title></head>
<body>
<h1>aio chat</h1>
<pre id="log"></pre>
<form id="form"><input id="line" autocomplete="off" autofocus><button>Send</button></form>
<script>
const log = document.getElementById("log");
const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") +
                         location.host + "/ws");
ws.onmessage = (event) => { log.textContent += event.data + "\n"; };
ws.onclose = (event) => { log.textContent += "(closed: " + event.code + ")\n"; };
document.getElementById("form").onsubmit = (event) => {
    event.preventDefault();
    const line = document.getElementById("line");
    if (line.value) { ws.send(line.value); line.value = ""; }
};
</script>
</body>
</html>
)";

/// The connected clients. Loop-affine: every handler runs on the server's one loop.
using room = std::set<std::shared_ptr<web::websocket_response>>;

/// Sends `line` to everyone in the room; a client that is gone is skipped (its own handler
/// takes it out of the room).
aio::awaitable<void> broadcast(const room& members, std::string line) {
    room now = members; // a copy: the room may change while a send waits
    for (const auto& member : now) {
        try {
            co_await member->send_str(line);
        } catch (const boost::system::system_error&) {
        }
    }
}

web::application make_app() {
    auto members = std::make_shared<room>();
    web::application app;
    app.get("/", [](web::request&) -> aio::awaitable<web::response> {
        co_return web::response::text(std::string(page), web::status::ok,
                                      "text/html; charset=utf-8");
    });
    app.get("/ws", [members](web::request& req) -> aio::awaitable<web::response> {
        auto ws = std::make_shared<web::websocket_response>();
        co_await ws->prepare(req);
        members->insert(ws);
        co_await ws->send_str("welcome");
        for (auto msgs = ws->messages(); auto msg = co_await msgs.next();) {
            if (msg->type == web::ws_msg_type::text) {
                co_await broadcast(*members, msg->data);
            }
        }
        members->erase(ws);
        co_return ws->finish();
    });
    return app;
}

/// One chat client of the demo: connects, waits for the welcome, tells `joined`, waits for
/// `go`, sends `line`, then collects `expected` lines.
aio::awaitable<std::vector<std::string>> chatter(web::client_session& session, std::string url,
                                                 std::string line, std::size_t expected,
                                                 aio::barrier& joined) {
    web::client_websocket ws = co_await session.ws_connect(url);
    std::string welcome = co_await ws.receive_str();
    co_await joined.wait(); // everyone is in the room before anyone speaks
    co_await ws.send_str(line);
    std::vector<std::string> got;
    while (got.size() < expected) {
        got.push_back(co_await ws.receive_str());
    }
    co_await ws.close();
    std::sort(got.begin(), got.end());
    co_return got;
}

/// The demo: the server, the page, three clients; true if every client got every line.
aio::awaitable<bool> demo(std::uint16_t port) {
    web::server server = co_await web::start_server(make_app(), "127.0.0.1", port);
    std::string base = "127.0.0.1:" + std::to_string(port);
    web::client_session session;
    web::client_response home = co_await session.get("http://" + base + "/");
    std::string html = co_await home.text();
    bool page_ok = home.status() == 200 && html == page;
    std::cout << "GET /: " << home.status() << ", the chat page: " << (page_ok ? "yes" : "no")
              << '\n';
    std::vector<std::string> lines{"hello from ann", "hello from bob", "hello from cat"};
    aio::barrier joined(lines.size());
    std::vector<aio::awaitable<std::vector<std::string>>> clients;
    for (const std::string& line : lines) {
        clients.push_back(chatter(session, "ws://" + base + "/ws", line, lines.size(), joined));
    }
    auto received = co_await aio::gather(std::move(clients));
    bool all = page_ok;
    for (std::size_t i = 0; i < received.size(); ++i) {
        std::cout << "client " << i + 1 << " got:";
        for (const std::string& line : received[i]) {
            std::cout << " [" << line << ']';
        }
        std::cout << '\n';
        all = all && received[i] == lines;
    }
    co_await session.close();
    co_await server.shutdown();
    std::cout << (all ? "every client got every line" : "a line was missed") << '\n';
    co_return all;
}

constexpr std::string_view usage = "usage: ws_chat [--serve [--host HOST] [--port PORT]]\n";

/// --serve [--host HOST] [--port PORT]: the chat server alone, until a signal.
int serve(int argc, char** argv) {
    web::run_app_options options;
    options.host = "127.0.0.1";
    for (int i = 2; i < argc; ++i) {
        std::string_view arg = argv[i];
        if ((arg == "--host" || arg == "--port") && i + 1 < argc) {
            std::string_view value = argv[++i];
            if (arg == "--host") {
                options.host = value;
                continue;
            }
            unsigned port = 0;
            auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), port);
            if (ec == std::errc() && end == value.data() + value.size() && port <= 65535) {
                options.port = static_cast<std::uint16_t>(port);
                continue;
            }
        }
        std::cerr << usage;
        return 2;
    }
    try {
        web::run_app(make_app(), options); // until SIGINT or SIGTERM
    } catch (const boost::system::system_error& e) {
        std::cerr << "ws_chat: " << e.what() << '\n';
        return 1;
    }
    return 0;
}

int main(int argc, char** argv) {
    if (argc > 1) {
        if (std::string_view(argv[1]) == "--serve") {
            return serve(argc, argv);
        }
        std::cerr << usage;
        return 2;
    }
    return aio::run(demo(18092)) ? 0 : 1;
}

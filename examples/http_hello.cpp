// http_hello: the aio port of the book's aiohttp hello world (chapter 4, examples/http_hello.py):
// a server whose GET / answers "Hello, world" and GET /{name} "Hello, {name}", each after a
// 0.2 s sleep, and a client session fetching five URLs from it at once with gather. The five
// slow requests take about 0.2 s together, not 1 s one after another.
//
//   ./http_hello                serves on 127.0.0.1:18090, fetches, prints, shuts down, exits 0
//                               (prints what the Python original prints)
//   ./http_hello --serve [--host HOST] [--port PORT]
//                serves on HOST (127.0.0.1) : PORT (8080) until SIGINT or SIGTERM, then shuts
//                down gracefully (requests in flight finish) and exits 0
//
// aiohttp's web.run_app(app) is aio::http::run_app(app, options); AppRunner + TCPSite is
// aio::http::start_server; ClientSession is aio::http::client_session.
#include <aio/aio.hpp>
#include <aio/http/boost_sources.hpp> // Boost.JSON's and Boost.URL's compiled parts, once
#include <aio/http/client.hpp>
#include <aio/http/server.hpp>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
namespace web = aio::http;

// async def hello(request):
//     name = request.match_info.get('name', 'world')
//     await asyncio.sleep(0.2)
//     return web.Response(text=f'Hello, {name}')
aio::awaitable<web::response> hello(web::request& request) {
    std::string name = "world";
    if (!request.match_infos().empty()) {
        name = request.match_info("name");
    }
    co_await aio::sleep(200ms);
    co_return web::response::text("Hello, " + name);
}

// app = web.Application(); app.router.add_get('/', hello); app.router.add_get('/{name}', hello)
web::application make_app() {
    web::application app;
    app.get("/", hello);
    app.get("/{name}", hello);
    return app;
}

// async def fetch(session, url):
//     async with session.get(url) as resp:
//         return resp.status, await resp.text()
aio::awaitable<std::pair<unsigned, std::string>> fetch(web::client_session& session,
                                                       std::string url) {
    web::client_response resp = co_await session.get(std::move(url));
    std::string text = co_await resp.text();
    co_return std::pair{resp.status(), std::move(text)};
}

// The five fetches at once (the part of main() inside try: ... finally: runner.cleanup()).
aio::awaitable<void> fetch_all(std::uint16_t port) {
    std::vector<std::string> paths{"/", "/alice", "/bob", "/carol", "/no/such/page"};
    std::vector<aio::awaitable<std::pair<unsigned, std::string>>> fetches;
    web::client_session session; // async with ClientSession() as session:
    auto t0 = std::chrono::steady_clock::now();
    for (const std::string& path : paths) {
        fetches.push_back(fetch(session, "http://127.0.0.1:" + std::to_string(port) + path));
    }
    auto results = co_await aio::gather(std::move(fetches));
    auto elapsed = std::chrono::steady_clock::now() - t0;
    co_await session.close();
    for (std::size_t i = 0; i < paths.size(); ++i) {
        std::cout << paths[i] << ": " << results[i].first << ' ' << results[i].second << '\n';
    }
    std::cout << "5 requests concurrently in under 0.4 s: " << (elapsed < 400ms ? "True" : "False")
              << '\n';
}

// async def main(port=18090): the server started, the fetches, then the server cleaned up.
aio::awaitable<void> amain(std::uint16_t port = 18090) {
    web::server server = co_await web::start_server(make_app(), "127.0.0.1", port);
    co_await aio::finally(fetch_all(port), [&]() { return server.shutdown(); });
}

constexpr std::string_view usage = "usage: http_hello [--serve [--host HOST] [--port PORT]]\n";

/// --serve [--host HOST] [--port PORT]: the server alone, until a signal.
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
        std::cerr << "http_hello: " << e.what() << '\n';
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
    aio::run(amain()); // asyncio.run(main())
    return 0;
}

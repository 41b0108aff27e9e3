// http_hello: the aio port of the book's aiohttp hello world (chapter 4's p8_http.py), its
// server: GET / answers "Hello, world" and GET /{name} "Hello, {name}", each after a 0.2 s
// sleep (a slow handler: requests in flight at once each take 0.2 s, not one after another).
//
//   ./http_hello [--host HOST] [--port PORT]
//                serves on HOST (127.0.0.1) : PORT (8080) until SIGINT or SIGTERM, then shuts
//                down gracefully (requests in flight finish) and exits 0
//
// aiohttp's web.run_app(app) is aio::http::run_app(app, options).
#include <aio/http/boost_sources.hpp> // Boost.JSON's and Boost.URL's compiled parts, once
#include <aio/http/server.hpp>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <string_view>

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

int main(int argc, char** argv) {
    web::run_app_options options;
    options.host = "127.0.0.1";
    for (int i = 1; i < argc; ++i) {
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
        std::cerr << "usage: http_hello [--host HOST] [--port PORT]\n";
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

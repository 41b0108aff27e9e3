// news_scraper: the aio port of the book's news scraper (chapter 4, examples/news_scraper.py)
// without the network. /news fetches the front pages of several news sites at once with gather,
// takes the headlines out of each, and serves them as one page; a site that answers with an
// error shows as unavailable instead of failing the page. The sites are served by the same
// program, under /sites/NAME, so that it runs anywhere.
//
//   ./news_scraper           serves on 127.0.0.1:18091, asks for /news once, prints its boxes,
//                            shuts down, exits 0 (prints what the Python original prints)
//   ./news_scraper --serve   serves on 127.0.0.1:18091 until SIGINT or SIGTERM (open /news in a
//                            browser)
#include <aio/aio.hpp>
#include <aio/http/boost_sources.hpp> // Boost.JSON's and Boost.URL's compiled parts, once
#include <aio/http/client.hpp>
#include <aio/http/server.hpp>

#include <cstddef>
#include <cstdint>
#include <iostream>
#include <map>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace web = aio::http;

constexpr std::uint16_t port = 18091;
const std::string base = "http://127.0.0.1:" + std::to_string(port);
// The sites /news reads, and the headlines on each one's front page (a site without headlines
// here answers 503).
const std::vector<std::string> sites{"daily", "herald", "courier"};
const std::map<std::string, std::vector<std::string>, std::less<>> front_pages{
    {"daily", {"Harbour bridge reopens after repairs", "Local team wins the cup"}},
    {"herald", {"Rain expected all week", "Library opens a night reading room", "Markets calm"}},
};
const std::regex
    headline_pattern(R"re(<a href="([^"]+)"><span class="headline">([^<]+)</span></a>)re");
const std::regex box_pattern(R"re(<div class="box ([a-z]+)">(.*?)</div>)re");

struct headline {
    std::string url;
    std::string title;
};

// async def front_page(request): one site's front page, its headlines as links.
aio::awaitable<web::response> front_page(web::request& request) {
    std::string name(request.match_info("site"));
    auto page = front_pages.find(name);
    if (page == front_pages.end()) {
        throw web::http_error(web::status::service_unavailable);
    }
    std::string links;
    int number = 0;
    for (const std::string& title : page->second) {
        links += "<li><a href=\"/" + name + "/" + std::to_string(++number) +
                 ".html\"><span class=\"headline\">" + title + "</span></a></li>";
    }
    co_return web::response::text("<html><body><ul>" + links + "</ul></body></html>",
                                  web::status::ok, "text/html");
}

// async def headlines(session, name): a site's front page, its headlines taken out.
aio::awaitable<std::vector<headline>> headlines(web::client_session& session, std::string name) {
    web::client_response resp = co_await session.get(base + "/sites/" + name);
    resp.raise_for_status();
    std::string page = co_await resp.text();
    std::vector<headline> found;
    for (std::sregex_iterator it(page.begin(), page.end(), headline_pattern), end; it != end;
         ++it) {
        found.push_back({base + (*it)[1].str(), (*it)[2].str()});
    }
    co_return found;
}

// async def news(request): every site's headlines, fetched at once, in one page.
aio::awaitable<web::response> news(web::request&) {
    web::client_session session; // async with ClientSession() as session:
    std::vector<aio::awaitable<std::vector<headline>>> fetches;
    for (const std::string& name : sites) {
        fetches.push_back(headlines(session, name));
    }
    auto found = co_await aio::gather(aio::return_exceptions, std::move(fetches));
    co_await session.close();
    std::string boxes;
    for (std::size_t i = 0; i < sites.size(); ++i) {
        try {
            for (const headline& h : found[i].value()) { // rethrows what the fetch threw
                boxes += "<div class=\"box " + sites[i] + "\"><a href=\"" + h.url + "\">" +
                         h.title + "</a></div>";
            }
        } catch (const web::client_response_error& e) {
            boxes += "<div class=\"box " + sites[i] + "\">unavailable (" +
                     std::to_string(e.status()) + ")</div>";
        }
    }
    co_return web::response::text("<html><body>" + boxes + "</body></html>", web::status::ok,
                                  "text/html");
}

web::application make_app() {
    web::application app;
    app.get("/news", news);
    app.get("/sites/{site}", front_page);
    return app;
}

// async def show_news(): /news asked for once, its boxes printed.
aio::awaitable<void> show_news() {
    web::client_session session;
    web::client_response resp = co_await session.get(base + "/news");
    std::string page = co_await resp.text();
    std::string_view type = resp.headers()[boost::beast::http::field::content_type];
    std::cout << "/news: " << resp.status() << ' ' << type.substr(0, type.find(';')) << '\n';
    co_await session.close();
    for (std::sregex_iterator it(page.begin(), page.end(), box_pattern), end; it != end; ++it) {
        std::cout << '[' << (*it)[1] << "] " << (*it)[2] << '\n';
    }
}

// async def main(): the server started, /news shown, then the server cleaned up.
aio::awaitable<void> amain() {
    web::server server = co_await web::start_server(make_app(), "127.0.0.1", port);
    co_await aio::finally(show_news(), [&]() { return server.shutdown(); });
}

int main(int argc, char** argv) {
    if (argc == 2 && std::string_view(argv[1]) == "--serve") {
        web::run_app_options options;
        options.host = "127.0.0.1";
        options.port = port;
        web::run_app(make_app(), options); // until SIGINT or SIGTERM
        return 0;
    }
    if (argc != 1) {
        std::cerr << "usage: news_scraper [--serve]\n";
        return 2;
    }
    aio::run(amain()); // asyncio.run(main())
    return 0;
}

// aio_http_client: requests per second of aio::http::client_session against an HTTP server
// answering GET / (bench/raw_hello_server): CONCURRENCY tasks (64) each send GET / and read
// the body, over and over, for SECONDS; the connections are the session's pool (keep-alive).
// bench/peers/http_client.py does the same with aiohttp's ClientSession.
//
//   ./aio_http_client PORT [SECONDS] [CONCURRENCY]
//
// Prints one line: http_client impl=aio requests=N errors=E seconds=S rate=R peak_rss_kb=K
#include "raw_server.hpp" // parse_port

#include <aio/aio.hpp>
#include <aio/http/boost_sources.hpp>
#include <aio/http/client.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace http = aio::http;
using clock_type = std::chrono::steady_clock;

struct totals {
    long requests = 0;
    long errors = 0;
};

aio::awaitable<void> worker(http::client_session& session, const std::string& url,
                            clock_type::time_point end, totals& t) {
    while (clock_type::now() < end) {
        try {
            http::client_response resp = co_await session.get(url);
            std::string body = co_await resp.read();
            if (resp.status() == 200 && body == "Hello, world") {
                ++t.requests;
            } else {
                ++t.errors;
            }
        } catch (const std::exception& e) {
            if (++t.errors == 1) {
                std::fprintf(stderr, "aio_http_client: %s\n", e.what());
            }
        }
    }
}

int main(int argc, char** argv) {
    std::optional<std::uint16_t> port = argc >= 2 ? raw_server::parse_port(argv[1]) : std::nullopt;
    double seconds = argc >= 3 ? std::atof(argv[2]) : 5.0;
    int concurrency = argc >= 4 ? std::atoi(argv[3]) : 64;
    if (!port || seconds <= 0 || concurrency <= 0) {
        std::fprintf(stderr, "usage: aio_http_client PORT [SECONDS] [CONCURRENCY]\n");
        return 2;
    }
    std::string url = "http://127.0.0.1:" + std::to_string(*port) + "/";
    totals t;
    double elapsed = 0;
    aio::run([&]() -> aio::awaitable<void> {
        http::client_session session;
        auto start = clock_type::now();
        auto end = start + std::chrono::duration_cast<clock_type::duration>(
                               std::chrono::duration<double>(seconds));
        std::vector<aio::awaitable<void>> workers;
        for (int i = 0; i < concurrency; ++i) {
            workers.push_back(worker(session, url, end, t));
        }
        co_await aio::gather(std::move(workers));
        elapsed = std::chrono::duration<double>(clock_type::now() - start).count();
        co_await session.close();
    });
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    std::printf("http_client impl=aio requests=%ld errors=%ld seconds=%.2f rate=%.0f "
                "peak_rss_kb=%ld\n",
                t.requests, t.errors, elapsed, t.requests / elapsed, usage.ru_maxrss);
    return 0;
}

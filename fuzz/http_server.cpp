// A libFuzzer target for aio::http's server side: arbitrary bytes, cut into arbitrary chunks,
// sent over a real Unix socket to one connection of an application, then EOF. What the server
// writes back is read to EOF and parsed with Beast's response parser; any of these aborts:
// - the answer is not a sequence of whole, well-formed responses (bytes left over, a response
//   cut short, one that does not parse);
// - more final responses than the requests in the input (Beast's request parser, with the
//   server's limits, says how many there are) plus one for the request that failed to parse;
// - a status the application cannot give (it answers 200, and the server 400, 404, 405, 413,
//   431 and 500);
// - the server not closing the connection after the input's EOF (libFuzzer's -timeout).
// A handler that throws is reported through the loop's exception handler, as it must be.
//
// Building and running: docs/http.md, "Fuzzing".
//
// The input:
//   byte      S, then S bytes (S <= 32): the chunk sizes, 1 + byte each, used in turn (cycling)
//             to cut the payload; S = 0: one chunk
//   the rest  the payload: at most 4096 bytes
#include "fuzz_runner.hpp"

#include <aio/aio.hpp>
#include <aio/http/boost_sources.hpp>
#include <aio/http/server.hpp>
#include <aio/streams.hpp>

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace http = aio::http;
namespace beast_http = boost::beast::http;
using namespace std::chrono_literals;

constexpr std::size_t max_payload = 4096;
constexpr std::size_t max_chunk_sizes = 32;
constexpr std::uint64_t body_limit = 256;
constexpr std::uint32_t header_limit = 512;

struct scenario {
    std::vector<std::size_t> chunk_sizes;
    std::string payload;
};

scenario decode(const std::uint8_t* data, std::size_t size) {
    scenario sc;
    std::size_t at = 0;
    std::size_t count = at < size ? data[at++] % (max_chunk_sizes + 1) : 0;
    for (std::size_t i = 0; i < count && at < size; ++i) {
        sc.chunk_sizes.push_back(1 + std::size_t{data[at++]});
    }
    std::size_t n = std::min(size - at, max_payload);
    sc.payload.assign(reinterpret_cast<const char*>(data + at), n);
    return sc;
}

[[noreturn]] void mismatch(const scenario& sc, const std::string& what, const std::string& answer) {
    std::fprintf(
        stderr, "http_server fuzz: %s\n--- request bytes (%zu)\n%s\n--- answer (%zu)\n%s\n",
        what.c_str(), sc.payload.size(), sc.payload.c_str(), answer.size(), answer.c_str());
    std::abort();
}

/// The methods of the requests in `input`, in order, as Beast's parser with the server's limits
/// reads them, up to the first that does not parse; `failed` says whether one did not.
struct request_model {
    std::vector<beast_http::verb> methods;
    bool failed = false;
};

request_model parse_requests(std::string_view input) {
    request_model model;
    while (!input.empty()) {
        beast_http::request_parser<beast_http::string_body> parser;
        parser.header_limit(header_limit);
        parser.body_limit(body_limit);
        parser.eager(true);
        boost::beast::error_code ec;
        std::size_t used = parser.put(boost::asio::buffer(input.data(), input.size()), ec);
        input.remove_prefix(used);
        if (ec == beast_http::error::need_more) {
            if (parser.is_header_done()) {
                model.methods.push_back(parser.get().method()); // answered, then cut short
            }
            model.failed = true; // cut by EOF: an answer may or may not come
            return model;
        }
        if (ec) {
            if (parser.is_header_done()) {
                model.methods.push_back(parser.get().method()); // answered without a body if HEAD
            }
            model.failed = true;
            return model;
        }
        model.methods.push_back(parser.get().method());
        if (!parser.get().keep_alive()) {
            return model; // the server closes after answering it
        }
    }
    return model;
}

bool known_status(unsigned code) {
    for (unsigned ok : {100u, 200u, 400u, 404u, 405u, 413u, 431u, 500u}) {
        if (code == ok) {
            return true;
        }
    }
    return false;
}

/// Parses `answer` as the responses to `model`'s requests, in order.
void check_answer(const scenario& sc, const request_model& model, std::string_view answer) {
    std::string_view rest = answer;
    std::size_t finals = 0;
    while (!rest.empty()) {
        beast_http::response_parser<beast_http::string_body> parser;
        parser.body_limit(boost::none);
        parser.eager(true);
        bool head =
            finals < model.methods.size() && model.methods[finals] == beast_http::verb::head;
        parser.skip(head);
        boost::beast::error_code ec;
        std::size_t used = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
        rest.remove_prefix(used);
        bool waits = ec == beast_http::error::need_more || (!ec && !parser.is_done());
        if (waits && parser.is_header_done() && rest.empty()) {
            parser.put_eof(ec); // a body that ends with the connection (HTTP/1.0 streaming)
        }
        if (ec || !parser.is_done()) {
            mismatch(sc, "the answer is not whole responses: " + ec.message(), std::string(answer));
        }
        unsigned code = parser.get().result_int();
        if (!known_status(code)) {
            mismatch(sc, "unexpected status " + std::to_string(code), std::string(answer));
        }
        if (code >= 200) {
            ++finals;
        }
    }
    std::size_t most = model.methods.size() + (model.failed ? 1 : 0);
    if (finals > most) {
        mismatch(sc,
                 std::to_string(finals) + " responses to " + std::to_string(model.methods.size()) +
                     " request(s)",
                 std::string(answer));
    }
}

aio::generator<std::string> three_chunks() {
    co_yield std::string("one ");
    co_yield std::string("two ");
    co_yield std::string("three");
}

std::shared_ptr<http::detail::server_state> make_state() {
    http::application app;
    app.get("/", [](http::request&) -> aio::awaitable<http::response> {
        co_return http::response::text("hello");
    });
    app.post("/echo", [](http::request& req) -> aio::awaitable<http::response> {
        co_return http::response::text(co_await req.read());
    });
    app.get("/items/{id}", [](http::request& req) -> aio::awaitable<http::response> {
        co_return http::response::text(std::string(req.match_info("id")));
    });
    app.get("/chunks", [](http::request&) -> aio::awaitable<http::response> {
        co_return http::response::stream(three_chunks());
    });
    app.get("/fail", [](http::request&) -> aio::awaitable<http::response> {
        throw std::runtime_error("a handler's failure");
        co_return http::response();
    });
    http::server_options options;
    options.client_max_size = body_limit;
    options.max_header_size = header_limit;
    return std::make_shared<http::detail::server_state>(app, options);
}

std::size_t reports = 0;

aio::awaitable<void> feed(aio::stream_writer peer, const scenario& sc) {
    std::size_t at = 0;
    std::size_t turn = 0;
    while (at < sc.payload.size()) {
        std::size_t n = sc.chunk_sizes.empty() ? sc.payload.size()
                                               : sc.chunk_sizes[turn++ % sc.chunk_sizes.size()];
        n = std::min(n, sc.payload.size() - at);
        try {
            peer.write(std::string_view(sc.payload).substr(at, n));
            co_await peer.drain();
        } catch (const boost::system::system_error&) {
            co_return; // the server closed the connection: the rest is not read
        }
        at += n;
        co_await aio::sleep(0s); // the server's turn: each chunk arrives on its own
        co_await aio::sleep(0s);
    }
    peer.write_eof();
}

aio::awaitable<void> run_scenario(const scenario& sc) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
        std::perror("http_server fuzz: socketpair");
        std::abort();
    }
    auto executor = aio::detail::require_running_loop().executor();
    boost::asio::generic::stream_protocol unix_stream(AF_UNIX, SOCK_STREAM);
    aio::stream_pair served = aio::detail::make_streams(
        aio::detail::stream_socket(executor, unix_stream, fds[0]), aio::stream_options{});
    aio::stream_pair peer = aio::detail::make_streams(
        aio::detail::stream_socket(executor, unix_stream, fds[1]), aio::stream_options{});

    std::shared_ptr<http::detail::server_state> state = make_state();
    aio::task<void> connection = aio::create_task(
        http::detail::connection::serve(state, std::move(served.reader), std::move(served.writer)));
    aio::task<void> feeder = aio::create_task(feed(peer.writer, sc));
    std::string answer;
    try {
        answer = co_await peer.reader.read(); // to EOF: the server must close
    } catch (const boost::system::system_error&) {
        // reset by the server (a connection it aborted): what came before is checked
    }
    co_await connection();
    co_await feeder();
    if (state->active != 0) {
        mismatch(sc, "a connection is still counted after it ended", answer);
    }
    check_answer(sc, parse_requests(sc.payload), answer);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    aio::runner& runner = aio_fuzz::fuzz_runner();
    static bool handler_set = [&runner] {
        runner.get_loop().set_exception_handler([](const aio::exception_context&) { ++reports; });
        return true;
    }();
    (void)handler_set;
    scenario sc = decode(data, size);
    runner.run(run_scenario(sc));
    return 0;
}

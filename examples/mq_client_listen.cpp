// mq_client_listen: the aio port of the book's listening client (chapter 4's
// mq_client_listen.py): subscribes to a channel of mq_server or mq_server_plus and prints every
// message it receives. Protocol: mq_protocol.hpp.
//
//   ./mq_client_listen [--host HOST] [--port PORT] [--listen CHANNEL] [--count N]
//
// Connects to HOST (127.0.0.1) : PORT (25000), subscribes to CHANNEL (/topic/foo) and prints
// "Received by <name>: <the first 20 bytes>" per message, until the broker closes the connection
// ("Server closed.") or SIGINT/SIGTERM. With --count N (not in the book) it leaves after N
// messages, ending its session with an empty channel frame.
#include "mq_protocol.hpp"

#include <aio/aio.hpp>
#include <aio/streams.hpp>

#include <cstdint>
#include <exception>
#include <iostream>
#include <string>

namespace {

using mq::print;
using mq::short_id;

aio::awaitable<void> amain(mq::options opt) {
    std::string me = short_id();
    print("Starting up " + me);
    auto [reader, writer] = co_await aio::open_connection(opt.host, opt.port);
    print("I am " + writer.sockname().to_string());
    co_await mq::send_msg(writer, opt.text("listen"));
    long count = opt.integer("count", 0, 1L << 40);
    try {
        for (long received = 0; count == 0 || received < count; ++received) {
            std::string data = co_await mq::read_msg(reader);
            print("Received by " + me + ": " + data.substr(0, 20));
        }
        co_await mq::send_msg(writer, ""); // the session ends
        print("Connection ended.");
    } catch (const aio::incomplete_read_error&) {
        print("Server closed.");
    }
    writer.close();
    co_await writer.wait_closed();
}

} // namespace

int main(int argc, char** argv) {
    try {
        mq::options opt(argc, argv, {{"listen", "/topic/foo"}, {"count", "0"}});
        aio::run(amain(opt));
    } catch (const aio::interrupted_error&) {
        return 0; // Ctrl-C ends it, as the book's
    } catch (const std::invalid_argument& e) {
        std::cerr << "mq_client_listen: " << e.what() << '\n';
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "mq_client_listen: " << e.what() << '\n';
        return 1;
    }
    return 0;
}

// mq_client_sender: the aio port of the book's sending client (chapter 4's
// mq_client_sender.py): publishes a message to a channel of mq_server or mq_server_plus at a
// fixed interval. Protocol: mq_protocol.hpp.
//
//   ./mq_client_sender [--host HOST] [--port PORT] [--channel CHANNEL] [--interval SECONDS]
//                      [--size BYTES] [--count N]
//
// Connects to HOST (127.0.0.1) : PORT (25000), subscribes to /null, then every SECONDS (1)
// sends "Msg <i> from <name>" (or BYTES bytes of 'X' with --size) to CHANNEL (/topic/foo),
// until SIGINT/SIGTERM or the connection ends ("Connection ended."). With --count N (not in the
// book) it ends its session after N messages with an empty channel frame and prints "Sent N".
#include "mq_protocol.hpp"

#include <aio/aio.hpp>
#include <aio/streams.hpp>

#include <chrono>
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
    co_await mq::send_msg(writer, "/null");
    std::string chan = opt.text("channel");
    auto interval = std::chrono::duration<double>(opt.real("interval"));
    long size = opt.integer("size", 0, 1L << 31);
    long count = opt.integer("count", 0, 1L << 40);
    long i = 0;
    try {
        for (; count == 0 || i < count; ++i) {
            co_await aio::sleep(interval);
            std::string data = size > 0 ? std::string(static_cast<std::size_t>(size), 'X')
                                        : "Msg " + std::to_string(i) + " from " + me;
            co_await mq::send_msg(writer, chan);
            co_await mq::send_msg(writer, data);
        }
        co_await mq::send_msg(writer, ""); // the session ends
        print("Sent " + std::to_string(i));
    } catch (const boost::system::system_error&) {
        print("Connection ended.");
    }
    writer.close();
    try {
        co_await writer.wait_closed();
    } catch (const boost::system::system_error&) {
    }
}

} // namespace

int main(int argc, char** argv) {
    try {
        mq::options opt(
            argc, argv,
            {{"channel", "/topic/foo"}, {"interval", "1"}, {"size", "0"}, {"count", "0"}});
        aio::run(amain(opt));
    } catch (const aio::interrupted_error&) {
        return 0; // Ctrl-C ends it, as the book's
    } catch (const std::invalid_argument& e) {
        std::cerr << "mq_client_sender: " << e.what() << '\n';
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "mq_client_sender: " << e.what() << '\n';
        return 1;
    }
    return 0;
}

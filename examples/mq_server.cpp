// mq_server: the aio port of the book's message broker (chapter 4's mq_server.py), the
// straightforward version: each client's handler reads (channel, payload) pairs and sends each
// payload to the channel's subscribers itself. Protocol: mq_protocol.hpp.
//
//   ./mq_server [--host HOST] [--port PORT] [--max-frame BYTES]
//
// Serves on HOST (127.0.0.1) : PORT (25000) until SIGINT or SIGTERM, then closes every client,
// prints "Bye!" and exits 0.
//
// A publisher here waits for its slowest subscriber: send_msg drains each one's writer. That is
// what mq_server_plus fixes. Where it differs from the book: bad input (a frame declared above
// --max-frame, 16 MiB; a frame cut off by a disconnect) ends that client with one line naming
// it, a subscriber whose connection is lost does not end the publisher's session (the book's
// gather raises into it), a channel's entry goes when its last subscriber leaves (the book's
// defaultdict keeps every name ever used), and no line is printed per message.
#include "mq_protocol.hpp"

#include <aio/aio.hpp>
#include <aio/streams.hpp>

#include <algorithm>
#include <cstddef>
#include <deque>
#include <exception>
#include <iostream>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace {

using mq::print;

std::size_t max_frame = mq::default_max_frame;

// SUBSCRIBERS: DefaultDict[bytes, Deque] = defaultdict(deque)
std::map<std::string, std::deque<aio::stream_writer>> subscribers;

// The sends of one message: each subscriber's write, then its drain; a subscriber whose
// connection is lost is skipped (its own handler reports it).
aio::awaitable<void> send_to_all(std::vector<aio::stream_writer> conns, std::string data) {
    std::string f = mq::frame(data);
    for (aio::stream_writer& c : conns) {
        try {
            c.write(f);
        } catch (const boost::system::system_error&) {
        }
    }
    for (aio::stream_writer& c : conns) {
        try {
            co_await c.drain();
        } catch (const boost::system::system_error&) {
        }
    }
}

aio::awaitable<void> client(aio::stream_reader reader, aio::stream_writer writer) {
    std::string peername = writer.peername().to_string();
    std::string subscribe_chan;
    bool subscribed = false;
    bool cancelled = false;
    try {
        subscribe_chan = co_await mq::read_msg(reader, max_frame);
        subscribers[subscribe_chan].push_back(writer);
        subscribed = true;
        print("Remote " + peername + " subscribed to " + subscribe_chan);
        for (;;) {
            std::string channel_name = co_await mq::read_msg(reader, max_frame);
            if (channel_name.empty()) {
                break;
            }
            std::string data = co_await mq::read_msg(reader, max_frame);
            auto found = subscribers.find(channel_name);
            if (found == subscribers.end()) {
                continue; // nobody subscribes: dropped
            }
            std::deque<aio::stream_writer>& conns = found->second;
            std::vector<aio::stream_writer> to;
            if (channel_name.starts_with("/queue")) {
                std::rotate(conns.rbegin(), conns.rbegin() + 1, conns.rend()); // conns.rotate()
                to.push_back(conns.front());
            } else {
                to.assign(conns.begin(), conns.end());
            }
            co_await send_to_all(std::move(to), std::move(data));
        }
    } catch (const aio::cancelled_error&) {
        cancelled = true; // C++ cannot co_await in a catch block: the except body follows
    } catch (const aio::incomplete_read_error& e) {
        print("Remote " + peername +
              (e.partial().empty() ? " disconnected" : " disconnected inside a frame"));
    } catch (const mq::frame_too_large& e) {
        print("Remote " + peername + ": " + e.what() + "; closing");
    } catch (const boost::system::system_error& e) {
        print("Remote " + peername + ": " + e.code().message());
    }
    // finally:
    if (subscribed) {
        auto found = subscribers.find(subscribe_chan);
        std::erase(found->second, writer);
        if (found->second.empty()) {
            subscribers.erase(found); // no name is kept for good (the book's defaultdict is)
        }
    }
    if (cancelled) {
        print("Remote " + peername + " closing connection.");
    }
    writer.close();
    try {
        co_await writer.wait_closed();
    } catch (const boost::system::system_error&) {
    }
    print("Remote " + peername + " closed");
}

aio::awaitable<void> amain(mq::options opt) {
    aio::server server = co_await aio::start_server(client, opt.host, opt.port);
    print("Serving on " + server.sockets().front().to_string());
    auto serve_forever = [](aio::server& s) { return s.serve_forever(); };
    co_await aio::with(server, serve_forever); // async with server: await server.serve_forever()
}

} // namespace

int main(int argc, char** argv) {
    try {
        mq::options opt(argc, argv, {{"max-frame", std::to_string(mq::default_max_frame)}});
        max_frame = static_cast<std::size_t>(opt.integer("max-frame", 0, 1L << 31));
        aio::run(amain(opt));
    } catch (const aio::interrupted_error&) {
        print("Bye!"); // except KeyboardInterrupt: print('Bye!')
    } catch (const std::invalid_argument& e) {
        std::cerr << "mq_server: " << e.what() << '\n';
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "mq_server: " << e.what() << '\n';
        return 1;
    }
    return 0;
}

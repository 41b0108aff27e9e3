// mq_server_plus: the aio port of the book's improved message broker (chapter 4's
// mq_server_plus.py). Protocol: mq_protocol.hpp. What the book improves on mq_server: every
// client has a send queue and a task that sends from it, every channel a bounded queue and a
// task that hands its messages to the subscribers' send queues. So one slow subscriber never
// stalls the others, and a publisher waits when a channel's queue is full (backpressure).
//
//   ./mq_server_plus [--host HOST] [--port PORT] [--max-frame BYTES] [--hello-timeout SECONDS]
//                    [--max-backlog MESSAGES] [--shutdown-timeout SECONDS]
//
// Serves on HOST (127.0.0.1) : PORT (25000) until SIGINT or SIGTERM, then stops accepting,
// stops reading, hands the messages it accepted to the subscribers' queues, sends every queue
// to its subscriber, closes every client, prints "Bye!" and exits 0. A subscriber that has not
// taken what was queued for it within --shutdown-timeout (10 s) is disconnected, with a line
// saying so: one that stopped reading would keep the broker from ever exiting.
//
// Where it differs from the book, and why:
// - A subscriber whose send queue holds --max-backlog messages (10,000) is too slow: it is
//   disconnected, with a line saying so. The book's queues are unbounded: one subscriber that
//   stops reading makes the broker's memory grow until it dies.
// - Bad input ends that client only, with one line naming it: a frame declared above
//   --max-frame (16 MiB), a frame cut off by a disconnect, no subscription within
//   --hello-timeout (10 s). The book's broker lets these raise out of the handler.
// - A channel exists while it has subscribers: a message to a channel nobody subscribes to is
//   dropped, as mq_server drops it, and a channel goes when its last subscriber leaves. The
//   book's channels live forever (a broker fed new names grows without bound), and its sender
//   polls every second for a subscriber while the channel's publishers wait.
// - No line per message (the book prints each): the broker is meant to be measured.
#include "mq_protocol.hpp"

#include <aio/aio.hpp>
#include <aio/streams.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <exception>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

/// The most frames a client's send task waits to gather before it sends.
constexpr std::size_t max_batch = 1024;

using frame_ptr =
    std::shared_ptr<const std::string>; // one framed message, shared by its subscribers

using mq::print;

struct settings {
    std::size_t max_frame = mq::default_max_frame;
    std::chrono::nanoseconds hello_timeout = std::chrono::seconds(10);
    std::size_t max_backlog = 10'000;
    std::chrono::nanoseconds shutdown_timeout = std::chrono::seconds(10);
};

/// A connected client: its writer, and the queue of frames its send task sends to it.
struct client {
    client(std::string name, aio::stream_writer w, std::size_t backlog)
        : peer(std::move(name)), writer(std::move(w)), send_queue(backlog) {}

    std::string peer;
    aio::stream_writer writer;
    aio::queue<frame_ptr> send_queue;
    aio::task<void> send_task;
    aio::any_task reading; // the task reading what the client sends
    bool dropped = false;  // disconnected for being too slow
};
using client_ptr = std::shared_ptr<client>;

/// A channel: its bounded queue of messages, its subscribers, and the task between the two.
struct channel {
    explicit channel(std::string channel_name)
        : name(std::move(channel_name)), queue_mode(name.starts_with("/queue")) {}

    std::string name;
    bool queue_mode; // "/queue...": each message to one subscriber, round-robin
    aio::queue<std::string> messages{10}; // the book's maxsize=10: publishers wait beyond it
    std::deque<client_ptr> subscribers;
    aio::task<void> sender;
};
using channel_ptr = std::shared_ptr<channel>;

class broker {
public:
    explicit broker(settings s) : s_(s) {}

    /// The book's client(reader, writer): subscribe, then pass each (channel, payload) pair to
    /// the channel's queue until an empty channel name or EOF.
    aio::awaitable<void> client_session(aio::stream_reader reader, aio::stream_writer writer) {
        auto me = std::make_shared<client>(writer.peername().to_string(), writer, s_.max_backlog);
        me->reading = co_await aio::current_task();
        clients_.insert(me);
        std::string subscribe_chan;
        bool subscribed = false;
        bool stopped = false; // by the broker's shutdown
        try {
            auto hello = mq::read_msg(reader, s_.max_frame);
            subscribe_chan = co_await aio::wait_for(std::move(hello), s_.hello_timeout);
            subscribe(me, subscribe_chan);
            subscribed = true;
            me->send_task = aio::create_task(send_client(me));
            print("Remote " + me->peer + " subscribed to " + subscribe_chan);
            for (;;) {
                std::string channel_name = co_await mq::read_msg(reader, s_.max_frame);
                if (channel_name.empty()) {
                    break; // the client ends its session
                }
                // The payload's frame as it came: the subscribers get it unchanged.
                std::string payload = co_await mq::read_frame(reader, s_.max_frame);
                if (!publish_now(channel_name, payload)) {
                    co_await publish(channel_name, std::move(payload)); // the queue is full
                }
            }
        } catch (const aio::cancelled_error&) {
            stopped = true;
        } catch (const aio::timeout_error&) {
            print("Remote " + me->peer + " sent no subscription in time; closing");
        } catch (const aio::incomplete_read_error& e) {
            print("Remote " + me->peer +
                  (e.partial().empty() ? " disconnected" : " disconnected inside a frame"));
        } catch (const mq::frame_too_large& e) {
            print("Remote " + me->peer + ": " + e.what() + "; closing");
        } catch (const boost::system::system_error& e) {
            if (!me->dropped) {
                print("Remote " + me->peer + ": " + e.code().message());
            }
        }
        me->reading = aio::any_task();
        if (stopped) {
            co_return; // the shutdown (stop()) sends what is queued for it and closes it
        }
        if (subscribed) {
            unsubscribe(*me, subscribe_chan);
        }
        co_await close_client(me);
        print("Remote " + me->peer + " closed");
    }

    /// After the server stopped accepting: stops reading from the clients, hands what the
    /// channels hold to the send queues, sends every queue to its client and closes them all;
    /// those not done within the shutdown timeout are disconnected.
    aio::awaitable<void> stop() {
        for (const client_ptr& c : clients_) {
            if (c->reading) {
                c->reading.cancel();
            }
        }
        std::vector<channel_ptr> channels;
        for (auto& [name, ch] : channels_) {
            ch->messages.shutdown(); // the sender hands on what is left, then ends
            channels.push_back(ch);
        }
        for (const channel_ptr& ch : channels) {
            co_await ch->sender.wait_done();
        }
        // All at once: a subscriber that reads slowly must not hold up the others' close.
        std::vector<aio::awaitable<void>> closes;
        for (const client_ptr& c : std::vector<client_ptr>(clients_.begin(), clients_.end())) {
            closes.push_back(close_client(c));
        }
        auto all_closed = aio::gather(std::move(closes));
        try {
            co_await aio::wait_for(std::move(all_closed), s_.shutdown_timeout);
        } catch (const aio::timeout_error&) {
            // the closes still running were cancelled: their clients are still here
        }
        for (const client_ptr& c : std::vector<client_ptr>(clients_.begin(), clients_.end())) {
            print("Remote " + c->peer + " did not take what was queued for it within the " +
                  "shutdown timeout (" + std::to_string(c->send_queue.size()) + " messages and " +
                  std::to_string(c->writer.write_buffer_size()) + " bytes left): disconnected");
            c->send_queue.shutdown(true);
            c->writer.abort();
            clients_.erase(c);
        }
    }

private:
    /// The book's send_client: sends what the client's queue holds, in order, until the queue
    /// is shut down and empty or the connection is lost.
    aio::awaitable<void> send_client(client_ptr c) {
        std::vector<frame_ptr> batch;
        std::vector<std::string_view> pieces;
        try {
            for (;;) {
                batch.push_back(co_await c->send_queue.get());
                // While the queue grows, the loop has more for this client in the same turn (a
                // channel's sender hands on a publisher's buffered messages ten at a time, its
                // queue's size): yield until it stops growing, then send it all in one system
                // call instead of one per ten messages.
                std::size_t seen = 0;
                int turns_unchanged = 0;
                while (!c->send_queue.empty() && c->send_queue.size() < max_batch &&
                       turns_unchanged < 2) {
                    if (c->send_queue.size() > seen) {
                        seen = c->send_queue.size();
                        turns_unchanged = 0;
                    } else {
                        ++turns_unchanged;
                    }
                    co_await aio::sleep(std::chrono::seconds(0));
                }
                while (!c->send_queue.empty()) { // what came meanwhile goes out with it
                    batch.push_back(c->send_queue.get_nowait());
                }
                for (const frame_ptr& f : batch) {
                    pieces.emplace_back(*f);
                }
                c->writer.writelines(pieces); // one system call for up to 64 frames
                pieces.clear();
                batch.clear();
                co_await c->writer.drain();
            }
        } catch (const aio::queue_shut_down&) {
            // everything queued was sent
        } catch (const boost::system::system_error&) {
            // the connection is lost: its session reports it
        }
    }

    /// A publisher's message (its payload frame) into its channel's queue if there is room now
    /// (moved from `payload`), or dropped if nobody subscribes to the channel: true. False if
    /// the queue is full (publish waits for room).
    bool publish_now(const std::string& name, std::string& payload) {
        auto it = channels_.find(name);
        if (it == channels_.end()) {
            return true;
        }
        aio::queue<std::string>& q = it->second->messages;
        if (q.full()) {
            return false;
        }
        try {
            q.put_nowait(std::move(payload)); // leaves `payload` as it is when it throws
        } catch (const aio::queue_full&) {
            return false; // the free slots are promised to publishers that waited
        } catch (const aio::queue_shut_down&) {
            // its last subscriber left: dropped
        }
        return true;
    }

    /// A publisher's message (its payload frame): into its channel's queue, waiting while the
    /// queue is full. A channel nobody subscribes to does not exist, and the message is dropped
    /// (as mq_server and the book's first broker do).
    aio::awaitable<void> publish(const std::string& name, std::string payload) {
        auto it = channels_.find(name);
        if (it == channels_.end()) {
            co_return;
        }
        channel_ptr ch = it->second; // kept while the put waits
        try {
            co_await ch->messages.put(std::move(payload));
        } catch (const aio::queue_shut_down&) {
            // its last subscriber left meanwhile: dropped
        }
    }

    /// The book's chan_sender: hands each message of the channel to its subscribers' queues
    /// (one of them, in turn, for a /queue channel), until the channel closes and its queue
    /// is empty.
    aio::awaitable<void> chan_sender(channel_ptr owner) {
        channel& ch = *owner;
        std::vector<client_ptr> too_slow;
        try {
            for (;;) {
                std::string payload_frame = co_await ch.messages.get();
                if (ch.subscribers.empty()) {
                    continue; // they all left: nobody to hand it to
                }
                auto f = std::make_shared<const std::string>(std::move(payload_frame));
                if (ch.queue_mode) {
                    // deque.rotate(): the last subscriber comes first and gets this one
                    ch.subscribers.push_front(std::move(ch.subscribers.back()));
                    ch.subscribers.pop_back();
                    if (!offer(*ch.subscribers.front(), f)) {
                        too_slow.push_back(ch.subscribers.front());
                    }
                } else {
                    for (const client_ptr& c : ch.subscribers) {
                        if (!offer(*c, f)) {
                            too_slow.push_back(c);
                        }
                    }
                }
                for (const client_ptr& c : too_slow) {
                    drop(*c); // after the loop: it takes the client out of the subscribers
                }
                too_slow.clear();
            }
        } catch (const aio::queue_shut_down&) {
            // the broker stops; every message was handed on
        }
    }

    /// Queues `f` for `c`; false if `c` is too slow (its queue is full: drop it).
    static bool offer(client& c, const frame_ptr& f) {
        if (c.dropped) {
            return true;
        }
        if (c.send_queue.full()) {
            return false;
        }
        c.send_queue.put_nowait(f);
        return true;
    }

    /// Disconnects a subscriber too slow to take what is sent to it.
    void drop(client& c) {
        if (c.dropped) {
            return;
        }
        print("Remote " + c.peer + " is too slow (" + std::to_string(c.send_queue.size()) +
              " messages waiting): disconnected");
        c.dropped = true;
        std::vector<std::string> names;
        for (auto& [name, ch] : channels_) {
            names.push_back(name);
        }
        for (const std::string& name : names) {
            unsubscribe(c, name);
        }
        c.send_queue.shutdown(true);
        c.writer.abort(); // its session's read fails, and it ends
    }

    /// A channel exists while it has subscribers: the first one makes it.
    void subscribe(const client_ptr& c, const std::string& name) {
        auto it = channels_.find(name);
        if (it == channels_.end()) {
            auto ch = std::make_shared<channel>(name);
            ch->sender = aio::create_task(chan_sender(ch), "channel " + name);
            it = channels_.emplace(name, std::move(ch)).first;
        }
        it->second->subscribers.push_back(c);
    }

    void unsubscribe(const client& c, const std::string& name) {
        auto it = channels_.find(name);
        if (it == channels_.end()) {
            return;
        }
        std::deque<client_ptr>& subs = it->second->subscribers;
        std::erase_if(subs, [&c](const client_ptr& p) { return p.get() == &c; });
        if (subs.empty()) {
            // The last one left: the channel goes (a broker that kept every name ever used
            // would grow without bound). Its sender drops what is queued and ends.
            it->second->messages.shutdown();
            channels_.erase(it);
        }
    }

    /// Sends what is queued for `c`, then closes it and forgets it.
    aio::awaitable<void> close_client(client_ptr c) {
        c->send_queue.shutdown();
        if (c->send_task) {
            co_await c->send_task.wait_done();
        }
        c->writer.close();
        try {
            co_await c->writer.wait_closed();
        } catch (const boost::system::system_error&) {
            // lost already: nothing more to send
        }
        clients_.erase(c);
    }

    settings s_;
    std::map<std::string, channel_ptr> channels_;
    std::set<client_ptr> clients_;
};

aio::awaitable<void> amain(mq::options opt, settings s) {
    broker b(s);
    auto session = [&b](aio::stream_reader r, aio::stream_writer w) {
        return b.client_session(std::move(r), std::move(w));
    };
    aio::server server = co_await aio::start_server(session, opt.host, opt.port);
    print("Serving on " + server.sockets().front().to_string());
    bool stopping = false;
    try {
        co_await server.serve_forever();
    } catch (const aio::cancelled_error&) {
        stopping = true; // SIGINT or SIGTERM: serve_forever closed the server
    }
    if (stopping) {
        co_await b.stop();
        print("Bye!");
    }
}

} // namespace

int main(int argc, char** argv) {
    try {
        mq::options opt(argc, argv,
                        {{"max-frame", std::to_string(mq::default_max_frame)},
                         {"hello-timeout", "10"},
                         {"max-backlog", "10000"},
                         {"shutdown-timeout", "10"}});
        settings s;
        s.max_frame = static_cast<std::size_t>(opt.integer("max-frame", 0, 1L << 31));
        s.hello_timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(
            std::chrono::duration<double>(opt.real("hello-timeout")));
        s.shutdown_timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(
            std::chrono::duration<double>(opt.real("shutdown-timeout")));
        s.max_backlog = static_cast<std::size_t>(opt.integer("max-backlog", 1, 1L << 30));
        aio::run(amain(opt, s));
    } catch (const std::invalid_argument& e) {
        std::cerr << "mq_server_plus: " << e.what() << '\n';
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "mq_server_plus: " << e.what() << '\n';
        return 1;
    }
    return 0;
}

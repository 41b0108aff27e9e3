// A libFuzzer target for aio::stream_reader: arbitrary bytes, cut into arbitrary chunks, sent
// over a real Unix socket to a reader on which a script of read calls runs. Each call's result
// (value or exception, with its fields) and the bytes the reader holds after it are compared
// with a model of CPython's StreamReader over a std::string; any difference aborts. At the end,
// what the script took plus what remained must be the payload, byte for byte, but for what
// readline's limit rule drops (the model says which bytes those are).
//
// Building and running: docs/streams.md, "Fuzzing".
//
// The input (every field optional: a short input reads as zeros):
//
//   byte      limit: 1 + byte % 64; bit 7 set: the script ends by dropping the reader (and
//             with it the connection, maybe while a read of the socket is in flight) instead of
//             reading the rest
//   byte      S, then S bytes (S <= 64): the chunk sizes, 1 + byte each, used in turn (cycling)
//             to cut the payload; S = 0: one chunk per 256 bytes
//   byte      K, then K calls (K <= 64), each an opcode byte (byte % 9) and its arguments:
//               0 read(n)        n: one byte
//               1 read()
//               2 readline()
//               3 readexactly(n) n: one byte
//               4 readuntil(sep) a length byte (byte % 4: 0 is an empty separator), the bytes
//               5 readuntil(seps) a count byte (byte % 4: 0 is an empty list), then each
//                                separator as for 4
//               6 at_eof()
//               7 consume(n)     n: one byte
//               8 a call (opcode byte % 8, then its arguments) run in a task of its own that is
//                 cancelled once it has had one turn of the loop
//   the rest  the payload: at most 4096 bytes, and what fits in 256 chunks
//
// How the chunks arrive (what makes chunk boundaries matter): a feeder task writes one chunk to
// the peer's end of a socketpair, then waits until the reader's socket holds no unread byte
// before writing the next one, and half-closes after the last. The reader pulls from the socket
// only when a call needs bytes, so each pull brings exactly one chunk, or EOF - as in CPython,
// where each feed_data wakes the waiting call once. That is the model's rule: a call that must
// wait gets the next chunk (EOF once there is none). The one place aio may pull without a call
// waiting is at_eof(), which polls the socket when nothing is buffered: the model accepts a poll
// that brought exactly the next chunk, or EOF after the last one. A cancelled call must either
// have ended before the cancellation (with the model's outcome) or consumed nothing: the reader
// then holds what the model holds plus the chunks the call pulled before it was cancelled, and
// a read of the socket it left in flight brings the next chunk to the next call that waits - or
// during the loop turns a later cancelled call waits through, before or after that call runs.
// When the outcome cannot tell which, the model keeps each possible state until a later call
// tells them apart.
#include "fuzz_runner.hpp"

#include <aio/aio.hpp>
#include <aio/detail/loop_core.hpp>
#include <aio/streams.hpp>

#include <boost/asio/generic/stream_protocol.hpp>

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

constexpr std::size_t max_payload = 4096;
constexpr std::size_t max_chunks = 256; // each costs a few turns of the loop
constexpr std::size_t max_chunk_sizes = 64;
constexpr std::size_t max_calls = 64;

// --- the input ------------------------------------------------------------------------------

enum class call_kind : std::uint8_t {
    read_n,
    read_all,
    readline,
    readexactly,
    readuntil_one,
    readuntil_any,
    at_eof,
    consume
};

struct call {
    call_kind kind = call_kind::read_all;
    std::size_t n = 0;
    std::vector<std::string> separators;
    bool cancelled = false; // run in a task cancelled after one turn of the loop
};

struct scenario {
    std::size_t limit = 1;
    bool abandon = false; // drop the reader after the script instead of reading the rest
    std::vector<std::string> chunks;
    std::vector<call> script;
    std::string payload;
};

/// Reads the input front to back; past its end every byte is 0.
class input {
public:
    input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
    std::uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
    std::string bytes(std::size_t n) {
        n = std::min(n, size_ - pos_);
        std::string out(reinterpret_cast<const char*>(data_ + pos_), n);
        pos_ += n;
        return out;
    }
    std::string rest(std::size_t most) { return bytes(std::min(most, size_ - pos_)); }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

std::string separator(input& in) {
    return in.bytes(in.byte() % 4);
}

scenario decode(const std::uint8_t* data, std::size_t size) {
    input in(data, size);
    scenario sc;
    std::uint8_t first = in.byte();
    sc.limit = 1 + first % 64;
    sc.abandon = (first & 0x80) != 0;
    std::vector<std::size_t> sizes(std::min<std::size_t>(in.byte(), max_chunk_sizes));
    for (std::size_t& s : sizes) {
        s = 1 + std::size_t(in.byte());
    }
    if (sizes.empty()) {
        sizes.push_back(256);
    }
    std::size_t calls = std::min<std::size_t>(in.byte(), max_calls);
    for (std::size_t i = 0; i < calls; ++i) {
        call c;
        std::uint8_t opcode = in.byte() % 9;
        if (opcode == 8) {
            c.cancelled = true;
            opcode = in.byte() % 8;
        }
        c.kind = static_cast<call_kind>(opcode);
        switch (c.kind) {
        case call_kind::read_n:
        case call_kind::readexactly:
        case call_kind::consume:
            c.n = in.byte();
            break;
        case call_kind::readuntil_one:
            c.separators.push_back(separator(in));
            break;
        case call_kind::readuntil_any:
            c.separators.resize(in.byte() % 4);
            for (std::string& s : c.separators) {
                s = separator(in);
            }
            break;
        default:
            break;
        }
        sc.script.push_back(std::move(c));
    }
    sc.payload = in.rest(max_payload);
    std::size_t at = 0;
    for (std::size_t i = 0; at < sc.payload.size() && i < max_chunks; ++i) {
        std::size_t n = std::min(sizes[i % sizes.size()], sc.payload.size() - at);
        sc.chunks.push_back(sc.payload.substr(at, n));
        at += n;
    }
    sc.payload.resize(at); // what did not fit in max_chunks is not sent
    return sc;
}

// --- what a call gives ----------------------------------------------------------------------

/// A call's result: a value, or the exception it threw with the fields the caller can see.
struct outcome {
    enum class kind {
        value,
        incomplete_read,
        limit_overrun,
        invalid_argument,
        out_of_range,
        cancelled
    };
    kind what = kind::value;
    std::string bytes;                   // the value, or incomplete_read_error::partial()
    std::optional<std::size_t> expected; // incomplete_read_error::expected()
    std::size_t consumed = 0;            // limit_overrun_error::consumed()
    bool at_eof = false;

    friend bool operator==(const outcome&, const outcome&) = default;
};

outcome value(std::string bytes) {
    outcome o;
    o.bytes = std::move(bytes);
    return o;
}
outcome incomplete(std::string partial, std::optional<std::size_t> expected) {
    outcome o;
    o.what = outcome::kind::incomplete_read;
    o.bytes = std::move(partial);
    o.expected = expected;
    return o;
}
outcome overrun(std::size_t consumed) {
    outcome o;
    o.what = outcome::kind::limit_overrun;
    o.consumed = consumed;
    return o;
}
outcome refused(outcome::kind what) {
    outcome o;
    o.what = what;
    return o;
}

// --- the model: CPython's StreamReader (Lib/asyncio/streams.py) over a std::string ----------

class model {
public:
    model(std::size_t limit, const std::vector<std::string>& chunks)
        : limit_(limit), chunks_(&chunks) {}

    const std::string& buffer() const { return buffer_; }
    bool eof() const { return eof_; }
    bool chunks_left() const { return next_ < chunks_->size(); }
    const std::string& next_chunk() const { return (*chunks_)[next_]; }
    /// What the peer sent that no wait has brought yet.
    std::string unsent() const {
        std::string out;
        for (std::size_t i = next_; i < chunks_->size(); ++i) {
            out += (*chunks_)[i];
        }
        return out;
    }
    /// The bytes the last readline dropped (its limit rule).
    const std::string& dropped() const { return dropped_; }

    friend bool operator==(const model&, const model&) = default;

    /// _wait_for_data: the next chunk arrives, or EOF once there is none.
    void wait() {
        if (next_ < chunks_->size()) {
            buffer_ += (*chunks_)[next_++];
        } else {
            eof_ = true;
        }
    }

    outcome read(std::ptrdiff_t n) {
        if (n == 0) {
            return value("");
        }
        if (n < 0) {
            std::string all;
            for (;;) { // as CPython: read(limit) until it gives b''
                outcome block = read(static_cast<std::ptrdiff_t>(limit_));
                if (block.bytes.empty()) {
                    return value(std::move(all));
                }
                all += block.bytes;
            }
        }
        if (buffer_.empty() && !eof_) {
            wait();
        }
        return value(take(std::min(static_cast<std::size_t>(n), buffer_.size())));
    }

    outcome readline() {
        dropped_.clear();
        outcome r = readuntil({"\n"});
        if (r.what == outcome::kind::incomplete_read) {
            return value(std::move(r.bytes));
        }
        if (r.what == outcome::kind::limit_overrun) {
            if (buffer_.compare(std::min(r.consumed, buffer_.size()), 1, "\n") == 0) {
                dropped_ = take(r.consumed + 1);
            } else {
                dropped_ = take(buffer_.size());
            }
        }
        return r;
    }

    outcome readexactly(std::size_t n) {
        if (n == 0) {
            return value("");
        }
        while (buffer_.size() < n) {
            if (eof_) {
                return incomplete(take(buffer_.size()), n);
            }
            wait();
        }
        return value(take(n));
    }

    outcome readuntil(std::vector<std::string> separators) {
        std::stable_sort(
            separators.begin(), separators.end(),
            [](const std::string& a, const std::string& b) { return a.size() < b.size(); });
        if (separators.empty() || separators.front().empty()) {
            return refused(outcome::kind::invalid_argument);
        }
        std::size_t min_seplen = separators.front().size();
        std::size_t max_seplen = separators.back().size();
        std::size_t offset = 0;
        std::optional<std::size_t> match_start;
        std::optional<std::size_t> match_end;
        for (;;) {
            std::size_t buflen = buffer_.size();
            if (buflen - offset >= min_seplen) {
                for (const std::string& sep : separators) {
                    std::size_t isep = buffer_.find(sep, offset);
                    if (isep != std::string::npos) {
                        std::size_t end = isep + sep.size();
                        if (!match_end || end < *match_end) {
                            match_end = end;
                            match_start = isep;
                        }
                    }
                }
                if (match_end) {
                    break;
                }
                offset = buflen + 1 > max_seplen ? buflen + 1 - max_seplen : 0;
                if (offset > limit_) {
                    return overrun(offset);
                }
            }
            if (eof_) {
                return incomplete(take(buffer_.size()), std::nullopt);
            }
            wait();
        }
        if (*match_start > limit_) {
            return overrun(*match_start);
        }
        return value(take(*match_end));
    }

    outcome at_eof() const {
        outcome r;
        r.at_eof = eof_ && buffer_.empty();
        return r;
    }

    /// aio's consume (CPython has none): drops n buffered bytes, or refuses.
    outcome consume(std::size_t n) {
        if (n > buffer_.size()) {
            return refused(outcome::kind::out_of_range);
        }
        return value(take(n));
    }

private:
    std::string take(std::size_t n) {
        std::string out = buffer_.substr(0, n);
        buffer_.erase(0, n);
        return out;
    }

    std::size_t limit_;
    const std::vector<std::string>* chunks_;
    std::size_t next_ = 0;
    std::string buffer_;
    bool eof_ = false;
    std::string dropped_;
};

// --- reporting ------------------------------------------------------------------------------

std::string quoted(std::string_view s) {
    std::string out = "\"";
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c == '\n') {
            out += "\\n";
        } else if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c >= 0x20 && c < 0x7f) {
            out += ch;
        } else {
            char hex[5];
            std::snprintf(hex, sizeof hex, "\\x%02x", c);
            out += hex;
        }
    }
    return out + "\"";
}

std::string describe_call(const call& c) {
    switch (c.kind) {
    case call_kind::read_n:
        return "read(" + std::to_string(c.n) + ")";
    case call_kind::read_all:
        return "read()";
    case call_kind::readline:
        return "readline()";
    case call_kind::readexactly:
        return "readexactly(" + std::to_string(c.n) + ")";
    case call_kind::readuntil_one:
        return "readuntil(" + quoted(c.separators.front()) + ")";
    case call_kind::readuntil_any: {
        std::string out = "readuntil({";
        for (const std::string& s : c.separators) {
            out += (&s == &c.separators.front() ? "" : ", ") + quoted(s);
        }
        return out + "})";
    }
    case call_kind::at_eof:
        return "at_eof()";
    case call_kind::consume:
        return "consume(" + std::to_string(c.n) + ")";
    }
    return "?";
}

std::string describe(const call& c) {
    return c.cancelled ? "cancelled " + describe_call(c) : describe_call(c);
}

std::string describe(const outcome& o) {
    switch (o.what) {
    case outcome::kind::value:
        return "value " + quoted(o.bytes) + (o.at_eof ? " (at_eof true)" : "");
    case outcome::kind::incomplete_read:
        return "incomplete_read_error(partial " + quoted(o.bytes) + ", expected " +
               (o.expected ? std::to_string(*o.expected) : std::string("none")) + ")";
    case outcome::kind::limit_overrun:
        return "limit_overrun_error(consumed " + std::to_string(o.consumed) + ")";
    case outcome::kind::invalid_argument:
        return "std::invalid_argument";
    case outcome::kind::out_of_range:
        return "std::out_of_range";
    case outcome::kind::cancelled:
        return "aio::cancelled_error";
    }
    return "?";
}

[[noreturn]] void mismatch(const scenario& sc, std::size_t step, const std::string& what) {
    std::fprintf(stderr, "stream_reader fuzz: mismatch at call %zu: %s\n", step, what.c_str());
    std::fprintf(stderr, "  limit %zu%s\n  chunks:", sc.limit,
                 sc.abandon ? ", the reader dropped after the script" : "");
    for (const std::string& c : sc.chunks) {
        std::fprintf(stderr, " %s", quoted(c).c_str());
    }
    std::fprintf(stderr, "\n  script:");
    for (std::size_t i = 0; i < sc.script.size(); ++i) {
        std::fprintf(stderr, " %s%s", i == step ? ">>" : "", describe(sc.script[i]).c_str());
    }
    std::fprintf(stderr, "\n");
    std::abort();
}

// --- the real reader ------------------------------------------------------------------------

/// Runs one call on the reader; an exception it throws becomes the outcome.
aio::awaitable<outcome> perform(aio::stream_reader& reader, const call& c) {
    outcome out;
    try {
        switch (c.kind) {
        case call_kind::read_n:
            out.bytes = co_await reader.read(static_cast<std::ptrdiff_t>(c.n));
            break;
        case call_kind::read_all:
            out.bytes = co_await reader.read();
            break;
        case call_kind::readline:
            out.bytes = co_await reader.readline();
            break;
        case call_kind::readexactly:
            out.bytes = co_await reader.readexactly(c.n);
            break;
        case call_kind::readuntil_one: {
            std::string sep = c.separators.front();
            out.bytes = co_await reader.readuntil(std::move(sep));
            break;
        }
        case call_kind::readuntil_any: {
            std::vector<std::string> seps = c.separators;
            out.bytes = co_await reader.readuntil(std::move(seps));
            break;
        }
        case call_kind::at_eof:
            out.at_eof = reader.at_eof();
            break;
        case call_kind::consume:
            out.bytes = std::string(reader.buffered().substr(0, c.n));
            reader.consume(c.n);
            break;
        }
    } catch (const aio::incomplete_read_error& e) {
        out = incomplete(e.partial(), e.expected());
    } catch (const aio::limit_overrun_error& e) {
        out = overrun(e.consumed());
    } catch (const std::invalid_argument&) {
        out = refused(outcome::kind::invalid_argument);
    } catch (const std::out_of_range&) {
        out = refused(outcome::kind::out_of_range);
    }
    co_return out;
}

/// Runs one call in a task of its own and cancels it once it has had one turn of the loop (by
/// then it has ended, or it waits for bytes).
aio::awaitable<outcome> perform_cancelled(aio::stream_reader& reader, const call& c) {
    using namespace std::chrono_literals;
    aio::task<outcome> t = aio::create_task(perform(reader, c));
    co_await aio::sleep(0s);
    t.cancel();
    bool cancelled = false;
    outcome out;
    try {
        out = co_await t();
    } catch (const aio::cancelled_error&) {
        cancelled = true;
    }
    if (cancelled) {
        out = refused(outcome::kind::cancelled);
    }
    co_return out;
}

/// Bytes in the socket's receive queue, not yet read.
int unread(int fd) {
    int n = 0;
    if (::ioctl(fd, FIONREAD, &n) != 0) {
        std::perror("stream_reader fuzz: ioctl(FIONREAD)");
        std::abort();
    }
    return n;
}

/// Writes each chunk to `peer` once the reader's socket (`reader_fd`) holds nothing unread,
/// then half-closes the same way.
aio::awaitable<void> feed(int peer, int reader_fd, const std::vector<std::string>& chunks) {
    using namespace std::chrono_literals;
    for (const std::string& chunk : chunks) {
        while (unread(reader_fd) > 0) {
            co_await aio::sleep(0s);
        }
        // At most 256 bytes into an empty socket buffer: the kernel takes them in one write.
        if (::send(peer, chunk.data(), chunk.size(), MSG_NOSIGNAL) !=
            static_cast<ssize_t>(chunk.size())) {
            std::perror("stream_reader fuzz: send");
            std::abort();
        }
    }
    while (unread(reader_fd) > 0) {
        co_await aio::sleep(0s);
    }
    ::shutdown(peer, SHUT_WR);
}

/// The model's outcome of `c`, which the reader answered with `got`, leaving `held` buffered.
/// at_eof's poll of the socket may have brought the next chunk or EOF: the model follows when it
/// brought exactly that (anything else shows as a difference in what is buffered).
outcome predict(model& m, const call& c, const outcome& got, std::string_view held) {
    switch (c.kind) {
    case call_kind::read_n:
        return m.read(static_cast<std::ptrdiff_t>(c.n));
    case call_kind::read_all:
        return m.read(-1);
    case call_kind::readline:
        return m.readline();
    case call_kind::readexactly:
        return m.readexactly(c.n);
    case call_kind::readuntil_one:
    case call_kind::readuntil_any:
        return m.readuntil(c.separators);
    case call_kind::at_eof:
        if (m.buffer().empty() && !m.eof()) {
            bool brought_next = !held.empty() && m.chunks_left() && held == m.next_chunk();
            bool brought_eof = held.empty() && got.at_eof && !m.chunks_left();
            if (brought_next || brought_eof) {
                m.wait();
            }
        }
        return m.at_eof();
    case call_kind::consume:
        return m.consume(c.n);
    }
    return {};
}

/// What the model may be after the calls so far, and what the script took in it (with what
/// readline dropped past the limit), in stream order.
struct state {
    model m;
    std::string ledger;
    friend bool operator==(const state&, const state&) = default;
};

/// A state the model may be in after a call, and the outcome it predicts for the call.
struct guess {
    state next;
    outcome expected;
};

/// The states the model may reach from `st` by `c`, which the reader answered with `got`,
/// leaving `held` buffered. One, but for a call run in a task that was cancelled.
std::vector<guess> successors(const state& st, const call& c, const outcome& got,
                              std::string_view held) {
    if (got.what == outcome::kind::cancelled) {
        // It consumed nothing: the reader holds the model's bytes and the chunks the call
        // pulled before it was cancelled (anything else shows in the check of the buffer).
        state next = st;
        model& m = next.m;
        while (held.size() > m.buffer().size() && m.chunks_left() &&
               held.substr(0, m.buffer().size()) == m.buffer() &&
               held.substr(m.buffer().size(), m.next_chunk().size()) == m.next_chunk()) {
            m.wait();
        }
        return {guess{std::move(next), got}};
    }
    state as_is = st;
    outcome expected = predict(as_is.m, c, got, held);
    if (!c.cancelled) {
        return {guess{std::move(as_is), expected}};
    }
    // It ended before its cancellation. The loop turns it waited through may have let a read
    // of the socket that an earlier cancelled call left in flight bring one chunk (or EOF),
    // before the call ran or after it ended. Which one cannot always be told from the outcome
    // (a line dropped past the limit looks the same with or without the chunk that arrived
    // first): each stays possible until a later call tells them apart.
    state early = st;
    early.m.wait();
    outcome early_expected = predict(early.m, c, got, held);
    state late = as_is;
    late.m.wait();
    return {guess{std::move(as_is), expected}, guess{std::move(early), early_expected},
            guess{std::move(late), expected}};
}

aio::awaitable<void> run_scenario(const scenario& sc) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
        std::perror("stream_reader fuzz: socketpair");
        std::abort();
    }
    aio::detail::stream_socket socket(aio::detail::require_running_loop().executor(),
                                      boost::asio::generic::stream_protocol(AF_UNIX, SOCK_STREAM),
                                      fds[0]);
    aio::stream_options options;
    options.limit = sc.limit;
    aio::stream_pair streams = aio::detail::make_streams(std::move(socket), options);
    aio::stream_reader& reader = streams.reader;
    const int reader_fd = streams.writer.socket().native_handle();
    const int peer = fds[1];

    // Started now, it first runs when the script first waits for bytes (tasks start lazily).
    aio::task<void> feeder = aio::create_task(feed(peer, reader_fd, sc.chunks));

    std::vector<state> states{state{model(sc.limit, sc.chunks), ""}};
    for (std::size_t step = 0; step < sc.script.size(); ++step) {
        const call& c = sc.script[step];
        outcome got =
            c.cancelled ? co_await perform_cancelled(reader, c) : co_await perform(reader, c);
        std::string_view held = reader.buffered();
        std::vector<state> kept;
        std::optional<guess> first;
        for (const state& st : states) {
            for (guess& g : successors(st, c, got, held)) {
                if (!first) {
                    first = g;
                }
                if (g.expected == got && g.next.m.buffer() == held) {
                    if (c.kind == call_kind::readline && got.what == outcome::kind::limit_overrun) {
                        g.next.ledger += g.next.m.dropped();
                    } else if (got.what == outcome::kind::value ||
                               got.what == outcome::kind::incomplete_read) {
                        g.next.ledger += got.bytes;
                    }
                    if (std::find(kept.begin(), kept.end(), g.next) == kept.end()) {
                        kept.push_back(std::move(g.next));
                    }
                }
            }
        }
        if (kept.empty()) {
            if (first->expected != got) {
                mismatch(sc, step,
                         describe(c) + " gave " + describe(got) + ", the model " +
                             describe(first->expected));
            }
            mismatch(sc, step,
                     "after " + describe(c) + " the reader holds " + quoted(held) + ", the model " +
                         quoted(first->next.m.buffer()));
        }
        states = std::move(kept);
    }

    if (sc.abandon) {
        // The connection closes with the handles; what it was doing finishes on later turns of
        // the loop (while the next inputs run), against a transport its operations keep alive.
        feeder.cancel();
        try {
            co_await feeder();
        } catch (const aio::cancelled_error&) {
            // it was still waiting for the reader to take a chunk
        }
        ::close(peer);
        co_return;
    }

    // The rest: what the reader holds and what it has not pulled yet.
    std::string rest = co_await reader.read();
    if (!reader.at_eof()) {
        mismatch(sc, sc.script.size(), "at_eof() false after read() to EOF");
    }
    auto rest_as_modelled = [&](const state& st) { return rest == st.m.buffer() + st.m.unsent(); };
    auto found = std::find_if(states.begin(), states.end(), rest_as_modelled);
    if (found == states.end()) {
        mismatch(sc, sc.script.size(),
                 "the final read() gave " + quoted(rest) + ", the model " +
                     quoted(states.front().m.buffer() + states.front().m.unsent()));
    }
    if (found->ledger + rest != sc.payload) {
        mismatch(sc, sc.script.size(),
                 "bytes lost or duplicated: read " + quoted(found->ledger + rest) + ", sent " +
                     quoted(sc.payload));
    }
    co_await feeder();
    ::close(peer);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    aio::runner& runner = aio_fuzz::fuzz_runner();
    scenario sc = decode(data, size);
    runner.run(run_scenario(sc));
    return 0;
}

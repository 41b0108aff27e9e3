// aio/net/stream_reader.hpp - stream_reader: the reading half of a connection
// (asyncio.StreamReader), and the errors its reads throw.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/error.hpp>
#include <aio/net/detail/transport.hpp>

#include <algorithm>
#include <cstddef>
#include <exception>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aio {

/// asyncio.IncompleteReadError: the stream ended before a read got what it needed.
/// `partial()` holds the bytes read before EOF (they are no longer in the reader);
/// `expected()` the size readexactly asked for (none for readuntil).
class incomplete_read_error : public std::runtime_error {
public:
    incomplete_read_error(std::string partial, std::optional<std::size_t> expected)
        : std::runtime_error(describe(partial.size(), expected)), partial_(std::move(partial)),
          expected_(expected) {}

    const std::string& partial() const noexcept { return partial_; }
    std::optional<std::size_t> expected() const noexcept { return expected_; }

private:
    static std::string describe(std::size_t got, std::optional<std::size_t> expected) {
        return "aio: " + std::to_string(got) + " bytes read on a total of " +
               (expected ? std::to_string(*expected) + " expected bytes"
                         : std::string("undefined expected bytes"));
    }

    std::string partial_;
    std::optional<std::size_t> expected_;
};

/// asyncio.LimitOverrunError: no separator within the reader's limit. `consumed()` is how many
/// bytes to consume to get past the data that overran (readuntil leaves them in the reader).
class limit_overrun_error : public std::runtime_error {
public:
    limit_overrun_error(const std::string& message, std::size_t consumed)
        : std::runtime_error(message), consumed_(consumed) {}
    std::size_t consumed() const noexcept { return consumed_; }

private:
    std::size_t consumed_;
};

/// The reading half of a connection (asyncio.StreamReader), from open_connection or a
/// start_server handler. A handle: copies read the same stream; the connection closes when
/// the last reader and writer handle of it are gone. Loop-affine.
///
/// Reads take bytes from the socket only when a read needs them (one read of the socket in
/// flight at most), so a reader holds at most what the current read needs plus one read of the
/// socket: asyncio's flow control (pause reading above 2 × limit) holds by construction. Every
/// read returns std::string (Python's bytes).
///
/// Cancellation of any read: it throws cancelled_error and loses nothing - bytes already
/// received stay in the reader for the next read. Errors: a connection reset by the peer (or
/// any socket error) throws boost::system::system_error, for this read and every later one.
/// Two tasks reading one stream at once: the second read throws std::logic_error.
///
/// Each read's last parameter, `where`, is the caller's site, shown in the task's call stack
/// while the read waits (leave it to its default, as for every aio await; see aio::sleep).
class stream_reader {
public:
    stream_reader() = default;
    explicit stream_reader(detail::transport_handle t) noexcept : t_(std::move(t)) {}

    /// Up to n bytes (asyncio's read(n)): what is buffered, else waits for the next bytes to
    /// arrive. Empty at EOF. With n < 0 (the default), reads to EOF and returns everything
    /// (memory grows with what the peer sends: prefer a bounded read for untrusted peers).
    awaitable<std::string> read(std::ptrdiff_t n = -1,
                                aio::source_location where = aio::source_location::current()) {
        detail::transport& t = *t_;
        read_claim claim(t, "read");
        rethrow_if_failed(t);
        if (n == 0) {
            co_return std::string();
        }
        if (n < 0) {
            while (!t.eof()) {
                detail::io_waiter w(where);
                bool cancelled = co_await t.receive(w);
                after_receive(t, cancelled);
            }
            std::string all(t.buffer().view());
            t.buffer().clear();
            co_return all;
        }
        if (t.buffer().empty() && !t.eof()) {
            detail::io_waiter w(where);
            bool cancelled = co_await t.receive(w);
            after_receive(t, cancelled);
        }
        co_return take(t, std::min<std::size_t>(static_cast<std::size_t>(n), t.buffer().size()));
    }

    /// One line, "\n" included (asyncio's readline). At EOF, the partial last line (no "\n"),
    /// or an empty string. A line longer than limit(): throws limit_overrun_error and drops the
    /// line (up to and including its "\n" if it arrived, else everything buffered), so the
    /// next readline starts on a fresh line.
    awaitable<std::string> readline(aio::source_location where = aio::source_location::current()) {
        detail::transport& t = *t_;
        read_claim claim(t, "readline");
        std::string line;
        std::optional<limit_overrun_error> overrun;
        separators newline(std::string("\n"));
        try {
            line = co_await until(t, std::move(newline), where);
        } catch (const incomplete_read_error& e) {
            line = e.partial();
        } catch (const limit_overrun_error& e) {
            overrun = e;
        }
        if (overrun) {
            std::string_view rest = t.buffer().view();
            if (rest.size() > overrun->consumed() && rest[overrun->consumed()] == '\n') {
                t.buffer().consume(overrun->consumed() + 1);
            } else {
                t.buffer().clear();
            }
            throw *overrun;
        }
        co_return line;
    }

    /// Exactly n bytes (asyncio's readexactly). The stream ends first: throws
    /// incomplete_read_error with what was read (consumed). n may exceed limit().
    awaitable<std::string>
    readexactly(std::size_t n, aio::source_location where = aio::source_location::current()) {
        detail::transport& t = *t_;
        read_claim claim(t, "readexactly");
        rethrow_if_failed(t);
        while (t.buffer().size() < n) {
            if (t.eof()) {
                std::string partial(t.buffer().view());
                t.buffer().clear();
                throw incomplete_read_error(std::move(partial), n);
            }
            detail::io_waiter w(where);
            bool cancelled = co_await t.receive(w);
            after_receive(t, cancelled);
        }
        co_return take(t, n);
    }

    /// Up to and including `separator` (asyncio's readuntil). EOF first: throws
    /// incomplete_read_error with everything buffered (consumed). No separator within
    /// limit() bytes of data (the separator itself does not count): throws
    /// limit_overrun_error and leaves the data in the reader. An empty separator: throws
    /// std::invalid_argument.
    awaitable<std::string> readuntil(std::string separator = "\n",
                                     aio::source_location where = aio::source_location::current()) {
        detail::transport& t = *t_;
        read_claim claim(t, "readuntil");
        // The separators are built outside the co_await: GCC 12 mishandles a braced temporary
        // of class type inside one (and a throw through `co_return co_await` crashed it here).
        separators seps(std::move(separator));
        std::string chunk = co_await until(t, std::move(seps), where);
        co_return chunk;
    }

    /// readuntil with several separators (Python 3.13): stops at whichever ends first in the
    /// stream.
    awaitable<std::string> readuntil(std::vector<std::string> any_of,
                                     aio::source_location where = aio::source_location::current()) {
        detail::transport& t = *t_;
        read_claim claim(t, "readuntil");
        separators seps(std::move(any_of));
        std::string chunk = co_await until(t, std::move(seps), where);
        co_return chunk;
    }

    /// True once the peer has closed its side and every received byte has been read
    /// (asyncio's at_eof). Looks at the socket without waiting when nothing is buffered.
    bool at_eof() const {
        detail::transport& t = *t_;
        if (t.buffer().empty() && !t.eof()) {
            t.poll();
        }
        return t.eof() && t.buffer().empty();
    }

    /// The limit on a line or chunk that readline and readuntil accept (asyncio's limit).
    std::size_t limit() const { return t_->limit(); }

    /// The bytes received and not yet read, without copying. The view lives until the next
    /// read or consume() on this stream.
    std::string_view buffered() const { return t_->buffer().view(); }

    /// Drops the first n buffered bytes (n <= buffered().size()), e.g. after parsing them in
    /// place through buffered().
    void consume(std::size_t n) {
        if (n > t_->buffer().size()) {
            throw std::out_of_range("aio: stream_reader::consume: " + std::to_string(n) +
                                    " bytes asked, " + std::to_string(t_->buffer().size()) +
                                    " buffered");
        }
        t_->buffer().consume(n);
    }

    /// Waits for bytes beyond what buffered() holds now, for a parser that reads in place
    /// (buffered(), consume(), fill(); asyncio keeps this as StreamReader._wait_for_data):
    /// returns how many arrived, 0 at EOF (at once if EOF was already seen). One read of the
    /// socket at most, capped like every read, so a parser bounds memory by consuming.
    /// Cancellation: throws cancelled_error; what arrived stays buffered. Errors: throws the
    /// connection's error, as every read does.
    awaitable<std::size_t> fill(aio::source_location where = aio::source_location::current()) {
        detail::transport& t = *t_;
        read_claim claim(t, "fill");
        rethrow_if_failed(t);
        if (t.eof()) {
            co_return 0;
        }
        std::size_t before = t.buffer().size();
        detail::io_waiter w(where);
        bool cancelled = co_await t.receive(w);
        after_receive(t, cancelled);
        co_return t.buffer().size() - before;
    }

    /// False for a default-constructed reader.
    explicit operator bool() const noexcept { return static_cast<bool>(t_); }

private:
    /// The separators of one readuntil, shortest first.
    class separators {
    public:
        separators(std::string one) : list_{std::move(one)} { check(); }
        separators(std::vector<std::string> many) : list_(std::move(many)) {
            std::sort(list_.begin(), list_.end(), [](const std::string& a, const std::string& b) {
                return a.size() < b.size();
            });
            check();
        }
        const std::vector<std::string>& list() const noexcept { return list_; }
        std::size_t shortest() const noexcept { return list_.front().size(); }
        std::size_t longest() const noexcept { return list_.back().size(); }

    private:
        void check() const {
            if (list_.empty()) {
                throw std::invalid_argument("aio: stream_reader::readuntil: no separator given");
            }
            if (list_.front().empty()) {
                throw std::invalid_argument("aio: stream_reader::readuntil: empty separator");
            }
        }
        std::vector<std::string> list_;
    };

    /// Marks the stream as being read for the duration of one read call.
    class read_claim {
    public:
        read_claim(detail::transport& t, const char* what) : t_(t) { t.begin_read(what); }
        ~read_claim() { t_.end_read(); }
        read_claim(const read_claim&) = delete;
        read_claim& operator=(const read_claim&) = delete;

    private:
        detail::transport& t_;
    };

    static void rethrow_if_failed(const detail::transport& t) {
        if (t.error()) {
            std::rethrow_exception(t.error());
        }
    }

    static std::string take(detail::transport& t, std::size_t n) {
        std::string out(t.buffer().view().substr(0, n));
        t.buffer().consume(n);
        return out;
    }

    /// Getting more from the socket, written out where it is needed (a coroutine of its own
    /// would cost a frame per read):
    ///   detail::io_waiter w(where);
    ///   bool cancelled = co_await t.receive(w);
    ///   after_receive(t, cancelled);
    /// The buffer then holds more bytes, or eof() is set; the connection's error is thrown.
    static void after_receive(const detail::transport& t, bool cancelled) {
        if (cancelled) {
            throw cancelled_error();
        }
        rethrow_if_failed(t);
    }

    /// readuntil's search, as CPython's: from `offset`, the earliest end of any separator.
    static awaitable<std::string> until(detail::transport& t, separators seps,
                                        aio::source_location where) {
        rethrow_if_failed(t);
        std::size_t offset = 0;
        std::size_t match_start = 0;
        std::size_t match_end = 0;
        for (;;) {
            std::string_view buf = t.buffer().view();
            if (buf.size() - offset >= seps.shortest()) {
                std::size_t best_end = std::string_view::npos;
                for (const std::string& sep : seps.list()) {
                    std::size_t at = buf.find(sep, offset);
                    if (at != std::string_view::npos &&
                        (best_end == std::string_view::npos || at + sep.size() < best_end)) {
                        best_end = at + sep.size();
                        match_start = at;
                    }
                }
                if (best_end != std::string_view::npos) {
                    match_end = best_end;
                    break;
                }
                offset = buf.size() + 1 >= seps.longest() ? buf.size() + 1 - seps.longest() : 0;
                if (offset > t.limit()) {
                    throw limit_overrun_error(
                        "aio: stream_reader: separator not found, and the chunk exceeds the limit",
                        offset);
                }
            }
            if (t.eof()) {
                std::string partial(buf);
                t.buffer().clear();
                throw incomplete_read_error(std::move(partial), std::nullopt);
            }
            detail::io_waiter w(where);
            bool cancelled = co_await t.receive(w);
            after_receive(t, cancelled);
        }
        if (match_start > t.limit()) {
            throw limit_overrun_error(
                "aio: stream_reader: separator found, but the chunk is longer than the limit",
                match_start);
        }
        co_return take(t, match_end);
    }

    detail::transport_handle t_;
};

} // namespace aio

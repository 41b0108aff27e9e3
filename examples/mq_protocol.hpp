// mq_protocol.hpp - the message queue's wire protocol (the book's msgproto.py), shared by
// mq_server, mq_server_plus, mq_client_listen and mq_client_sender, with the command line they
// all take and how they print.
//
// A frame is a 4-byte unsigned big-endian length, then that many bytes. A client's first frame
// names the channel it subscribes to (a sender subscribes to "/null"); then it sends pairs of
// frames: the destination channel, the payload. Subscribers receive the payload frame only.
// Channels whose name starts with "/queue" deliver each message to one subscriber, round-robin;
// the others deliver to every subscriber. An empty channel frame ends the client's session; EOF
// is a disconnect.
#pragma once

#include <aio/aio.hpp>
#include <aio/streams.hpp>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>

namespace mq {

/// The largest frame a reader accepts unless told otherwise.
inline constexpr std::size_t default_max_frame = 16 * 1024 * 1024;

/// A frame that declares more bytes than the reader accepts. The connection cannot go on (what
/// follows is not a frame boundary): close it.
class frame_too_large : public std::runtime_error {
public:
    frame_too_large(std::uint64_t declared, std::size_t max)
        : std::runtime_error("a frame of " + std::to_string(declared) +
                             " bytes was declared, above the maximum of " + std::to_string(max)) {}
};

/// The length a frame's 4-byte header declares. Throws frame_too_large above `max`.
inline std::uint32_t declared_size(std::string_view header, std::size_t max) {
    std::uint32_t size = 0;
    for (unsigned char byte : header.substr(0, 4)) {
        size = size << 8 | byte;
    }
    if (size > max) {
        throw frame_too_large(size, max);
    }
    return size;
}

/// A frame the reader holds whole already, taken from its buffer without waiting (with its
/// header if `with_header`), or nothing when the buffer has less than one frame. Throws
/// frame_too_large for a header that declares more than `max`.
inline std::optional<std::string> take_buffered(aio::stream_reader& reader, std::size_t max,
                                                bool with_header) {
    std::string_view buffered = reader.buffered();
    if (buffered.size() < 4) {
        return std::nullopt;
    }
    std::uint32_t size = declared_size(buffered, max);
    if (buffered.size() - 4 < size) {
        return std::nullopt;
    }
    std::string out(buffered.substr(with_header ? 0 : 4, with_header ? 4 + size : size));
    reader.consume(4 + size);
    return out;
}

/// The next frame, with its header or without: read_msg's and read_frame's body.
inline aio::awaitable<std::string> read_framed(aio::stream_reader& reader, std::size_t max,
                                               bool with_header) {
    if (std::optional<std::string> f = take_buffered(reader, max, with_header)) {
        co_return std::move(*f);
    }
    std::string header = co_await reader.readexactly(4);
    std::uint32_t size = declared_size(header, max);
    std::string body = co_await reader.readexactly(size);
    if (!with_header) {
        co_return body;
    }
    header += body;
    co_return header;
}

/// read_msg: the next frame's bytes. Throws aio::incomplete_read_error on EOF (at a frame
/// boundary its partial() is empty: a clean disconnect; otherwise the frame was cut off),
/// frame_too_large past `max`, the connection's error if it is lost. Cancellation: throws
/// cancelled_error; the bytes of a frame begun stay in the reader. A frame already received
/// whole is taken from the reader's buffer at once.
inline aio::awaitable<std::string> read_msg(aio::stream_reader& reader,
                                            std::size_t max = default_max_frame) {
    return read_framed(reader, max, false);
}

/// read_frame: the next frame whole, its header included - what a broker passes on unchanged
/// (a payload frame goes to the subscribers as it came, with no new frame to build). Errors
/// and cancellation: as read_msg.
inline aio::awaitable<std::string> read_frame(aio::stream_reader& reader,
                                              std::size_t max = default_max_frame) {
    return read_framed(reader, max, true);
}

/// The frame of `data`: its length, big-endian, then the bytes.
inline std::string frame(std::string_view data) {
    if (data.size() > UINT32_MAX) {
        throw std::length_error("mq: a frame holds at most 4 GiB");
    }
    auto size = static_cast<std::uint32_t>(data.size());
    std::string out;
    out.reserve(4 + data.size());
    for (int shift = 24; shift >= 0; shift -= 8) {
        out += static_cast<char>(size >> shift & 0xff);
    }
    out += data;
    return out;
}

/// send_msg: writes the frame of `data` and waits until the writer is below its high water mark.
/// Throws the connection's error if it is lost. Cancellation: throws cancelled_error; the frame
/// is written whole already (a frame is never cut by a cancellation).
inline aio::awaitable<void> send_msg(aio::stream_writer& writer, std::string_view data) {
    writer.write(frame(data));
    co_await writer.drain();
}

/// print(line, flush=True): one write per line, so that lines never mix.
inline void print(const std::string& line) {
    std::cout << line + '\n' << std::flush;
}

/// A client's name: uuid.uuid4().hex[:8], as the book's clients make theirs.
inline std::string short_id() {
    std::random_device rd;
    std::uniform_int_distribution<std::uint32_t> dist;
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", dist(rd));
    return hex;
}

/// The command line every mq program takes: --host HOST --port PORT and options of its own, each
/// "--name value". Unknown names and missing values are errors.
class options {
public:
    std::string host = "127.0.0.1";
    std::uint16_t port = 25000;

    /// Parses argv; `extra` lists the program's own option names with their defaults. Throws
    /// std::invalid_argument naming what is wrong.
    options(int argc, char** argv, std::map<std::string, std::string> extra = {})
        : values_(std::move(extra)) {
        for (int i = 1; i < argc; i += 2) {
            std::string_view name = argv[i];
            if (i + 1 >= argc) {
                throw std::invalid_argument("option " + std::string(name) + " needs a value");
            }
            std::string value = argv[i + 1];
            if (name == "--host") {
                host = value;
            } else if (name == "--port") {
                port = static_cast<std::uint16_t>(number(name, value, 0, 65535));
            } else if (name.starts_with("--") && values_.count(std::string(name.substr(2)))) {
                values_[std::string(name.substr(2))] = value;
            } else {
                throw std::invalid_argument("unknown option " + std::string(name));
            }
        }
    }

    /// True if the program was started with no options at all (the examples' demo mode).
    static bool none(int argc) { return argc == 1; }

    const std::string& text(const std::string& name) const { return values_.at(name); }
    long integer(const std::string& name, long low, long high) const {
        return number("--" + name, text(name), low, high);
    }
    double real(const std::string& name) const {
        const std::string& value = text(name);
        std::size_t used = 0;
        double d = 0;
        try {
            d = std::stod(value, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != value.size() || !(d >= 0)) {
            throw std::invalid_argument("--" + name + " wants a number >= 0, not " + value);
        }
        return d;
    }

private:
    static long number(std::string_view name, const std::string& value, long low, long high) {
        long n = 0;
        const char* end = value.data() + value.size();
        auto [rest, ec] = std::from_chars(value.data(), end, n);
        if (ec != std::errc() || rest != end || n < low || n > high) {
            throw std::invalid_argument(std::string(name) + " wants a whole number in " +
                                        std::to_string(low) + ".." + std::to_string(high) +
                                        ", not " + value);
        }
        return n;
    }

    std::map<std::string, std::string> values_;
};

} // namespace mq

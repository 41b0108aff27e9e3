// aio/http/websocket.hpp - WebSocket messages and the API both ends share (aiohttp's
// WSMessage, WSMsgType, WSCloseCode, and the send/receive/close methods of
// web.WebSocketResponse and ClientWebSocketResponse), on boost::beast::websocket.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/error.hpp>
#include <aio/event.hpp>
#include <aio/generator.hpp>
#include <aio/http/detail/ws_stream.hpp>
#include <aio/lock.hpp>
#include <aio/net/stream_reader.hpp>
#include <aio/net/stream_writer.hpp>
#include <aio/wait.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace aio::http {

/// The kinds of message receive() returns (aiohttp's WSMsgType; PING and PONG are answered
/// and consumed inside receive(), as aiohttp's autoping does, and never returned).
enum class ws_msg_type {
    text,   ///< a text message (TEXT): data holds its UTF-8 bytes
    binary, ///< a binary message (BINARY): data holds its bytes
    close,  ///< the peer closed (CLOSE): code is its close code, data its reason
    closed, ///< the WebSocket was already closed, or the connection ended (CLOSED)
    error,  ///< a protocol error or an oversized message closed it (ERROR): data says why
};

/// Close codes (aiohttp's WSCloseCode; RFC 6455, section 7.4.1).
namespace ws_close_code {
inline constexpr std::uint16_t ok = 1000;
inline constexpr std::uint16_t going_away = 1001;
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t unsupported_data = 1003;
inline constexpr std::uint16_t abnormal_closure = 1006;
inline constexpr std::uint16_t invalid_text = 1007;
inline constexpr std::uint16_t policy_violation = 1008;
inline constexpr std::uint16_t message_too_big = 1009;
inline constexpr std::uint16_t mandatory_extension = 1010;
inline constexpr std::uint16_t internal_error = 1011;
} // namespace ws_close_code

/// One message received (aiohttp's WSMessage(type, data, extra)): for text and binary, the
/// payload in data; for close, the close code in code and the reason in data (aiohttp puts
/// them in data and extra); for error, a description in data and the code it closed with.
struct ws_message {
    ws_msg_type type = ws_msg_type::closed;
    std::string data;
    std::uint16_t code = 0;

    /// The data parsed as JSON (aiohttp's WSMessage.json()). Throws boost::system::system_error
    /// if it is not JSON.
    boost::json::value json() const { return boost::json::parse(data); }
};

/// The settings both ends share (aiohttp's WebSocketResponse / ws_connect arguments).
struct websocket_options {
    /// The largest message received, in bytes (aiohttp's max_msg_size, 4 MiB; 0: no limit).
    /// A bigger one closes the WebSocket with 1009 and receive() returns an error message.
    std::size_t max_msg_size = 4 * 1024 * 1024;
    /// How long close() waits for the peer's close frame (aiohttp's timeout / ws_close,
    /// 10 s); then the connection is aborted.
    std::chrono::steady_clock::duration close_timeout = std::chrono::seconds(10);
};

namespace detail {

/// The state of one WebSocket, shared by its handle and by whatever must close it from the
/// outside (the server's shutdown).
struct ws_core {
    ws_core(stream_reader reader, stream_writer writer, const websocket_options& opt)
        : ws(std::move(reader), std::move(writer)), options(opt) {
        ws.read_message_max(options.max_msg_size);
        ws.auto_fragment(false);
    }

    /// Marks it closed with `code` (the first code recorded stays).
    void mark_closed(std::uint16_t code) {
        closed = true;
        if (!close_code) {
            close_code = code;
        }
        ended.set();
    }

    boost::beast::websocket::stream<ws_stream> ws;
    websocket_options options;
    boost::beast::flat_buffer buffer;
    aio::lock writing; ///< one frame written at a time (Beast allows one write in flight)
    bool closed = false;
    bool closing = false;
    bool receiving = false; ///< a receive() is in progress (Beast allows one read at a time)
    std::optional<std::uint16_t> close_code;
    aio::event ended; ///< set once closed
};

} // namespace detail

/// What both ends of a WebSocket can do once it is open: the message API of aiohttp's
/// web.WebSocketResponse and ClientWebSocketResponse. Use websocket_response (server) or
/// client_websocket (from client_session::ws_connect). Move-only; loop-affine. One task may
/// receive while any number of others send (sends are queued one frame at a time).
///
/// Errors: a send on a closed WebSocket or a lost connection throws
/// boost::system::system_error (aiohttp: ConnectionResetError). The peer's misbehaviour never
/// throws from receive(): it returns an error message, and the WebSocket is closed.
/// Cancellation of receive() (or of the task iterating messages()) throws cancelled_error and
/// aborts the connection: a frame may have been half read, so the stream cannot go on
/// (aiohttp keeps the WebSocket open; Beast's read cannot be resumed once cancelled).
class websocket {
public:
    websocket(websocket&&) noexcept = default;
    websocket& operator=(websocket&&) noexcept = default;

    /// The next message (aiohttp's receive()): text, binary, the peer's close (after the
    /// closing handshake is done: the reply is sent and the connection ended), error (a
    /// protocol error or a message over max_msg_size: the WebSocket was closed with 1002 or
    /// 1009), or closed (it was closed already, or the connection ended without a close).
    /// Pings are answered with pongs, pongs consumed, inside. Cancellation: see the class.
    /// Two tasks receiving at once: the second throws std::logic_error (aiohttp: RuntimeError).
    awaitable<ws_message> receive() {
        auto core = core_;
        if (!core || core->closed) {
            std::uint16_t code = core ? core->close_code.value_or(0) : std::uint16_t{0};
            co_return ws_message{ws_msg_type::closed, {}, code};
        }
        if (core->receiving) {
            throw std::logic_error("aio.http: another task is already receiving on this WebSocket");
        }
        core->receiving = true;
        struct receiving_claim {
            detail::ws_core& core;
            ~receiving_claim() { core.receiving = false; }
        } claim{*core};
        core->buffer.clear();
        boost::system::error_code ec;
        try {
            co_await core->ws.async_read(
                core->buffer, boost::asio::redirect_error(boost::asio::use_awaitable, ec));
        } catch (const boost::system::system_error& e) {
            ec = e.code();
        }
        if (!ec) {
            auto bytes = core->buffer.cdata();
            ws_message msg{core->ws.got_text() ? ws_msg_type::text : ws_msg_type::binary,
                           std::string(static_cast<const char*>(bytes.data()), bytes.size()), 0};
            core->buffer.clear();
            co_return msg;
        }
        if (ec == boost::asio::error::operation_aborted && core->closing) {
            // Beast ends a read pending when close() starts this way: the close is ours, not
            // a cancellation; the peer's answer comes to close().
            if (!core->closed) {
                co_await core->ended.wait();
            }
            co_return ws_message{ws_msg_type::closed, {}, core->close_code.value_or(0)};
        }
        co_return failed(*core, ec);
    }

    /// The next message's text (aiohttp's receive_str()). Throws std::runtime_error if the
    /// next message is not text (aiohttp: TypeError), e.g. once the WebSocket is closed.
    awaitable<std::string> receive_str() {
        ws_message msg = co_await receive();
        if (msg.type != ws_msg_type::text) {
            throw std::runtime_error("aio.http: the WebSocket message received is not text");
        }
        co_return std::move(msg.data);
    }
    /// The next message's bytes (aiohttp's receive_bytes()). Throws std::runtime_error if it
    /// is not binary.
    awaitable<std::string> receive_bytes() {
        ws_message msg = co_await receive();
        if (msg.type != ws_msg_type::binary) {
            throw std::runtime_error("aio.http: the WebSocket message received is not binary");
        }
        co_return std::move(msg.data);
    }
    /// The next text message parsed as JSON (aiohttp's receive_json()). Throws as
    /// receive_str(), and boost::system::system_error if it is not JSON.
    awaitable<boost::json::value> receive_json() {
        std::string text = co_await receive_str();
        co_return boost::json::parse(text);
    }

    /// The messages until the WebSocket closes (aiohttp's `async for msg in ws`): text,
    /// binary and error messages are yielded; it ends at the peer's close or once closed.
    /// `for (auto m = ws.messages(); auto msg = co_await m.next();)`. This object must outlive
    /// the generator. Cancellation: as receive().
    generator<ws_message> messages() {
        for (;;) {
            ws_message msg = co_await receive();
            if (msg.type == ws_msg_type::close || msg.type == ws_msg_type::closed) {
                co_return;
            }
            co_yield std::move(msg);
        }
    }

    /// Sends a text message (aiohttp's send_str); returns once it is handed to the
    /// connection (written, or buffered under the streams' flow control). Throws
    /// boost::system::system_error if closed or the connection is lost. Cancellation: throws
    /// cancelled_error and aborts the connection (the frame may be half sent).
    awaitable<void> send_str(std::string_view text) { return send(text, true); }
    /// Sends a binary message (aiohttp's send_bytes). As send_str().
    awaitable<void> send_bytes(std::string_view bytes) { return send(bytes, false); }
    /// Sends `value` serialized as a text message (aiohttp's send_json). As send_str().
    awaitable<void> send_json(const boost::json::value& value) {
        return send_owned(boost::json::serialize(value), true);
    }
    /// Sends a ping (aiohttp's ping(message)); the peer's pong is consumed by receive().
    /// Throws as send_str().
    awaitable<void> ping(std::string payload = {}) {
        auto core = core_;
        check_open(*core);
        auto held = co_await core->writing.scoped();
        boost::system::error_code ec;
        co_await core->ws.async_ping(boost::beast::websocket::ping_data(payload.c_str()),
                                     boost::asio::redirect_error(boost::asio::use_awaitable, ec));
        after_send(*core, ec);
    }

    /// Starts the closing handshake with `code` and `message` (aiohttp's close(code=,
    /// message=)) and waits, up to websocket_options::close_timeout, for the peer's close
    /// frame; then the connection is ended (aborted after the timeout). Returns false if
    /// it was closed already (aiohttp's close() returns False then), true otherwise. A task
    /// blocked in receive() meanwhile gets the peer's close. Never throws, except
    /// cancelled_error on cancellation (the connection is then aborted).
    awaitable<bool> close(std::uint16_t code = ws_close_code::ok, std::string message = {}) {
        auto core = core_;
        if (!core || core->closed || core->closing) {
            co_return false;
        }
        core->closing = true;
        bool cancelled = false;
        try {
            co_await aio::timeout(core->options.close_timeout,
                                  close_handshake(core, code, std::move(message)));
        } catch (const timeout_error&) {
        } catch (const cancelled_error&) {
            cancelled = true;
        } catch (...) {
        }
        if (!core->closed) {
            beast_close_socket(core->ws.next_layer());
            core->mark_closed(ws_close_code::abnormal_closure);
        }
        if (cancelled) {
            throw cancelled_error();
        }
        co_return true;
    }

    /// The close code, once closed (aiohttp's close_code): the peer's code when it closed,
    /// or answered our close; 1009 after an oversized message, 1002 after a protocol error,
    /// 1006 if the connection ended without a close; nothing while open.
    std::optional<std::uint16_t> close_code() const noexcept {
        return core_ ? core_->close_code : std::nullopt;
    }
    /// True once closed, or closing (aiohttp's closed).
    bool closed() const noexcept { return !core_ || core_->closed || core_->closing; }

protected:
    websocket() = default;
    explicit websocket(std::shared_ptr<detail::ws_core> core) : core_(std::move(core)) {}
    ~websocket() = default;

    std::shared_ptr<detail::ws_core> core_;

private:
    static void check_open(const detail::ws_core& core) {
        if (core.closed || core.closing) {
            throw boost::system::system_error(boost::asio::error::connection_reset,
                                              "aio.http: the WebSocket is closed");
        }
    }

    /// A send ended with `ec`: a failure closes the WebSocket and throws.
    static void after_send(detail::ws_core& core, boost::system::error_code ec) {
        if (!ec) {
            return;
        }
        beast_close_socket(core.ws.next_layer());
        core.mark_closed(ws_close_code::abnormal_closure);
        if (ec == boost::asio::error::operation_aborted) {
            throw cancelled_error();
        }
        throw boost::system::system_error(ec, "aio.http: WebSocket send failed");
    }

    awaitable<void> send(std::string_view data, bool text) {
        auto core = core_;
        check_open(*core);
        auto held = co_await core->writing.scoped();
        check_open(*core);
        boost::system::error_code ec;
        core->ws.text(text);
        co_await core->ws.async_write(boost::asio::buffer(data.data(), data.size()),
                                      boost::asio::redirect_error(boost::asio::use_awaitable, ec));
        after_send(*core, ec);
    }
    awaitable<void> send_owned(std::string data, bool text) { co_await send(data, text); }

    static awaitable<void> close_handshake(std::shared_ptr<detail::ws_core> core,
                                           std::uint16_t code, std::string message) {
        // A close frame's reason is 123 bytes at most.
        boost::beast::websocket::close_reason reason(
            static_cast<boost::beast::websocket::close_code>(code),
            std::string_view(message).substr(0, 123));
        boost::system::error_code ec;
        co_await core->ws.async_close(reason,
                                      boost::asio::redirect_error(boost::asio::use_awaitable, ec));
        if (ec == boost::asio::error::operation_aborted) {
            throw cancelled_error();
        }
        std::uint16_t answered = core->ws.reason().code;
        core->mark_closed(ec ? ws_close_code::abnormal_closure : answered ? answered : code);
    }

    /// A read ended with `ec`: the WebSocket is closed; the message that says how.
    static ws_message failed(detail::ws_core& core, boost::system::error_code ec) {
        namespace bw = boost::beast::websocket;
        if (ec == bw::error::closed) {
            const bw::close_reason& reason = core.ws.reason();
            core.mark_closed(reason.code ? reason.code : ws_close_code::ok);
            return {ws_msg_type::close, std::string(reason.reason.c_str()), *core.close_code};
        }
        beast_close_socket(core.ws.next_layer());
        if (ec == boost::asio::error::operation_aborted) {
            core.mark_closed(ws_close_code::abnormal_closure);
            throw cancelled_error();
        }
        if (ec == bw::error::message_too_big) {
            core.mark_closed(ws_close_code::message_too_big);
            return {ws_msg_type::error, "message too big", ws_close_code::message_too_big};
        }
        if (ec.category() == bw::make_error_code(bw::error::closed).category()) {
            core.mark_closed(ws_close_code::protocol_error);
            return {ws_msg_type::error, ec.message(), ws_close_code::protocol_error};
        }
        core.mark_closed(ws_close_code::abnormal_closure);
        if (ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset) {
            return {ws_msg_type::closed, {}, ws_close_code::abnormal_closure};
        }
        return {ws_msg_type::error, ec.message(), ws_close_code::abnormal_closure};
    }
};

} // namespace aio::http

// aio/http/client_websocket.hpp - client_websocket: the client's end of a WebSocket, made by
// client_session::ws_connect (aiohttp's ClientWebSocketResponse), and ws_connect's options.
#pragma once

#include <aio/http/client_options.hpp>
#include <aio/http/detail/connection_pool.hpp>
#include <aio/http/websocket.hpp>

#include <memory>
#include <utility>

namespace aio::http {

/// ws_connect's options (aiohttp's ws_connect arguments).
struct ws_connect_options {
    /// Header fields sent with the upgrade request, on top of the session's (aiohttp's
    /// headers).
    name_value_list headers{};
    /// Query parameters appended to the URL (aiohttp's params).
    name_value_list params{};
    /// The message size limit and close timeout (aiohttp's max_msg_size, timeout).
    websocket_options websocket{};
};

/// The client's end of a WebSocket (aiohttp's ClientWebSocketResponse), from
/// client_session::ws_connect. The message API (receive, send_str, close, ...) is websocket's.
/// Its connection came through the session's pool and counts against its limits until the
/// WebSocket is closed and this object destroyed; it never goes back to the pool. Destroying
/// it without close() aborts the connection (the server sees it end without a close frame).
class client_websocket : public websocket {
public:
    /// Made by client_session::ws_connect: the open WebSocket and the pool's lease on its
    /// connection (held until this object is destroyed).
    client_websocket(std::shared_ptr<detail::ws_core> core, detail::connection_lease lease)
        : websocket(std::move(core)), lease_(std::move(lease)) {}
    client_websocket(client_websocket&&) noexcept = default;
    client_websocket& operator=(client_websocket&&) noexcept = default;

private:
    detail::connection_lease lease_;
};

} // namespace aio::http

// aio/http/websocket_response.hpp - websocket_response: the server's end of a WebSocket
// (aiohttp's web.WebSocketResponse).
#pragma once

#include <aio/awaitable.hpp>
#include <aio/http/detail/body_source.hpp>
#include <aio/http/request.hpp>
#include <aio/http/response.hpp>
#include <aio/http/websocket.hpp>
#include <aio/task.hpp>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream_base.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

namespace aio::http {

/// The server's end of a WebSocket (aiohttp's web.WebSocketResponse), made in a handler:
///
///   app.get("/ws", [](http::request& req) -> aio::awaitable<http::response> {
///       http::websocket_response ws;
///       co_await ws.prepare(req);
///       for (auto m = ws.messages(); auto msg = co_await m.next();) {
///           co_await ws.send_str(msg->data);
///       }
///       co_return ws.finish();
///   });
///
/// prepare() answers the upgrade (101) and takes the connection over from HTTP: what the
/// handler returns afterwards is not sent; once it returns, a WebSocket still open is closed
/// with 1000 (as aiohttp does) and the connection ends. Keep-alive, pipelining and the header
/// timeout no longer apply. The server's shutdown closes open WebSockets with 1001 (going
/// away), so that their handlers see the close and return; handlers still running after the
/// shutdown timeout are cancelled, as other handlers are.
/// The message API (receive, send_str, close, ...) is websocket's.
class websocket_response : public websocket {
public:
    /// A WebSocket not prepared yet, with `options` (aiohttp's WebSocketResponse(...)).
    explicit websocket_response(websocket_options options = {}) : options_(options) {}

    /// True if `req` asks for a WebSocket that prepare() would accept (aiohttp's
    /// can_prepare(request).ok).
    static bool can_prepare(const request& req) { return refusal(req).empty(); }

    /// Answers `req`'s upgrade with 101 Switching Protocols and opens the WebSocket (aiohttp's
    /// prepare(request)). A request that is not a WebSocket upgrade (not GET, no "Upgrade:
    /// websocket", no key, a version other than 13) throws http_error(400), as aiohttp's
    /// HTTPBadRequest, and the connection stays HTTP. Throws std::logic_error if already
    /// prepared; boost::system::system_error if the connection is lost during the handshake.
    /// Cancellation: throws cancelled_error and aborts the connection.
    awaitable<void> prepare(request& req) {
        if (core_) {
            throw std::logic_error("aio.http: websocket_response::prepare called twice");
        }
        std::string why = refusal(req);
        if (!why.empty()) {
            http_error refused(status::bad_request, std::move(why));
            if (req.headers()[field::sec_websocket_version] != "13") {
                refused.headers().set(field::sec_websocket_version, "13");
            }
            throw refused;
        }
        namespace bh = boost::beast::http;
        bh::request<bh::empty_body> upgrade(req.method(), req.target(), req.version());
        for (const auto& f : req.headers()) {
            upgrade.insert(f.name_string(), f.value());
        }
        auto finisher = std::make_shared<server_end>();
        detail::taken_over_streams streams = req.take_over(finisher);
        core_ = std::make_shared<detail::ws_core>(std::move(streams.reader),
                                                  std::move(streams.writer), options_);
        finisher->core = core_;
        core_->ws.set_option(boost::beast::websocket::stream_base::decorator(
            [](boost::beast::websocket::response_type& res) {
                res.set(field::server, "aio-http/0.1");
            }));
        boost::system::error_code ec;
        try {
            co_await core_->ws.async_accept(
                upgrade, boost::asio::redirect_error(boost::asio::use_awaitable, ec));
        } catch (const boost::system::system_error& e) {
            ec = e.code();
        }
        if (ec) {
            beast_close_socket(core_->ws.next_layer());
            core_->mark_closed(ws_close_code::abnormal_closure);
            if (ec == boost::asio::error::operation_aborted) {
                throw cancelled_error();
            }
            throw boost::system::system_error(ec, "aio.http: the WebSocket handshake failed");
        }
    }

    /// What the handler returns once done with the WebSocket: a 101 response the server does
    /// not send (any response would do; this one says what happened).
    response finish() const { return response(status::switching_protocols); }

private:
    /// Ends the WebSocket for the connection (after the handler, at shutdown).
    struct server_end final : detail::upgraded_protocol {
        std::shared_ptr<detail::ws_core> core;

        awaitable<void> finish() override {
            websocket_response ws(core);
            co_await ws.close(ws_close_code::ok);
        }
        void going_away() override {
            if (!core || core->closed || core->closing) {
                return;
            }
            auto ending = create_task([c = core]() -> awaitable<void> {
                websocket_response ws(c);
                co_await ws.close(ws_close_code::going_away);
            });
        }
    };

    explicit websocket_response(std::shared_ptr<detail::ws_core> core)
        : websocket(std::move(core)) {}

    /// Why `req` is not a WebSocket upgrade, or "" if it is (aiohttp's messages).
    static std::string refusal(const request& req) {
        const fields& h = req.headers();
        if (req.method() != verb::get) {
            return "WebSocket upgrade needs GET";
        }
        if (!boost::beast::iequals(h[field::upgrade], "websocket")) {
            return "No WebSocket UPGRADE hdr: " + std::string(h[field::upgrade]);
        }
        if (!has_token(h[field::connection], "upgrade")) {
            return "No CONNECTION upgrade hdr: " + std::string(h[field::connection]);
        }
        if (h[field::sec_websocket_version] != "13") {
            return "Unsupported version: " + std::string(h[field::sec_websocket_version]);
        }
        if (h[field::sec_websocket_key].empty()) {
            return "Handshake error: no Sec-WebSocket-Key";
        }
        return {};
    }

    static bool has_token(std::string_view list, std::string_view token) {
        while (!list.empty()) {
            std::size_t comma = list.find(',');
            std::string_view item = list.substr(0, comma);
            while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) {
                item.remove_prefix(1);
            }
            while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) {
                item.remove_suffix(1);
            }
            if (boost::beast::iequals(item, token)) {
                return true;
            }
            list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
        }
        return false;
    }

    websocket_options options_;
};

} // namespace aio::http

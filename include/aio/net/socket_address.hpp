// aio/net/socket_address.hpp - socket_address: the address of one end of a stream (asyncio's
// peername / sockname tuples).
#pragma once

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace aio {

/// The address of one end of a connection or of a listening socket: an IP address and port
/// (TCP), or a path (a Unix socket). What asyncio gives as `get_extra_info('peername')`, a
/// `(host, port)` tuple or a path string.
class socket_address {
public:
    socket_address() = default;
    /// From the endpoint Asio's generic stream sockets report.
    explicit socket_address(const boost::asio::generic::stream_protocol::endpoint& ep)
        : endpoint_(ep) {}

    /// True for a Unix socket's address (path() applies), false for TCP (host() and port()).
    bool is_unix() const noexcept { return endpoint_.data()->sa_family == AF_UNIX; }

    /// The IP address as text ("127.0.0.1", "::1"); empty for a Unix socket.
    std::string host() const { return is_ip() ? tcp().address().to_string() : std::string(); }

    /// The TCP port; 0 for a Unix socket.
    std::uint16_t port() const noexcept { return is_ip() ? tcp().port() : 0; }

    /// The Unix socket's path; empty for TCP (and for an unnamed Unix socket).
    std::string path() const {
#if defined(BOOST_ASIO_HAS_LOCAL_SOCKETS)
        if (is_unix()) {
            boost::asio::local::stream_protocol::endpoint local;
            std::memcpy(local.data(), endpoint_.data(), endpoint_.size());
            local.resize(endpoint_.size());
            return local.path();
        }
#endif
        return {};
    }

    /// "127.0.0.1:8888", "[::1]:8888", or the path.
    std::string to_string() const {
        if (!is_ip()) {
            return path();
        }
        boost::asio::ip::tcp::endpoint ep = tcp();
        std::string host = ep.address().to_string();
        if (ep.address().is_v6()) {
            host = "[" + host + "]";
        }
        return host + ":" + std::to_string(ep.port());
    }

    /// The TCP endpoint (call when !is_unix()).
    boost::asio::ip::tcp::endpoint tcp() const noexcept {
        boost::asio::ip::tcp::endpoint ep;
        std::memcpy(ep.data(), endpoint_.data(), endpoint_.size());
        return ep;
    }

    /// The endpoint as Asio's generic stream protocol holds it.
    const boost::asio::generic::stream_protocol::endpoint& endpoint() const noexcept {
        return endpoint_;
    }

private:
    bool is_ip() const noexcept {
        int family = endpoint_.data()->sa_family;
        return family == AF_INET || family == AF_INET6;
    }

    boost::asio::generic::stream_protocol::endpoint endpoint_;
};

} // namespace aio

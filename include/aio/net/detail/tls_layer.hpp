// aio/net/detail/tls_layer.hpp - what a transport asks of TLS, without naming a TLS library: a
// session that turns received ciphertext into plaintext and written plaintext into ciphertext
// (asyncio's sslproto model, an SSL object over memory buffers). aio/net/tls.hpp implements it
// with OpenSSL; a program that never includes that header neither includes nor links OpenSSL.
#pragma once

#include <cstddef>
#include <exception>
#include <memory>
#include <string>
#include <string_view>

namespace aio::detail {

/// One connection's TLS state. Loop-affine, owned by its transport. Every call that can make
/// ciphertext to send (feed, encrypt, shutdown) leaves it for take_output().
class tls_session {
public:
    virtual ~tls_session() = default;

    /// What read() gives besides bytes.
    enum class status {
        more,   ///< nothing more until more ciphertext is fed
        closed, ///< the peer's close_notify: EOF
        failed, ///< the session failed: error() says why
    };

    /// Ciphertext received from the peer.
    virtual void feed(std::string_view ciphertext) = 0;
    /// Advances the handshake if it is not done, then decrypts into `out` (up to `size` bytes):
    /// the number of bytes, or 0 with `why` set.
    virtual std::size_t read(char* out, std::size_t size, status& why) = 0;
    /// True once the handshake has completed.
    virtual bool handshake_done() const noexcept = 0;
    /// Appends the ciphertext of `plaintext` to `out` (the handshake must be done). Throws the
    /// session's error if it failed.
    virtual void encrypt(std::string_view plaintext, std::string& out) = 0;
    /// Queues close_notify (once).
    virtual void shutdown() noexcept = 0;
    /// Moves the ciphertext waiting to be sent to the end of `out`.
    virtual void take_output(std::string& out) = 0;
    /// Why the session failed (an aio::ssl_error), or null.
    virtual std::exception_ptr error() const noexcept = 0;
};

/// Makes the TLS sessions of connections: what stream_options::ssl holds (aio::ssl_context).
class tls_context {
public:
    virtual ~tls_context() = default;
    /// A session for one connection: the client side (verifying `server_hostname` unless the
    /// context checks no host name) or the server side.
    virtual std::unique_ptr<tls_session> make_session(bool server_side,
                                                      const std::string& server_hostname) const = 0;
};

/// Makes the default client context (verifying the server's certificate against the system's
/// CA store, or not at all for verify = false). <aio/net/tls.hpp> sets it when included, so that
/// layers above the streams (aio::http's https URLs) can tell whether TLS is in the program and
/// use it without including OpenSSL themselves. Null in a program that never includes it.
using default_client_tls_maker = std::shared_ptr<const tls_context> (*)(bool verify);
inline default_client_tls_maker default_client_tls = nullptr;

} // namespace aio::detail

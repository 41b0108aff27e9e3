// aio/net/tls.hpp - ssl_context and create_default_context: TLS for open_connection and
// start_server (asyncio's ssl= argument and Python's ssl module), with OpenSSL. Including this
// header is what brings OpenSSL in: link OpenSSL::SSL (CMake: aio::tls).
#pragma once

#include <aio/net/detail/tls_layer.hpp>
#include <aio/net/ssl_error.hpp>
#include <aio/net/stream_writer.hpp>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstddef>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace aio {

/// What a context is for (Python's ssl.Purpose): server_auth makes a client's context (it
/// authenticates servers), client_auth a server's.
enum class ssl_purpose { server_auth, client_auth };

/// Whether and how the peer's certificate is checked (Python's ssl.CERT_NONE, CERT_OPTIONAL,
/// CERT_REQUIRED).
enum class ssl_verify { none, optional, required };

/// Python's ssl.SSLContext: the configuration TLS connections are made with, shared by all
/// connections given it (through stream_options::ssl, as a std::shared_ptr). Configure it
/// before the first connection uses it. Everything aio does not wrap is reachable through
/// context(), Boost.Asio's ssl::context (and its native_handle(), OpenSSL's SSL_CTX).
/// Why Asio's context rather than aio's own: its configuration calls (certificates, keys,
/// verification paths, options) are already the ones C++ users know; aio adds only what it needs
/// per connection (host name checking, the handshake over the loop's streams).
class ssl_context final : public detail::tls_context {
public:
    /// Wraps a context configured by the caller. Verification and check_hostname are as given:
    /// a context from create_default_context() sets them.
    explicit ssl_context(boost::asio::ssl::context context) : context_(std::move(context)) {}

    /// Asio's context, for configuration aio does not wrap.
    boost::asio::ssl::context& context() noexcept { return context_; }

    /// Trusts the CA certificates of the PEM file `cafile` (load_verify_locations). Throws
    /// ssl_error with OpenSSL's reason if it cannot be read.
    void load_verify_locations(const std::string& cafile) {
        boost::system::error_code ec;
        context_.load_verify_file(cafile, ec);
        fail_on(ec, "cannot load CA file " + cafile);
    }
    /// Trusts the system's CA store (set_default_verify_paths).
    void set_default_verify_paths() {
        boost::system::error_code ec;
        context_.set_default_verify_paths(ec);
        fail_on(ec, "cannot use the system's CA store");
    }
    /// Presents the certificate chain of the PEM file `certfile` (the certificate first) with
    /// the private key of `keyfile` (the same file if empty) (load_cert_chain). Throws
    /// ssl_error if a file cannot be read or the key does not match.
    void load_cert_chain(const std::string& certfile, const std::string& keyfile = "") {
        boost::system::error_code ec;
        context_.use_certificate_chain_file(certfile, ec);
        fail_on(ec, "cannot load certificate chain " + certfile);
        const std::string& key = keyfile.empty() ? certfile : keyfile;
        context_.use_private_key_file(key, boost::asio::ssl::context::pem, ec);
        fail_on(ec, "cannot load private key " + key);
    }
    /// Sets how the peer's certificate is checked (Python's verify_mode).
    void set_verify_mode(ssl_verify mode) {
        int flags = mode == ssl_verify::none ? SSL_VERIFY_NONE
                    : mode == ssl_verify::optional
                        ? SSL_VERIFY_PEER
                        : SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        SSL_CTX_set_verify(context_.native_handle(), flags, nullptr);
    }

    /// A client checks that the server's certificate names the host it connects to
    /// (server_hostname: a name, or an IP address) - Python's check_hostname. Turning it off
    /// while verification is on still checks the certificate's chain.
    bool check_hostname = false;

    std::unique_ptr<detail::tls_session>
    make_session(bool server_side, const std::string& server_hostname) const override;

private:
    static void fail_on(const boost::system::error_code& ec, const std::string& what) {
        if (ec) {
            throw ssl_error(what + ": " + ec.message());
        }
    }

    boost::asio::ssl::context context_;
};

/// Python's ssl.create_default_context. For server_auth (a client's context): TLS 1.2 or
/// later, the server's certificate verified against `cafile` (a PEM file of CA certificates)
/// or, if empty, the system's CA store, and its host name checked (SNI sent). For
/// client_auth (a server's context): TLS 1.2 or later, no client certificate asked for; add
/// the server's own with load_cert_chain. Throws ssl_error if `cafile` cannot be read.
inline std::shared_ptr<ssl_context>
create_default_context(ssl_purpose purpose = ssl_purpose::server_auth,
                       const std::string& cafile = "") {
    bool client = purpose == ssl_purpose::server_auth;
    auto ctx = std::make_shared<ssl_context>(boost::asio::ssl::context(
        client ? boost::asio::ssl::context::tls_client : boost::asio::ssl::context::tls_server));
    SSL_CTX* native = ctx->context().native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (client) {
        ctx->set_verify_mode(ssl_verify::required);
        ctx->check_hostname = true;
        if (cafile.empty()) {
            ctx->set_default_verify_paths();
        } else {
            ctx->load_verify_locations(cafile);
        }
    } else {
        ctx->set_verify_mode(ssl_verify::none);
        if (!cafile.empty()) {
            ctx->load_verify_locations(cafile);
        }
    }
    return ctx;
}

/// A server's context presenting `certfile` with `keyfile` (create_default_context for
/// client_auth, then load_cert_chain). Throws ssl_error if they cannot be loaded.
inline std::shared_ptr<ssl_context> create_server_context(const std::string& certfile,
                                                          const std::string& keyfile = "") {
    auto ctx = create_default_context(ssl_purpose::client_auth);
    ctx->load_cert_chain(certfile, keyfile);
    return ctx;
}

namespace detail {

/// One connection's OpenSSL session over two memory BIOs: what the socket brought is written
/// into one, what the session makes to send is read out of the other.
class openssl_session final : public tls_session {
public:
    openssl_session(SSL_CTX* ctx, bool server_side, const std::string& host, bool check_host)
        : ssl_(SSL_new(ctx)) {
        if (ssl_ == nullptr) {
            throw ssl_error(last_error("cannot create a session"));
        }
        in_ = BIO_new(BIO_s_mem());
        out_ = BIO_new(BIO_s_mem());
        if (in_ == nullptr || out_ == nullptr) {
            BIO_free(in_);
            BIO_free(out_);
            SSL_free(ssl_);
            throw ssl_error(last_error("cannot create a session"));
        }
        BIO_set_mem_eof_return(in_, -1); // empty means "more to come", not EOF
        BIO_set_mem_eof_return(out_, -1);
        SSL_set_bio(ssl_, in_, out_); // the session owns them now
        if (server_side) {
            SSL_set_accept_state(ssl_);
            return;
        }
        SSL_set_connect_state(ssl_);
        if (host.empty()) {
            return;
        }
        boost::system::error_code not_ip;
        boost::asio::ip::make_address(host, not_ip);
        if (not_ip) {
            SSL_set_tlsext_host_name(ssl_, host.c_str()); // SNI carries names only
        }
        if (check_host) {
            X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
            int ok = not_ip ? X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size())
                            : X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
            if (ok != 1) {
                SSL_free(ssl_);
                throw ssl_error("invalid server_hostname '" + host + "'");
            }
        }
    }
    ~openssl_session() override { SSL_free(ssl_); }
    openssl_session(const openssl_session&) = delete;
    openssl_session& operator=(const openssl_session&) = delete;

    SSL* native_handle() const noexcept { return ssl_; }

    void feed(std::string_view ciphertext) override {
        if (BIO_write(in_, ciphertext.data(), static_cast<int>(ciphertext.size())) !=
            static_cast<int>(ciphertext.size())) {
            throw std::bad_alloc();
        }
    }

    std::size_t read(char* out, std::size_t size, status& why) override {
        if (error_) {
            why = status::failed;
            return 0;
        }
        ERR_clear_error();
        if (!done_) {
            int r = SSL_do_handshake(ssl_);
            if (r != 1) {
                why = outcome(r);
                return 0;
            }
            done_ = true;
        }
        std::size_t got = 0;
        int r = SSL_read_ex(ssl_, out, size, &got);
        if (r == 1) {
            return got;
        }
        why = outcome(r);
        return 0;
    }

    bool handshake_done() const noexcept override { return done_; }

    void encrypt(std::string_view plaintext, std::string& out) override {
        if (error_) {
            std::rethrow_exception(error_);
        }
        constexpr std::size_t piece = 64 * 1024; // ciphertext is taken out as it is made
        while (!plaintext.empty()) {
            std::size_t n = std::min(plaintext.size(), piece);
            std::size_t written = 0;
            ERR_clear_error();
            int r = SSL_write_ex(ssl_, plaintext.data(), n, &written);
            if (r != 1) {
                outcome(r);
                if (!error_) {
                    fail(ssl_error(last_error("write failed")));
                }
                std::rethrow_exception(error_);
            }
            plaintext.remove_prefix(written);
            take_output(out);
        }
    }

    void shutdown() noexcept override {
        if (!shut_ && !error_ && done_) {
            shut_ = true;
            ERR_clear_error();
            SSL_shutdown(ssl_);
        }
    }

    void take_output(std::string& out) override {
        std::size_t pending = BIO_ctrl_pending(out_);
        if (pending == 0) {
            return;
        }
        std::size_t at = out.size();
        out.resize(at + pending);
        int n = BIO_read(out_, out.data() + at, static_cast<int>(pending));
        out.resize(at + static_cast<std::size_t>(std::max(n, 0)));
    }

    std::exception_ptr error() const noexcept override { return error_; }

private:
    /// What a call that did not succeed means: more input needed, the peer's close_notify, or a
    /// failure (recorded).
    status outcome(int r) {
        switch (SSL_get_error(ssl_, r)) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
            return status::more;
        case SSL_ERROR_ZERO_RETURN:
            return status::closed;
        default:
            break;
        }
        long verify = SSL_get_verify_result(ssl_);
        if (!done_ && verify != X509_V_OK) {
            fail(ssl_cert_verification_error(verify, X509_verify_cert_error_string(verify)));
        } else {
            fail(ssl_error(last_error("protocol error")));
        }
        return status::failed;
    }

    template <class Error>
    void fail(Error e) {
        if (!error_) {
            error_ = std::make_exception_ptr(std::move(e));
        }
    }

    /// OpenSSL's reason for the last failure (e.g. "wrong version number"), or `otherwise`.
    static std::string last_error(const char* otherwise) {
        unsigned long code = ERR_peek_last_error();
        ERR_clear_error();
        if (code == 0) {
            return otherwise;
        }
        const char* reason = ERR_reason_error_string(code);
        return reason != nullptr ? reason : otherwise;
    }

    SSL* ssl_;
    BIO* in_ = nullptr;
    BIO* out_ = nullptr;
    std::exception_ptr error_;
    bool done_ = false;
    bool shut_ = false;
};

/// create_default_context(), with verification off for verify = false: what aio::http uses for
/// https URLs when no context was given.
inline std::shared_ptr<const tls_context> make_default_client_tls(bool verify) {
    std::shared_ptr<ssl_context> ctx = create_default_context();
    if (!verify) {
        ctx->check_hostname = false;
        ctx->set_verify_mode(ssl_verify::none);
    }
    return ctx;
}
/// Registers make_default_client_tls as the program starts (see default_client_tls).
inline const bool default_client_tls_registered =
    (default_client_tls = &make_default_client_tls, true);

/// The OpenSSL session of a writer's connection, or null on a plain connection.
inline SSL* ssl_of(const stream_writer& w) {
    transport* t = stream_access::of(w);
    auto* s = t != nullptr ? dynamic_cast<openssl_session*>(t->tls()) : nullptr;
    return s != nullptr ? s->native_handle() : nullptr;
}

} // namespace detail

inline std::unique_ptr<detail::tls_session>
ssl_context::make_session(bool server_side, const std::string& server_hostname) const {
    return std::make_unique<detail::openssl_session>(
        const_cast<boost::asio::ssl::context&>(context_).native_handle(), server_side,
        server_hostname, check_hostname && !server_side);
}

/// The OpenSSL session of a TLS connection (get_extra_info("ssl_object")), null on a plain
/// one: for what aio does not wrap (SSL_get_peer_certificate, ALPN, session reuse).
inline SSL* ssl_object(const stream_writer& w) {
    return detail::ssl_of(w);
}

/// The protocol version in use, e.g. "TLSv1.3" (SSLObject.version()); empty on a plain
/// connection.
inline std::string ssl_version(const stream_writer& w) {
    SSL* s = detail::ssl_of(w);
    return s != nullptr ? SSL_get_version(s) : "";
}

/// The cipher suite in use, e.g. "TLS_AES_256_GCM_SHA384" (the name of SSLObject.cipher());
/// empty on a plain connection.
inline std::string ssl_cipher(const stream_writer& w) {
    SSL* s = detail::ssl_of(w);
    const char* name = s != nullptr ? SSL_get_cipher_name(s) : nullptr;
    return name != nullptr ? name : "";
}

/// The peer certificate's subject, one line (e.g. "CN = localhost"); empty if the peer sent
/// none or the connection is plain. The whole certificate: SSL_get1_peer_certificate on
/// ssl_object().
inline std::string peer_certificate_subject(const stream_writer& w) {
    SSL* s = detail::ssl_of(w);
    X509* cert = s != nullptr ? SSL_get1_peer_certificate(s) : nullptr;
    if (cert == nullptr) {
        return "";
    }
    std::string out;
    if (BIO* b = BIO_new(BIO_s_mem())) {
        X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, XN_FLAG_ONELINE);
        char* data = nullptr;
        long n = BIO_get_mem_data(b, &data);
        out.assign(data, static_cast<std::size_t>(std::max(n, 0L)));
        BIO_free(b);
    }
    X509_free(cert);
    return out;
}

} // namespace aio

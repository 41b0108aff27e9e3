// aio/net/ssl_error.hpp - ssl_error and ssl_cert_verification_error: what a failed TLS
// connection throws (Python's ssl.SSLError and ssl.SSLCertVerificationError). No TLS library
// needed: the streams throw them too (a peer that hangs up during the handshake).
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace aio {

/// ssl.SSLError: a TLS handshake or record failed. what() is "aio: SSL: " followed by the TLS
/// library's reason (e.g. "wrong version number" for a peer that does not speak TLS);
/// reason() is that reason alone.
class ssl_error : public std::runtime_error {
public:
    explicit ssl_error(std::string reason)
        : std::runtime_error("aio: SSL: " + reason), reason_(std::move(reason)) {}
    const std::string& reason() const noexcept { return reason_; }

private:
    std::string reason_;
};

/// ssl.SSLCertVerificationError: the peer's certificate did not verify. reason() is
/// "certificate verify failed: " and the verification's message (e.g. "unable to get local
/// issuer certificate", "hostname mismatch"); verify_code() is OpenSSL's X509_V_ERR_* code
/// (Python's verify_code), verify_message() the message alone.
class ssl_cert_verification_error : public ssl_error {
public:
    ssl_cert_verification_error(long code, std::string message)
        : ssl_error("certificate verify failed: " + message), code_(code),
          message_(std::move(message)) {}
    long verify_code() const noexcept { return code_; }
    const std::string& verify_message() const noexcept { return message_; }

private:
    long code_;
    std::string message_;
};

} // namespace aio

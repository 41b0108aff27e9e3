// Tests of aio/net/tls.hpp: open_connection and start_server over TLS on the loopback interface,
// with the certificates tests/make_test_certs.sh made (the folder AIO_TEST_CERTS names).
#include "support.hpp"

#include <aio/net/tls.hpp>
#include <aio/streams.hpp>

#include <doctest/doctest.h>

#include <boost/asio/error.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

using namespace std::chrono_literals;
using aio_test::co_throws_as;

namespace {

std::string cert(const std::string& name) {
    return std::string(AIO_TEST_CERTS) + "/" + name;
}

/// A client context trusting the test CA only.
std::shared_ptr<aio::ssl_context> client_context() {
    return aio::create_default_context(aio::ssl_purpose::server_auth, cert("ca.pem"));
}

/// Server options presenting the certificate `name` (.pem and .key).
aio::server_options tls_server(const std::string& name = "server") {
    aio::server_options opt;
    opt.ssl = aio::create_server_context(cert(name + ".pem"), cert(name + ".key"));
    return opt;
}

aio::stream_options tls_client(std::string server_hostname = "") {
    aio::stream_options opt;
    opt.ssl = client_context();
    opt.server_hostname = std::move(server_hostname);
    return opt;
}

/// Echoes what it reads until EOF, then closes.
aio::awaitable<void> echo(aio::stream_reader r, aio::stream_writer w) {
    for (;;) {
        std::string data = co_await r.read(64 * 1024);
        if (data.empty()) {
            break;
        }
        w.write(std::move(data));
        co_await w.drain();
    }
    w.close();
}

/// Counts what the loop reports about failed handshakes instead of failing the test.
struct handshake_reports {
    std::shared_ptr<std::size_t> count = std::make_shared<std::size_t>(0);
    aio::awaitable<void> install() {
        auto n = count;
        // The lambda is not a temporary of the co_await's full expression: GCC 12 destroys such
        // a temporary twice (its captured shared_ptr was released once too often).
        aio::loop lp = co_await aio::this_loop();
        lp.set_exception_handler([n](const aio::exception_context& c) {
            CHECK(c.message.find("TLS handshake failed") != std::string::npos);
            ++*n;
        });
    }
};

} // namespace

TEST_SUITE("tls") {

    AIO_TEST_CASE("a line goes back and forth over TLS, the server's certificate verified") {
        aio::server srv = co_await aio::start_server(echo, "127.0.0.1", 0, tls_server());
        for (std::string host : {"127.0.0.1", "localhost"}) {
            auto [r, w] = co_await aio::open_connection(host, srv.port(), tls_client());
            w.write(std::string("hello\n"));
            std::string line = co_await r.readline();
            CHECK(line == "hello\n");
            CHECK(aio::ssl_version(w).starts_with("TLSv1."));
            CHECK(!aio::ssl_cipher(w).empty());
            CHECK(aio::peer_certificate_subject(w).find("localhost") != std::string::npos);
            CHECK(aio::ssl_object(w) != nullptr);
            CHECK(!w.can_write_eof());
            aio::stream_writer half = w; // a lambda cannot capture a structured binding (Clang 14)
            CHECK(aio_test::throws_as<std::logic_error>([&half] { half.write_eof(); }));
            w.close();
            co_await w.wait_closed();
        }
        srv.close();
        co_await srv.wait_closed();
    }

    AIO_TEST_CASE(
        "readexactly, readuntil and readline over TLS split records as plain streams do") {
        aio::server srv = co_await aio::start_server(echo, "127.0.0.1", 0, tls_server());
        auto [r, w] = co_await aio::open_connection("127.0.0.1", srv.port(), tls_client());
        w.write(std::string("abc"));
        w.write(std::string("defgh\nsecond;third\n"));
        std::string four = co_await r.readexactly(4);
        CHECK(four == "abcd");
        std::string line = co_await r.readline();
        CHECK(line == "efgh\n");
        std::string part = co_await r.readuntil(";");
        CHECK(part == "second;");
        std::string rest = co_await r.readline();
        CHECK(rest == "third\n");
        w.close();
        std::string eof = co_await r.read();
        CHECK(eof.empty()); // the server's close_notify after the echo: EOF
        CHECK(r.at_eof());
        srv.close();
        co_await srv.wait_closed();
    }

    AIO_TEST_CASE("megabytes go both ways over TLS with the write buffer bounded by drain") {
        aio::server srv = co_await aio::start_server(echo, "127.0.0.1", 0, tls_server());
        auto [r, w] = co_await aio::open_connection("127.0.0.1", srv.port(), tls_client());
        constexpr std::size_t total = 6 * 1024 * 1024;
        constexpr std::size_t chunk = 32 * 1024;
        std::size_t largest_buffer = 0;
        auto send = [&, w = w]() mutable -> aio::awaitable<void> {
            std::string piece(chunk, '\0');
            for (std::size_t sent = 0; sent < total; sent += chunk) {
                for (std::size_t i = 0; i < chunk; ++i) {
                    piece[i] = static_cast<char>((sent + i) * 7 % 251);
                }
                w.write(piece);
                largest_buffer = std::max(largest_buffer, w.write_buffer_size());
                co_await w.drain();
            }
        };
        aio::task<void> sender = aio::create_task(send());
        std::size_t got = 0;
        bool intact = true;
        while (got < total) {
            std::string data = co_await r.read(256 * 1024);
            REQUIRE(!data.empty());
            for (std::size_t i = 0; i < data.size(); ++i) {
                intact = intact && data[i] == static_cast<char>((got + i) * 7 % 251);
            }
            got += data.size();
        }
        co_await sender();
        CHECK(intact);
        CHECK(got == total);
        // A chunk's ciphertext over the high-water mark at most: drain held the writer back.
        CHECK(largest_buffer <= w.write_buffer_limits().second + chunk + 1024);
        w.close();
        co_await w.wait_closed();
        srv.close();
        co_await srv.wait_closed();
    }

    AIO_TEST_CASE(
        "a certificate from an unknown CA fails the client's handshake with a clear text") {
        handshake_reports reports;
        co_await reports.install();
        aio::server srv =
            co_await aio::start_server(echo, "127.0.0.1", 0, tls_server("self_signed"));
        std::string what;
        long code = 0;
        try {
            co_await aio::open_connection("127.0.0.1", srv.port(), tls_client());
        } catch (const aio::ssl_cert_verification_error& e) {
            what = e.what();
            code = e.verify_code();
        }
        CHECK(what.find("certificate verify failed") != std::string::npos);
        CHECK(code != 0);
        MESSAGE(what);
        srv.close();
        co_await srv.wait_closed();
    }

    AIO_TEST_CASE("a certificate for another host fails, and server_hostname names the right one") {
        handshake_reports reports;
        co_await reports.install();
        aio::server srv =
            co_await aio::start_server(echo, "127.0.0.1", 0, tls_server("wrong_host"));
        std::string what;
        try {
            co_await aio::open_connection("localhost", srv.port(), tls_client());
        } catch (const aio::ssl_cert_verification_error& e) {
            what = e.what();
        }
        CHECK(what.find("certificate verify failed: hostname mismatch") != std::string::npos);
        auto [r, w] =
            co_await aio::open_connection("127.0.0.1", srv.port(), tls_client("wrong.example"));
        w.write(std::string("ok\n"));
        std::string line = co_await r.readline();
        CHECK(line == "ok\n");
        w.close();
        co_await w.wait_closed();
        srv.close();
        co_await srv.wait_closed();
    }

    AIO_TEST_CASE("a client speaking plain text to a TLS server is closed and the server goes on") {
        handshake_reports reports;
        co_await reports.install();
        aio::server srv = co_await aio::start_server(echo, "127.0.0.1", 0, tls_server());
        {
            auto [r, w] = co_await aio::open_connection("127.0.0.1", srv.port());
            w.write(std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
            bool ended = false;
            try {
                std::string rest = co_await r.read(); // an alert, then EOF
                ended = true;
            } catch (const boost::system::system_error&) {
                ended = true; // or a reset
            }
            CHECK(ended);
        }
        auto [r, w] = co_await aio::open_connection("127.0.0.1", srv.port(), tls_client());
        w.write(std::string("still\n"));
        std::string line = co_await r.readline();
        CHECK(line == "still\n");
        CHECK(*reports.count == 1);
        w.close();
        co_await w.wait_closed();
        srv.close();
        co_await srv.wait_closed();
    }

    AIO_TEST_CASE("a handshake nobody answers is cancelled or times out, its socket closed") {
        auto hello_seen = std::make_shared<aio::event>();
        auto silent = std::make_shared<aio::event>();
        auto mute = [hello_seen, silent](aio::stream_reader r,
                                         aio::stream_writer) -> aio::awaitable<void> {
            std::string hello = co_await r.read(1); // the client's first handshake message
            hello_seen->set();
            co_await silent->wait();
        };
        aio::server srv = co_await aio::start_server(mute, "127.0.0.1", 0);
        aio::task<aio::stream_pair> attempt =
            aio::create_task(aio::open_connection("127.0.0.1", srv.port(), tls_client()));
        co_await hello_seen->wait(); // the client is in its handshake, waiting for an answer
        attempt.cancel();
        bool cancelled = co_await co_throws_as<aio::cancelled_error>(attempt());
        CHECK(cancelled);

        aio::stream_options quick = tls_client();
        quick.ssl_handshake_timeout = 20ms;
        std::string what;
        try {
            co_await aio::open_connection("127.0.0.1", srv.port(), quick);
        } catch (const boost::system::system_error& e) {
            what = e.what();
            CHECK(e.code() == boost::asio::error::connection_aborted);
        }
        CHECK(what.find("SSL handshake is taking longer than 20 ms") != std::string::npos);
        silent->set();
        srv.close();
        co_await srv.wait_closed();
    }

    AIO_TEST_CASE("a peer's close_notify and a peer's bare EOF both read as EOF") {
        auto abort_after_hello = [](aio::stream_reader r,
                                    aio::stream_writer w) -> aio::awaitable<void> {
            std::string how = co_await r.readline();
            w.write(std::string("bye\n"));
            co_await w.drain();
            if (how == "abort\n") {
                w.abort(); // no close_notify
            } else {
                w.close();
            }
        };
        aio::server srv =
            co_await aio::start_server(abort_after_hello, "127.0.0.1", 0, tls_server());
        for (std::string how : {"close\n", "abort\n"}) {
            CAPTURE(how);
            auto [r, w] = co_await aio::open_connection("127.0.0.1", srv.port(), tls_client());
            w.write(how);
            std::string all = co_await r.read();
            CHECK(all == "bye\n");
            CHECK(r.at_eof());
            w.close();
            co_await w.wait_closed();
        }
        srv.close();
        co_await srv.wait_closed();
    }

} // TEST_SUITE

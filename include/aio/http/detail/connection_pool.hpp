// aio/http/detail/connection_pool.hpp - the client's keep-alive connections (aiohttp's
// TCPConnector): idle connections per host:port, the limits, and the requests waiting for one.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/error.hpp>
#include <aio/event.hpp>
#include <aio/http/client_errors.hpp>
#include <aio/net/detail/tls_layer.hpp>
#include <aio/net/open_connection.hpp>
#include <aio/net/ssl_error.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace aio::http::detail {

/// Where a connection goes: host, port, and whether over TLS (the pool's key is
/// "http://host:port" or "https://host:port").
struct endpoint {
    std::string host;
    std::uint16_t port = 80;
    bool tls = false;
    std::string key() const {
        return (tls ? "https://" : "http://") + host + ":" + std::to_string(port);
    }
};

/// An open connection and when it became idle.
struct pooled_connection {
    stream_reader reader;
    stream_writer writer;
    std::string key;
    std::chrono::steady_clock::time_point idle_since{};
    bool reused = false;
};

/// The pool. Every connection counts against the limits from the moment a request reserves a
/// slot for it until it is closed: in use, idle, or being connected. Shared (shared_ptr) by the
/// session and by the leases of the responses still holding a connection, so that a response
/// outliving its session still closes its connection. Loop-affine.
class connection_pool {
public:
    connection_pool(std::size_t limit, std::size_t limit_per_host,
                    std::chrono::steady_clock::duration keepalive)
        : limit_(limit), limit_per_host_(limit_per_host), keepalive_(keepalive) {}

    /// An idle connection to `key` still open, without waiting (the most recently used
    /// first); nullopt if none. Throws client_connection_error if the pool is closed.
    std::optional<pooled_connection> take_idle(const std::string& key) {
        check_open();
        auto it = idle_.find(key);
        if (it == idle_.end()) {
            return std::nullopt;
        }
        auto now = std::chrono::steady_clock::now();
        std::deque<pooled_connection>& list = it->second;
        while (!list.empty()) {
            pooled_connection c = std::move(list.back()); // the most recently used first
            list.pop_back();
            --idle_count_;
            // Closed by the server while idle, data it should not have sent, or idle too long.
            if (now - c.idle_since > keepalive_ || !c.reader.buffered().empty() ||
                c.reader.at_eof()) {
                close_connection(c);
                continue;
            }
            c.reused = true;
            return c;
        }
        return std::nullopt;
    }

    /// A new connection to `to` once the limits allow (waiting in line, first come first
    /// served, while they do not) - or a connection handed over by a release while it waited.
    /// Throws client_connector_error if connecting fails, client_connection_error if the pool
    /// is closed. Cancellation: stops waiting or connecting (the half-made connection is
    /// closed, its slot given to the next in line) and throws cancelled_error.
    awaitable<pooled_connection> acquire_slow(endpoint to, std::string key) {
        check_open();
        close_expired();
        waiter w(*this, key);
        if (!can_open(key)) {
            free_idle_slot_for(key);
        }
        if (can_open(key)) {
            reserve(key);
        } else {
            w.pos = waiters_.insert(waiters_.end(), &w);
            w.linked = true;
            co_await w.ready.wait(); // cancelled: ~waiter unlinks it or passes on its grant
            check_open();
            if (w.connection) {
                pooled_connection c = std::move(*w.connection);
                w.connection.reset();
                co_return c;
            }
        }
        w.slot = false; // the slot is the slot_guard's now
        slot_guard slot(*this, key);
        stream_pair streams;
        stream_options options;
        if (to.tls) {
            if (!tls_) {
                tls_ = aio::detail::default_client_tls(verify_tls_);
            }
            options.ssl = tls_;
        }
        try {
            streams = co_await open_connection(to.host, to.port, options);
        } catch (const ssl_cert_verification_error& e) {
            throw client_connector_certificate_error(to.host, to.port, e.what());
        } catch (const ssl_error& e) {
            throw client_ssl_error(to.host, to.port, e.what());
        } catch (const boost::system::system_error& e) {
            throw client_connector_error(to.host, to.port, e.code(), e.what());
        }
        slot.keep();
        co_return pooled_connection{
            std::move(streams.reader), std::move(streams.writer), std::move(key), {}, false};
    }

    /// The TLS context of https connections: `context`, or if null the default one (verifying
    /// the server unless `verify` is false), made at the first https connection.
    void set_tls(std::shared_ptr<const aio::detail::tls_context> context, bool verify) {
        tls_ = std::move(context);
        verify_tls_ = verify;
    }

    /// Takes back a connection whose response was read to its end, for reuse; a waiting
    /// request for its host gets it at once.
    void give_back(pooled_connection c) {
        if (closed_) {
            close_connection(c);
            dispatch();
            return;
        }
        c.idle_since = std::chrono::steady_clock::now();
        for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
            if ((*it)->key == c.key) {
                waiter& w = **it;
                waiters_.erase(it);
                w.linked = false;
                w.connection.emplace(std::move(c));
                w.ready.set();
                return;
            }
        }
        idle_[c.key].push_back(std::move(c));
        ++idle_count_;
        dispatch();
    }

    /// Closes a connection at once (abort: unsent data dropped) and frees its slot.
    void discard(pooled_connection& c) {
        close_connection(c);
        dispatch();
    }

    /// Closes the idle connections; the ones in use close when their responses let them go.
    /// Waiting requests throw client_connection_error. Later acquires throw it too.
    void close() {
        closed_ = true;
        for (auto& [key, list] : idle_) {
            for (pooled_connection& c : list) {
                close_connection(c);
            }
        }
        idle_.clear();
        idle_count_ = 0;
        for (waiter* w : waiters_) {
            w->linked = false;
            w->ready.set();
        }
        waiters_.clear();
    }

    bool closed() const noexcept { return closed_; }
    /// Connections counted against the limit (in use, idle, connecting).
    std::size_t size() const noexcept { return total_; }
    std::size_t idle() const noexcept { return idle_count_; }
    /// Requests waiting in line for a connection.
    std::size_t waiting() const noexcept { return waiters_.size(); }

private:
    /// A request waiting for the limits: woken with a connection handed over, or with a slot
    /// reserved for it to connect, or by close(). Destroyed without using what it was given
    /// (its request was cancelled in between), it passes that on to the next in line.
    struct waiter {
        waiter(connection_pool& p, std::string k) : pool(p), key(std::move(k)) {}
        waiter(const waiter&) = delete;
        waiter& operator=(const waiter&) = delete;
        ~waiter() {
            if (linked) {
                pool.waiters_.erase(pos);
            } else if (connection) {
                pooled_connection c = std::move(*connection);
                connection.reset();
                c.reused = false;
                pool.give_back(std::move(c));
            } else if (slot) {
                pool.unreserve(key);
                pool.dispatch();
            }
        }
        connection_pool& pool;
        std::string key;
        aio::event ready;
        bool linked = false;
        std::list<waiter*>::iterator pos;
        bool slot = false;
        std::optional<pooled_connection> connection;
    };

    /// Frees a reserved slot unless keep() was called (the connection was made).
    class slot_guard {
    public:
        slot_guard(connection_pool& pool, const std::string& key) : pool_(pool), key_(key) {}
        ~slot_guard() {
            if (!kept_) {
                pool_.unreserve(key_);
                pool_.dispatch();
            }
        }
        slot_guard(const slot_guard&) = delete;
        slot_guard& operator=(const slot_guard&) = delete;
        void keep() noexcept { kept_ = true; }

    private:
        connection_pool& pool_;
        const std::string& key_;
        bool kept_ = false;
    };

    void check_open() const {
        if (closed_) {
            throw client_connection_error("aio::http: the session is closed");
        }
    }

    bool can_open(const std::string& key) const {
        if (limit_ != 0 && total_ >= limit_) {
            return false;
        }
        if (limit_per_host_ != 0) {
            auto it = per_host_.find(key);
            if (it != per_host_.end() && it->second >= limit_per_host_) {
                return false;
            }
        }
        return true;
    }

    void reserve(const std::string& key) {
        ++total_;
        ++per_host_[key];
    }
    void unreserve(const std::string& key) {
        --total_;
        auto it = per_host_.find(key);
        if (--it->second == 0) {
            per_host_.erase(it);
        }
    }

    void close_connection(pooled_connection& c) {
        if (c.writer) {
            c.writer.abort();
            c.writer = {};
            c.reader = {};
            unreserve(c.key);
        }
    }

    /// When only the total limit stands in the way of a connection to `key`, closes the
    /// longest idle connection to another host to make room (as aiohttp does).
    void free_idle_slot_for(const std::string& key) {
        if (limit_ == 0 || total_ < limit_ || idle_count_ == 0) {
            return;
        }
        if (limit_per_host_ != 0) {
            auto it = per_host_.find(key);
            if (it != per_host_.end() && it->second >= limit_per_host_) {
                return;
            }
        }
        std::deque<pooled_connection>* oldest = nullptr;
        for (auto& [k, list] : idle_) {
            if (!list.empty() &&
                (!oldest || list.front().idle_since < oldest->front().idle_since)) {
                oldest = &list;
            }
        }
        if (oldest) {
            close_connection(oldest->front());
            oldest->pop_front();
            --idle_count_;
        }
    }

    void close_expired() {
        auto now = std::chrono::steady_clock::now();
        for (auto it = idle_.begin(); it != idle_.end();) {
            std::deque<pooled_connection>& list = it->second;
            while (!list.empty() && now - list.front().idle_since > keepalive_) {
                close_connection(list.front());
                list.pop_front();
                --idle_count_;
            }
            it = list.empty() ? idle_.erase(it) : std::next(it);
        }
    }

    /// Gives the waiting requests, in order, what the limits now allow: an idle connection to
    /// their host, or a slot to connect.
    void dispatch() {
        for (auto it = waiters_.begin(); it != waiters_.end();) {
            waiter& w = **it;
            if (std::optional<pooled_connection> c = take_idle(w.key)) {
                w.connection.emplace(std::move(*c));
            } else {
                if (!can_open(w.key)) {
                    free_idle_slot_for(w.key);
                }
                if (!can_open(w.key)) {
                    ++it;
                    continue;
                }
                reserve(w.key);
                w.slot = true;
            }
            it = waiters_.erase(it);
            w.linked = false;
            w.ready.set();
        }
    }

    std::shared_ptr<const aio::detail::tls_context> tls_;
    bool verify_tls_ = true;
    std::size_t limit_;
    std::size_t limit_per_host_;
    std::chrono::steady_clock::duration keepalive_;
    std::unordered_map<std::string, std::deque<pooled_connection>> idle_;
    std::unordered_map<std::string, std::size_t> per_host_;
    std::list<waiter*> waiters_;
    std::size_t total_ = 0;
    std::size_t idle_count_ = 0;
    bool closed_ = false;
};

/// A connection held by one request or response: back to the pool with give_back() once the
/// response is read to its end, closed (discarded) otherwise - when the lease is dropped, on
/// an error, on cancellation.
class connection_lease {
public:
    connection_lease() = default;
    connection_lease(std::shared_ptr<connection_pool> pool, pooled_connection c)
        : pool_(std::move(pool)), c_(std::move(c)) {}
    connection_lease(connection_lease&& o) noexcept
        : pool_(std::move(o.pool_)), c_(std::exchange(o.c_, std::nullopt)) {}
    connection_lease& operator=(connection_lease&& o) noexcept {
        if (this != &o) {
            discard();
            pool_ = std::move(o.pool_);
            c_ = std::exchange(o.c_, std::nullopt);
        }
        return *this;
    }
    ~connection_lease() { discard(); }

    explicit operator bool() const noexcept { return c_.has_value(); }
    pooled_connection& operator*() noexcept { return *c_; }
    pooled_connection* operator->() noexcept { return &*c_; }

    /// Back to the pool for reuse.
    void give_back() {
        if (c_) {
            pooled_connection c = std::move(*c_);
            c_.reset();
            pool_->give_back(std::move(c));
        }
    }
    /// Closed now.
    void discard() noexcept {
        if (c_) {
            pool_->discard(*c_);
            c_.reset();
        }
    }

private:
    std::shared_ptr<connection_pool> pool_;
    std::optional<pooled_connection> c_;
};

} // namespace aio::http::detail

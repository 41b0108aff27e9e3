// aio/net/detail/transport.hpp - the connection a stream_reader and a stream_writer share: the
// socket, what was read and not yet consumed, what was written and not yet sent, and the waits
// on the socket.
#pragma once

#include <aio/detail/intrusive_list.hpp>
#include <aio/detail/loop_core.hpp>
#include <aio/detail/range.hpp>
#include <aio/detail/ref.hpp>
#include <aio/detail/suspend.hpp>
#include <aio/error.hpp>
#include <aio/net/detail/tls_layer.hpp>

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace aio::detail {

using stream_socket = boost::asio::generic::stream_protocol::socket;

/// An await parked on a transport or a listener, woken by a socket's completion handler. The
/// slot that names it (the transport's read waiter) forgets it when the frame holding it goes.
class io_waiter final : public waiter, public list_hook {
public:
    io_waiter() = default;
    /// A waiter for an await called at `where` (shown in the task's call stack).
    explicit io_waiter(aio::source_location where) noexcept { set_site(where); }
    ~io_waiter() {
        if (slot_ != nullptr && *slot_ == this) {
            *slot_ = nullptr;
        }
    }
    /// Makes `slot` name this waiter until it is cleared or this waiter is destroyed.
    void watch(io_waiter*& slot) noexcept {
        slot = this;
        slot_ = &slot;
    }
    const char* what() const noexcept override { return "aio: stream or server I/O"; }

private:
    io_waiter** slot_ = nullptr;
};

/// Wakes every waiter of `list`, in order, taking them out of it.
inline void wake_all(intrusive_list<io_waiter>& list) noexcept {
    while (io_waiter* w = list.pop_front()) {
        w->wake();
    }
}

/// Memory for a connection's read of the socket in flight (there is one at most). Asio allocates
/// each operation through its handler's allocator, by default from a small per-thread cache of
/// freed blocks; with a read pending on each of many connections that cache misses, and every
/// read costs an aligned malloc and a free. Here each connection keeps one block from its first
/// read on (a pending read holds that much anyway); a second request while it is in use, or a
/// larger one, goes to the heap.
class op_memory {
public:
    void* allocate(std::size_t n) {
        if (!in_use_ && n <= size_) {
            in_use_ = true;
            return block_.get();
        }
        if (!in_use_ && block_ == nullptr) {
            block_.reset(new std::max_align_t[(n + sizeof(std::max_align_t) - 1) /
                                              sizeof(std::max_align_t)]);
            size_ = n;
            in_use_ = true;
            return block_.get();
        }
        return ::operator new(n);
    }
    void deallocate(void* p) noexcept {
        if (p == block_.get()) {
            in_use_ = false;
        } else {
            ::operator delete(p);
        }
    }

private:
    std::unique_ptr<std::max_align_t[]> block_;
    std::size_t size_ = 0;
    bool in_use_ = false;
};

/// The allocator that a handler bound to an op_memory carries (boost::asio::bind_allocator).
template <class T>
class op_allocator {
public:
    using value_type = T;
    explicit op_allocator(op_memory& m) noexcept : memory_(&m) {}
    template <class U>
    op_allocator(const op_allocator<U>& other) noexcept : memory_(other.memory()) {}

    T* allocate(std::size_t n) { return static_cast<T*>(memory_->allocate(sizeof(T) * n)); }
    void deallocate(T* p, std::size_t) noexcept { memory_->deallocate(p); }
    op_memory* memory() const noexcept { return memory_; }
    friend bool operator==(const op_allocator& a, const op_allocator& b) noexcept {
        return a.memory_ == b.memory_;
    }

private:
    op_memory* memory_;
};

/// Bytes received and not yet consumed: a block with a consumed prefix and a free tail that
/// reads land in directly (no zero-filling, no copy). While a read is in flight into the tail the
/// block is pinned: consuming only advances the prefix, nothing moves or is freed.
class byte_buffer {
public:
    std::size_t size() const noexcept { return end_ - begin_; }
    bool empty() const noexcept { return begin_ == end_; }
    std::string_view view() const noexcept { return {data_.get() + begin_, end_ - begin_}; }

    /// The free tail, grown first to at least `min` bytes (call when not pinned). The first
    /// block is small (an idle connection holds little); it doubles as reads fill it.
    boost::asio::mutable_buffer prepare(std::size_t min) {
        if (capacity_ - end_ < min) {
            make_room(min);
        }
        return {data_.get() + end_, capacity_ - end_};
    }
    /// n bytes were written at the start of the free tail.
    void commit(std::size_t n) noexcept { end_ += n; }

    /// Drops the first n bytes (n <= size()).
    void consume(std::size_t n) noexcept {
        begin_ += n;
        if (begin_ == end_ && !pinned_) {
            reset();
        }
    }
    void clear() noexcept { consume(size()); }

    /// While pinned (a read in flight into the tail), nothing moves.
    void pin(bool on) noexcept {
        pinned_ = on;
        if (!on && begin_ == end_) {
            reset();
        }
    }

    /// A block larger than this is freed once emptied (a large readexactly grew it).
    static constexpr std::size_t keep_max = 256 * 1024;

private:
    void reset() noexcept {
        begin_ = end_ = 0;
        if (capacity_ > keep_max) {
            data_.reset();
            capacity_ = 0;
        }
    }

    void make_room(std::size_t n) {
        std::size_t live = size();
        if (live + n <= capacity_ && begin_ >= capacity_ / 2) {
            std::memmove(data_.get(), data_.get() + begin_, live);
        } else {
            std::size_t cap = std::max({live + n, capacity_ * 2, std::size_t(2048)});
            std::unique_ptr<char[]> bigger(new char[cap]);
            if (live > 0) {
                std::memcpy(bigger.get(), data_.get() + begin_, live);
            }
            data_ = std::move(bigger);
            capacity_ = cap;
        }
        begin_ = 0;
        end_ = live;
    }

    std::unique_ptr<char[]> data_;
    std::size_t capacity_ = 0;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
    bool pinned_ = false;
};

/// One connection, shared by its reader and writer handles (and by the completion handlers of
/// the operations in flight, each holding a reference). Loop-affine. A read of the socket is in
/// flight only while a read call needs bytes (or after one was cancelled); what it brings lands
/// in the buffer, so a cancelled read loses nothing. Writes are tried at once on the
/// non-blocking socket, as asyncio's transports do: what the kernel takes goes, the rest waits
/// in the write buffer for the socket to become writable.
class transport {
public:
    transport(stream_socket socket, std::size_t limit)
        : socket_(std::move(socket)), limit_(limit) {}
    transport(const transport&) = delete;
    transport& operator=(const transport&) = delete;

    // --- lifetime -------------------------------------------------------------------------

    void add_ref() noexcept { ++refs_; }
    void release() noexcept {
        if (--refs_ == 0) {
            delete this;
        }
    }
    /// A reader or writer handle. When the last one goes the connection is closed (what was
    /// written is still sent first), as asyncio closes a transport nobody holds.
    void add_handle() noexcept {
        ++handles_;
        add_ref();
    }
    void release_handle() noexcept {
        if (--handles_ == 0) {
            close();
        }
        release();
    }

    stream_socket& socket() noexcept { return socket_; }

    using endpoint = boost::asio::generic::stream_protocol::endpoint;
    /// Records the connection's two addresses while it is up (once connected or accepted), so
    /// that they can still be told after it is lost, as asyncio's get_extra_info does. An
    /// address the socket cannot tell stays empty (family AF_UNSPEC).
    void record_addresses() {
        boost::system::error_code ec;
        peer_ = socket_.remote_endpoint(ec);
        if (ec) {
            peer_ = endpoint();
        }
        local_ = socket_.local_endpoint(ec);
        if (ec) {
            local_ = endpoint();
        }
    }
    const endpoint& peer_address() const noexcept { return peer_; }
    const endpoint& local_address() const noexcept { return local_; }
    std::size_t limit() const noexcept { return limit_; }

    // --- reading --------------------------------------------------------------------------

    byte_buffer& buffer() noexcept { return rbuf_; }
    bool eof() const noexcept { return eof_; }
    /// The error that ended the connection (reset by the peer, a failed send), or null.
    const std::exception_ptr& error() const noexcept { return error_; }

    /// Claims the reading side for one read call; a second concurrent call is misuse.
    void begin_read(const char* what) {
        if (reading_) {
            throw std::logic_error(std::string("aio: stream_reader::") + what +
                                   " called while another task is already reading this stream");
        }
        reading_ = true;
    }
    void end_read() noexcept { reading_ = false; }

    /// Reads what the socket holds now into the buffer, without waiting (for at_eof): true if
    /// something changed (bytes arrived, the peer closed, an error ended the connection).
    /// False if it would block, or a read in flight already owns the buffer's tail.
    bool poll() {
        if (eof_) {
            return true;
        }
        if (closed_) {
            eof_ = true;
            return true;
        }
        if (read_pending_) {
            return false;
        }
        boost::system::error_code ec;
        if (tls_) {
            std::size_t n = socket_.read_some(boost::asio::buffer(tls_in_.get(), tls_read), ec);
            if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
                return false;
            }
            return tls_received(ec, n);
        }
        std::size_t n = socket_.read_some(read_tail(), ec);
        if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
            return false;
        }
        received(ec, n);
        return true;
    }

    // --- TLS ------------------------------------------------------------------------------

    /// From now on the bytes on the socket are `session`'s ciphertext: reads decrypt into the
    /// buffer, writes encrypt. Starts the handshake (a client's first message goes out);
    /// receive() then advances it until tls_session().handshake_done() (or EOF, or error()).
    void start_tls(std::unique_ptr<detail::tls_session> session) {
        tls_in_.reset(new char[tls_read]);
        tls_ = std::move(session);
        decrypt();
        send_tls_output();
    }
    /// The TLS session, or null on a plain connection.
    detail::tls_session* tls() const noexcept { return tls_.get(); }

    /// Parks the reading task until the next read of the socket completes, starting one unless
    /// one is in flight (a read cancelled earlier leaves its own: the bytes it brings are kept).
    /// The read lands in the buffer's tail. `bool cancelled = co_await t.receive(w);`, then
    /// eof(), error() and the buffer say what came.
    park_operation receive(io_waiter& w) {
        w.watch(read_waiter_);
        if (!read_pending_) {
            if (eof_ || closed_) {
                eof_ = true;
                return park_operation{&w, true}; // nothing more will come: wake at once
            }
            read_pending_ = true;
            rbuf_.pin(true);
            ready_queue* q = current_ready_queue;
            if (drained_ && q != nullptr) {
                // The last read emptied the socket: its answer to what was just sent cannot
                // be there yet. Reading now would cost a read that finds nothing (Asio tries
                // one before waiting); the loop's next turn runs the other ready tasks first.
                add_ref();
                q->push(deferred_read_);
            } else {
                start_read();
            }
        }
        return park(w);
    }

    /// Connects the socket to `ep`, parking on `w` (the read waiter's slot: nothing reads
    /// before the connection exists): `bool cancelled = co_await t.connect(ep, w)`, then
    /// connect_error(). A cancelled connect closes the socket.
    park_operation connect(const boost::asio::generic::stream_protocol::endpoint& ep,
                           io_waiter& w) {
        w.watch(read_waiter_);
        connect_error_ = {};
        socket_.async_connect(ep,
                              [self = ref<transport>(this)](const boost::system::error_code& ec) {
                                  self->connect_error_ = ec;
                                  self->resume_reader();
                              });
        return park(w);
    }
    boost::system::error_code connect_error() const noexcept { return connect_error_; }

    // --- writing --------------------------------------------------------------------------

    std::size_t write_buffer_size() const noexcept { return wbuf_.size() - wpos_; }
    std::size_t high_water() const noexcept { return high_; }
    std::size_t low_water() const noexcept { return low_; }

    void set_write_buffer_limits(std::size_t high, std::size_t low) {
        if (low > high) {
            throw std::invalid_argument("aio: stream_writer::set_write_buffer_limits: low (" +
                                        std::to_string(low) + ") above high (" +
                                        std::to_string(high) + ")");
        }
        high_ = high;
        low_ = low;
        update_pause();
    }

    /// Sends what it can of `data` now and keeps the rest. Throws the connection's error if it
    /// is lost, std::logic_error after close() or write_eof().
    template <class Bytes>
    void write(Bytes&& data) {
        check_writable();
        if (tls_) {
            std::string ciphertext;
            tls_->encrypt(std::string_view(data), ciphertext);
            write_raw(std::move(ciphertext));
        } else {
            write_raw(std::forward<Bytes>(data));
        }
        if (error_) {
            std::rethrow_exception(error_);
        }
    }

    /// write() of several pieces in order, sent together: one system call (sendmsg) takes up to
    /// `gather_max` of them when nothing is buffered; what the socket does not take is buffered.
    /// Throws as write().
    template <input_range Pieces>
    void write_pieces(const Pieces& pieces) {
        check_writable();
        if (tls_) { // one run of records for all the pieces
            std::string plaintext;
            for (const auto& piece : pieces) {
                plaintext.append(std::string_view(piece));
            }
            write(std::move(plaintext));
            return;
        }
        auto it = std::ranges::begin(pieces);
        auto end = std::ranges::end(pieces);
        while (it != end && write_buffer_size() == 0 && !write_wait_pending_) {
            std::array<std::string_view, gather_max> views;
            std::array<boost::asio::const_buffer, gather_max> buffers;
            std::size_t n = 0;
            std::size_t total = 0;
            for (; it != end && n < gather_max; ++it) {
                std::string_view v(*it);
                if (!v.empty()) {
                    views[n] = v;
                    buffers[n] = boost::asio::buffer(v.data(), v.size());
                    total += v.size();
                    ++n;
                }
            }
            std::size_t sent = send_some(std::span(buffers.data(), n));
            if (error_) {
                std::rethrow_exception(error_);
            }
            if (sent < total) {
                for (std::size_t i = 0; i < n; ++i) { // keep what did not go, in order
                    std::size_t skip = std::min(sent, views[i].size());
                    wbuf_.append(views[i].substr(skip));
                    sent -= skip;
                }
                break;
            }
        }
        for (; it != end; ++it) {
            wbuf_.append(std::string_view(*it));
        }
        if (write_buffer_size() > 0) {
            buffered();
        }
    }

    /// True while the buffer went above high water and has not yet fallen to low water.
    bool paused() const noexcept { return paused_; }
    bool closing() const noexcept { return closing_; }
    bool closed() const noexcept { return closed_; }

    /// Parks on `w` until the buffer falls to low water, or the connection is lost or closed.
    park_operation wait_drained(io_waiter& w) {
        drainers_.push_back(w);
        return park(w);
    }
    /// Parks on `w` until the socket is closed.
    park_operation wait_closed(io_waiter& w) {
        closers_.push_back(w);
        return park(w);
    }

    /// Half-closes: once the buffer is sent, the peer reads EOF; reading goes on. TLS has no
    /// half-close: std::logic_error (asyncio raises too).
    void write_eof() {
        if (tls_) {
            throw std::logic_error("aio: stream_writer::write_eof is not supported over TLS");
        }
        if (closing_ || eof_requested_) {
            return;
        }
        eof_requested_ = true;
        if (write_buffer_size() == 0) {
            shutdown_send();
        }
    }

    /// Closes once the buffer is sent (asyncio's transport.close()). A read parked on the
    /// socket then sees EOF.
    void close() noexcept {
        if (closing_) {
            return;
        }
        if (tls_ && !closed_ && !error_ && tls_->handshake_done()) {
            tls_->shutdown(); // close_notify, sent after what is buffered
            try {
                send_tls_output();
            } catch (...) { // out of memory: close without it
            }
        }
        closing_ = true;
        if (write_buffer_size() == 0 || error_) {
            finish_close();
        }
    }

    /// Closes now, dropping what was not sent (asyncio's transport.abort()).
    void abort() noexcept {
        closing_ = true;
        wbuf_.clear();
        wpos_ = 0;
        finish_close();
    }

private:
    /// Sends what the socket takes of `data` now (bytes as they go on the wire) and buffers the
    /// rest. A failed send is recorded (error()).
    template <class Bytes>
    void write_raw(Bytes&& data) {
        std::string_view view(data);
        if (view.empty()) {
            return;
        }
        if (write_buffer_size() == 0 && !write_wait_pending_) {
            std::size_t sent = send_now(view);
            if (error_) {
                return;
            }
            if (sent == view.size()) {
                return;
            }
            if constexpr (std::is_same_v<std::remove_cvref_t<Bytes>, std::string> &&
                          !std::is_lvalue_reference_v<Bytes>) {
                wbuf_ = std::move(data); // the caller's string is the buffer: no copy
                wpos_ = sent;
                buffered();
                return;
            }
            view.remove_prefix(sent);
        }
        wbuf_.append(view);
        buffered();
    }

    ~transport() {
        if (std::shared_ptr<loop_core> loop = tracked_by_.lock()) [[unlikely]] {
            loop->untrack(this);
        }
        boost::system::error_code ignored;
        socket_.close(ignored);
    }

    /// The free space a read of the socket asks for: 1 KiB at first, so that an idle
    /// connection holds little; doubled each time a read fills it, up to 256 KiB (asyncio's
    /// largest read).
    static constexpr std::size_t min_read = 1024;
    static constexpr std::size_t max_read = 256 * 1024;

    /// Where the next read of the socket lands: read_size_ bytes of the buffer's free tail, not
    /// all of it (a block grown by a large readexactly would otherwise take in that much).
    boost::asio::mutable_buffer read_tail() {
        return boost::asio::buffer(rbuf_.prepare(read_size_), read_size_);
    }

    /// Starts the read of the socket into the buffer's tail (read_pending_ is set).
    void start_read() {
        if (tls_) {
            start_tls_read();
            return;
        }
        boost::asio::mutable_buffer tail = read_tail();
        auto done = [self = ref<transport>(this),
                     asked = tail.size()](const boost::system::error_code& ec, std::size_t n) {
            self->read_pending_ = false;
            self->received(ec, n); // first: unpinning an emptied buffer moves its tail to 0
            self->rbuf_.pin(false);
            self->drained_ = n < asked;
            if (n == asked && self->read_size_ < max_read) {
                self->read_size_ *= 2; // the peer sends more than fits: read more at once
            }
            self->resume_reader();
        };
        socket_.async_read_some(tail, boost::asio::bind_allocator(
                                          op_allocator<void>(read_op_memory_), std::move(done)));
    }

    /// How much ciphertext one read of the socket takes on a TLS connection.
    static constexpr std::size_t tls_read = 64 * 1024;

    /// A read of ciphertext. What it brings is decrypted into the buffer; a read that brings
    /// no plaintext (a partial record, a handshake message) is followed by the next one without
    /// waking the reader, unless the handshake completed or the connection ended.
    void start_tls_read() {
        auto done = [self = ref<transport>(this)](const boost::system::error_code& ec,
                                                  std::size_t n) {
            self->read_pending_ = false;
            self->rbuf_.pin(false);
            bool changed = self->tls_received(ec, n);
            if (!changed && self->read_waiter_ != nullptr && !self->closed_) {
                self->read_pending_ = true;
                self->rbuf_.pin(true);
                self->start_tls_read();
                return;
            }
            self->resume_reader();
        };
        socket_.async_read_some(
            boost::asio::buffer(tls_in_.get(), tls_read),
            boost::asio::bind_allocator(op_allocator<void>(read_op_memory_), std::move(done)));
    }

    /// What a read of ciphertext gave: true if a reader sees a change (plaintext, EOF, an
    /// error, the handshake completed).
    bool tls_received(const boost::system::error_code& ec, std::size_t n) {
        std::size_t before = rbuf_.size();
        bool handshaking = !tls_->handshake_done();
        try {
            if (n > 0) {
                tls_->feed(std::string_view(tls_in_.get(), n));
            }
            decrypt();
            send_tls_output();
        } catch (...) {
            lost(std::current_exception());
        }
        received(ec, 0);
        return rbuf_.size() != before || eof_ || error_ || handshaking != !tls_->handshake_done();
    }

    /// Decrypts what the session holds into the buffer (advancing the handshake first).
    void decrypt() {
        for (;;) {
            boost::asio::mutable_buffer room = rbuf_.prepare(16 * 1024);
            tls_session::status why = tls_session::status::more;
            std::size_t n = tls_->read(static_cast<char*>(room.data()), room.size(), why);
            if (n > 0) {
                rbuf_.commit(n);
                continue;
            }
            if (why == tls_session::status::closed) {
                eof_ = true;
            } else if (why == tls_session::status::failed) {
                send_tls_output(); // the alert that tells the peer why, if the socket takes it
                lost(tls_->error());
            }
            return;
        }
    }

    /// Sends the ciphertext the session made (handshake messages, records, close_notify).
    void send_tls_output() {
        std::string out;
        tls_->take_output(out);
        if (!out.empty() && !closed_) {
            write_raw(std::move(out));
        }
    }

    /// A read started from the loop's ready queue (see receive). Holds a reference meanwhile.
    struct deferred_read final : ready_item {
        transport& t;
        explicit deferred_read(transport& owner) noexcept : t(owner) {}
        void run_ready() override {
            auto self = ref<transport>::adopt(&t); // the reference receive took
            if (t.closed_) {
                t.read_pending_ = false;
                t.rbuf_.pin(false);
                t.eof_ = true;
                t.resume_reader();
            } else {
                t.start_read();
            }
        }
        void discard_ready() noexcept override { t.release(); }
    };

    /// What a read of the socket gave: bytes, EOF, or the end of the connection.
    void received(const boost::system::error_code& ec, std::size_t n) noexcept {
        rbuf_.commit(n);
        if (!ec) {
            return;
        }
        if (ec == boost::asio::error::eof) {
            eof_ = true;
        } else if (ec == boost::asio::error::operation_aborted ||
                   ec == boost::asio::error::bad_descriptor) {
            eof_ = eof_ || closed_; // closed by this side: what a read then sees is EOF
        } else if (ec) {
            eof_ = true;
            lost(ec);
        }
    }

    void resume_reader() {
        if (io_waiter* w = std::exchange(read_waiter_, nullptr)) {
            w->resume_now();
        }
    }

    void check_writable() {
        if (error_) {
            std::rethrow_exception(error_);
        }
        if (closing_) {
            throw std::logic_error("aio: stream_writer::write after close()");
        }
        if (eof_requested_) {
            throw std::logic_error("aio: stream_writer::write after write_eof()");
        }
    }

    /// Writes without waiting; gives how much went out. An error is recorded (lost()).
    std::size_t send_now(std::string_view data) {
        std::size_t sent = 0;
        while (sent < data.size()) {
            // One buffer, not a sequence: Asio then makes it a send(), which costs the kernel
            // less than the sendmsg() a sequence takes (no message header, no iovec to copy in).
            std::size_t n =
                send_some(boost::asio::const_buffer(data.data() + sent, data.size() - sent));
            if (n == 0) { // the socket takes no more now, or the connection is lost
                break;
            }
            sent += n;
        }
        return sent;
    }

    /// How many pieces write_pieces sends in one system call (well under IOV_MAX).
    static constexpr std::size_t gather_max = 64;

    /// One send without waiting (of one buffer, or gathering a sequence); gives how much went
    /// out: 0 when the socket takes nothing now, or on an error, which is recorded (lost()).
    template <class ConstBuffers>
    std::size_t send_some(const ConstBuffers& buffers) {
        for (;;) {
            boost::system::error_code ec;
            std::size_t n = socket_.write_some(buffers, ec);
            if (!ec) {
                return n;
            }
            if (ec == boost::asio::error::interrupted) {
                continue;
            }
            if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
                return 0;
            }
            lost(ec);
            return 0;
        }
    }

    /// Data went into the buffer: wait for the socket to take it; pause above high water.
    void buffered() {
        if (!write_wait_pending_) {
            write_wait_pending_ = true;
            socket_.async_wait(boost::asio::socket_base::wait_write,
                               [self = ref<transport>(this)](const boost::system::error_code&) {
                                   self->write_wait_pending_ = false;
                                   self->flush();
                               });
        }
        update_pause();
    }

    /// The socket can take more: send what is buffered, then finish a close or write_eof.
    void flush() {
        if (closed_) {
            return;
        }
        std::size_t sent = send_now(std::string_view(wbuf_).substr(wpos_));
        if (error_) {
            return;
        }
        wpos_ += sent;
        if (wpos_ == wbuf_.size()) {
            wpos_ = 0;
            if (wbuf_.capacity() > 64 * 1024) {
                std::string().swap(wbuf_);
            } else {
                wbuf_.clear();
            }
        } else if (wpos_ > wbuf_.size() / 2) {
            wbuf_.erase(0, wpos_);
            wpos_ = 0;
        }
        if (write_buffer_size() > 0) {
            buffered();
            return;
        }
        update_pause();
        if (closing_) {
            finish_close();
        } else if (eof_requested_) {
            shutdown_send();
        }
    }

    void update_pause() {
        std::size_t size = write_buffer_size();
        if (!paused_ && size > high_) {
            paused_ = true;
        } else if (paused_ && size <= low_) {
            paused_ = false;
            wake_all(drainers_);
        }
    }

    void shutdown_send() noexcept {
        boost::system::error_code ignored;
        socket_.shutdown(boost::asio::socket_base::shutdown_send, ignored);
    }

    /// The connection failed (reset by the peer, a send refused): what is buffered can never
    /// go; the socket closes and everyone waiting learns it.
    void lost(const boost::system::error_code& ec) noexcept {
        if (!error_) {
            try {
                error_ = std::make_exception_ptr(
                    boost::system::system_error(ec, "aio: connection lost"));
            } catch (...) {
                error_ = std::current_exception();
            }
        }
        lost(error_);
    }
    void lost(std::exception_ptr error) noexcept {
        if (!error_) {
            error_ = std::move(error);
        }
        wbuf_.clear();
        wpos_ = 0;
        finish_close();
    }

    void finish_close() noexcept {
        if (closed_) {
            return;
        }
        closed_ = true;
        closing_ = true;
        boost::system::error_code ignored;
        socket_.close(ignored); // waits in flight complete with operation_aborted
        paused_ = false;
        wake_all(drainers_);
        wake_all(closers_);
    }

    stream_socket socket_;
    endpoint peer_;
    endpoint local_;
    std::size_t limit_;
    std::uint32_t refs_ = 0;
    std::uint32_t handles_ = 0;

    std::exception_ptr error_;
    byte_buffer rbuf_;
    io_waiter* read_waiter_ = nullptr;
    boost::system::error_code connect_error_;
    bool eof_ = false;
    bool reading_ = false;
    bool read_pending_ = false;
    bool drained_ = false;
    std::size_t read_size_ = min_read;
    op_memory read_op_memory_;
    deferred_read deferred_read_{*this};
    std::unique_ptr<tls_session> tls_;
    std::unique_ptr<char[]> tls_in_;

    std::string wbuf_;
    std::size_t wpos_ = 0;
    std::size_t high_ = 64 * 1024;
    std::size_t low_ = 16 * 1024;
    intrusive_list<io_waiter> drainers_;
    intrusive_list<io_waiter> closers_;
    bool write_wait_pending_ = false;
    bool paused_ = false;
    bool closing_ = false;
    bool closed_ = false;
    bool eof_requested_ = false;
    std::weak_ptr<loop_core> tracked_by_; // debug mode: the loop that reports it if left open

public:
    /// Debug mode: the loop reports this transport if it is still open when run ends.
    [[gnu::cold]] void track_on(loop_core& loop) {
        loop.track(
            {this,
             [](const void* t) noexcept { return !static_cast<const transport*>(t)->closing_; },
             [](const void* t) {
                 const auto* self = static_cast<const transport*>(t);
                 return "unclosed transport <stream fd=" +
                        std::to_string(const_cast<transport*>(self)->socket_.native_handle()) + ">";
             }});
        tracked_by_ = loop.weak_from_this();
    }
};

/// A counted reference to a transport held by a reader or writer handle.
class transport_handle {
public:
    transport_handle() = default;
    explicit transport_handle(transport* t) noexcept : t_(t) {
        if (t_ != nullptr) {
            t_->add_handle();
        }
    }
    transport_handle(const transport_handle& o) noexcept : transport_handle(o.t_) {}
    transport_handle(transport_handle&& o) noexcept : t_(std::exchange(o.t_, nullptr)) {}
    transport_handle& operator=(transport_handle o) noexcept {
        std::swap(t_, o.t_);
        return *this;
    }
    ~transport_handle() {
        if (t_ != nullptr) {
            t_->release_handle();
        }
    }

    transport* get() const noexcept { return t_; }
    /// The transport; std::logic_error for a default-constructed reader or writer.
    transport& operator*() const {
        if (t_ == nullptr) {
            throw std::logic_error("aio: stream_reader/stream_writer used without a connection "
                                   "(default-constructed or moved from)");
        }
        return *t_;
    }
    transport* operator->() const { return &**this; }
    explicit operator bool() const noexcept { return t_ != nullptr; }

private:
    transport* t_ = nullptr;
};

} // namespace aio::detail

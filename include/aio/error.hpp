// aio/error.hpp - the exceptions aio throws, and how to recognise a cancellation.
#pragma once

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

#include <exception>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace aio {

/// Thrown at the next await of a cancelled task (asyncio.CancelledError).
///
/// Like Python 3.8's CancelledError, which moved out of Exception, it does NOT derive from
/// std::exception: a generic `catch (const std::exception&)` around an await cannot swallow a
/// cancellation by accident and keep a task alive that was asked to stop. `catch (...)`, or
/// `catch (const aio::cancelled_error&)`, still catches it. A task may catch it, await cleanup
/// (outside the catch block, or through aio::finally / aio::with) and rethrow.
///
/// Raw Asio operations awaited inside a task report cancellation their own way, as
/// boost::system::system_error with asio::error::operation_aborted; use is_cancellation() to
/// recognise both.
class cancelled_error {
public:
    cancelled_error() = default;
    explicit cancelled_error(std::string message) : message_(std::move(message)) {}
    virtual ~cancelled_error() = default;

    /// A description: the message it was constructed with, or "cancelled".
    virtual const char* what() const noexcept {
        return message_.empty() ? "cancelled" : message_.c_str();
    }

private:
    std::string message_;
};

/// What aio::run throws when SIGINT or SIGTERM cancelled the main task and the main task ended
/// cancelled (asyncio.run raises KeyboardInterrupt in that case). signal() tells which one.
class interrupted_error : public cancelled_error {
public:
    [[gnu::cold]] explicit interrupted_error(int signal_number)
        : cancelled_error("interrupted by signal " + std::to_string(signal_number)),
          signal_(signal_number) {}

    int signal() const noexcept { return signal_; }

private:
    int signal_;
};

/// Thrown by wait_for / timeout / timeout_at when the deadline passed and the work ended
/// cancelled because of it (asyncio.TimeoutError).
class timeout_error : public std::runtime_error {
public:
    timeout_error() : std::runtime_error("aio: timeout expired") {}
};

/// Thrown when a task or future is asked for its result before it is done, or a future's result
/// is set twice (asyncio.InvalidStateError).
class invalid_state_error : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

/// Thrown by task_group when one or more of its tasks (or its body) failed: every error, in the
/// order the group saw them (asyncio's ExceptionGroup).
class exception_group : public std::exception {
public:
    explicit exception_group(std::vector<std::exception_ptr> errors)
        : errors_(std::move(errors)),
          what_("aio: " + std::to_string(errors_.size()) + " sub-exception(s)") {}

    const std::vector<std::exception_ptr>& exceptions() const noexcept { return errors_; }
    const char* what() const noexcept override { return what_.c_str(); }

private:
    std::vector<std::exception_ptr> errors_;
    std::string what_;
};

/// True if `e` is a cancellation: aio::cancelled_error, or Asio's operation_aborted error.
inline bool is_cancellation(const std::exception_ptr& e) noexcept {
    if (!e) {
        return false;
    }
    try {
        std::rethrow_exception(e);
    } catch (const cancelled_error&) {
        return true;
    } catch (const boost::system::system_error& se) {
        return se.code() == boost::asio::error::operation_aborted;
    } catch (...) {
        return false;
    }
}

/// A one-line description of an exception: its what() where it has one.
inline std::string describe(const std::exception_ptr& e) {
    if (!e) {
        return "no exception";
    }
    try {
        std::rethrow_exception(e);
    } catch (const cancelled_error& c) {
        return std::string("cancelled_error: ") + c.what();
    } catch (const std::exception& x) {
        return x.what();
    } catch (...) {
        return "unknown exception";
    }
}

} // namespace aio

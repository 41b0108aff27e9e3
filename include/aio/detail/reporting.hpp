// aio/detail/reporting.hpp - where a loop's errors go: its exception handler.
#pragma once

#include <aio/exception_handler.hpp>

#include <exception>
#include <utility>

namespace aio::detail {

/// A loop's exception handler (asyncio's loop.call_exception_handler): what it reports, and
/// user callbacks run so that an exception they throw is reported instead of leaving the loop.
class reporter {
public:
    void set_exception_handler(exception_handler h) { handler_ = std::move(h); }

    /// Calls the exception handler (the default one if none is set); an exception the handler
    /// itself throws is reported by the default one.
    [[gnu::cold]] void report(const exception_context& ctx) noexcept {
        try {
            if (handler_) {
                handler_(ctx);
            } else {
                default_exception_handler(ctx);
            }
        } catch (...) {
            default_exception_handler(
                {"exception in the exception handler", std::current_exception(), {}});
        }
    }

    /// Calls fn(); an exception it throws is reported with `what` as the message (asyncio's
    /// "Exception in callback"), and the caller goes on.
    template <class F>
    void call_reporting(const char* what, F&& fn) noexcept {
        try {
            std::forward<F>(fn)();
        } catch (...) {
            report({what, std::current_exception(), {}});
        }
    }

protected:
    ~reporter() = default;

private:
    exception_handler handler_;
};

} // namespace aio::detail

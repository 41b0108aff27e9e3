// aio/exception_handler.hpp - how errors nobody retrieved are reported (asyncio's
// loop.set_exception_handler / call_exception_handler).
#pragma once

#include <aio/detail/source_location.hpp>
#include <aio/error.hpp>

#include <cstdio>
#include <exception>
#include <functional>
#include <string>

namespace aio {

/// What the loop reports: a message, the exception (may be null), the task or future it
/// belongs to (its name, may be empty) and where that task was created (its create_task call;
/// `created_at.line() == 0` when there is no task, and for futures).
struct exception_context {
    std::string message;
    std::exception_ptr exception;
    std::string task_name;
    aio::source_location created_at = {};
};

/// Replaces the loop's reporter (loop::set_exception_handler). Called on the loop thread.
using exception_handler = std::function<void(const exception_context&)>;

/// The default reporter: one line on stderr, like asyncio's
/// "Task exception was never retrieved".
[[gnu::cold]] inline void default_exception_handler(const exception_context& ctx) {
    std::string line = "aio: " + ctx.message;
    if (!ctx.task_name.empty()) {
        line += " (" + ctx.task_name;
        if (ctx.created_at.line() != 0) {
            line += ", created at " + std::string(ctx.created_at.file_name()) + ":" +
                    std::to_string(ctx.created_at.line());
        }
        line += ")";
    }
    if (ctx.exception) {
        line += ": " + describe(ctx.exception);
    }
    line += "\n";
    std::fputs(line.c_str(), stderr);
}

} // namespace aio

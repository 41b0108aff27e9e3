// aio/exception_handler.hpp - how errors nobody retrieved are reported (asyncio's
// loop.set_exception_handler / call_exception_handler).
#pragma once

#include <aio/error.hpp>

#include <cstdio>
#include <exception>
#include <functional>
#include <string>

namespace aio {

/// What the loop reports: a message, the exception (may be null) and the task or future it
/// belongs to (its name, may be empty).
struct exception_context {
    std::string message;
    std::exception_ptr exception;
    std::string task_name;
};

/// Replaces the loop's reporter (loop::set_exception_handler). Called on the loop thread.
using exception_handler = std::function<void(const exception_context&)>;

/// The default reporter: one line on stderr, like asyncio's
/// "Task exception was never retrieved".
[[gnu::cold]] inline void default_exception_handler(const exception_context& ctx) {
    std::string line = "aio: " + ctx.message;
    if (!ctx.task_name.empty()) {
        line += " (" + ctx.task_name + ")";
    }
    if (ctx.exception) {
        line += ": " + describe(ctx.exception);
    }
    line += "\n";
    std::fputs(line.c_str(), stderr);
}

} // namespace aio

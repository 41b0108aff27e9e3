// aio/detail/source_location.hpp - aio::source_location: std::source_location where the standard
// library provides it, else a stand-in with the same members.
#pragma once

#include <cstdint>
#include <version>

#if defined(__cpp_lib_source_location)
#include <source_location>
#endif

namespace aio {

#if defined(__cpp_lib_source_location)
/// Where a task was created (any_task::created_at): file, line and function of the call.
using source_location = std::source_location;
#else
/// libstdc++'s std::source_location needs __builtin_source_location, which Clang has only from
/// version 15: with Clang 14 aio records the file and the line through builtins both compilers
/// have, in a class with std::source_location's members. It takes two words where
/// std::source_location takes one (a task's state has room for two, not for three), so it
/// leaves out the function: function_name() is empty, as column() is 0.
class source_location {
public:
    constexpr source_location() noexcept = default;

    static constexpr source_location current(const char* file = __builtin_FILE(),
                                             std::uint_least32_t line = __builtin_LINE()) noexcept {
        source_location where;
        where.file_ = file;
        where.line_ = line;
        return where;
    }

    constexpr std::uint_least32_t line() const noexcept { return line_; }
    constexpr std::uint_least32_t column() const noexcept { return 0; }
    constexpr const char* file_name() const noexcept { return file_; }
    constexpr const char* function_name() const noexcept { return ""; }

private:
    const char* file_ = "";
    std::uint_least32_t line_ = 0;
};
#endif

} // namespace aio

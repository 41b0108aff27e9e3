# aio_precompile_headers: compile <aio/aio.hpp> (and Boost.Asio under it) once per target
# instead of once per source file. Shipped with the package: find_package(aio), add_subdirectory
# and FetchContent all define it. See docs/build-time.md for what it saves.
#
#   aio_precompile_headers(<target> [HEADERS <header>...])
#   aio_precompile_headers(<target> REUSE_FROM <other target>)
#
# The first form precompiles <aio/aio.hpp>, then each HEADERS entry (written as for
# target_precompile_headers: <doctest/doctest.h>, a path relative to the calling directory, or a
# generator expression), into a header that every C++ source of <target> includes first. The
# second form makes <target> use the header precompiled for <other target>, which must have been
# given the first form and the same compile options (with GCC a mismatch is a -Winvalid-pch
# warning, an error under -Werror): one precompiled header for several small programs.
#
# <target> must link aio::aio. Only C++ sources get the header. CMAKE_DISABLE_PRECOMPILE_HEADERS
# (or the target property DISABLE_PRECOMPILE_HEADERS) turns precompiling off again, for a build
# that checks each file includes what it uses.
#
# With GCC the target also gets -Wno-subobject-linkage while its header is precompiled: GCC 12
# reports a coroutine of aio instantiated with a type from an anonymous namespace (a task
# returning such a type) as "has a field whose type uses the anonymous namespace" when aio's
# headers come from a precompiled header, and never when they are parsed; the warning is about
# types shared between translation units, which such a type cannot be.
include_guard(GLOBAL)

function(aio_precompile_headers target)
    cmake_parse_arguments(PARSE_ARGV 1 arg "" "REUSE_FROM" "HEADERS")
    if(arg_UNPARSED_ARGUMENTS)
        message(FATAL_ERROR "aio_precompile_headers: unexpected arguments: ${arg_UNPARSED_ARGUMENTS}")
    endif()
    if(NOT TARGET ${target})
        message(FATAL_ERROR "aio_precompile_headers: ${target} is not a target")
    endif()
    if(arg_REUSE_FROM AND arg_HEADERS)
        message(FATAL_ERROR "aio_precompile_headers: REUSE_FROM takes the other target's headers; "
                            "HEADERS goes with that target")
    endif()

    if(arg_REUSE_FROM)
        target_precompile_headers(${target} REUSE_FROM ${arg_REUSE_FROM})
    else()
        set(headers "<aio/aio.hpp>" ${arg_HEADERS})
        set(cxx_headers "")
        foreach(header IN LISTS headers)
            if(header MATCHES "^\\$<")
                # Already a generator expression: the caller chose its condition.
                list(APPEND cxx_headers "${header}")
                continue()
            endif()
            if(NOT header MATCHES "^[<\"]")
                # A path: target_precompile_headers reads it from the calling directory, but not
                # inside a generator expression.
                cmake_path(ABSOLUTE_PATH header BASE_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}")
            endif()
            # A generator expression ends at the first ">": $<ANGLE-R> writes the one that closes
            # <header>.
            string(REGEX REPLACE ">$" "$<ANGLE-R>" header "${header}")
            list(APPEND cxx_headers "$<$<COMPILE_LANGUAGE:CXX>:${header}>")
        endforeach()
        target_precompile_headers(${target} PRIVATE ${cxx_headers})
    endif()

    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
        target_compile_options(${target} PRIVATE
            "$<$<AND:$<COMPILE_LANGUAGE:CXX>,$<NOT:$<BOOL:$<TARGET_PROPERTY:DISABLE_PRECOMPILE_HEADERS>>>>:-Wno-subobject-linkage>")
    endif()
endfunction()

# Strict warnings and optional sanitizers for aio's own targets (tests, examples).
include_guard(GLOBAL)

set(AIO_SANITIZE "" CACHE STRING
    "Comma-separated sanitizers for tests and examples, e.g. address,undefined or thread (empty: none)")

function(aio_strict_warnings target)
    if(CMAKE_CXX_COMPILER_ID MATCHES "^(GNU|Clang|AppleClang)$")
        target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror)
        # GCC 12 at -O2 reports a false -Wmismatched-new-delete on Asio's coroutine frame
        # allocator (GCC bug 109224) depending on what a coroutine body holds; with -Werror that
        # fails builds of correct code.
        if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
            target_compile_options(${target} PRIVATE -Wno-mismatched-new-delete)
        endif()
        if(AIO_SANITIZE)
            set(_aio_san_flags
                -fsanitize=${AIO_SANITIZE}
                -fno-omit-frame-pointer
                -fno-sanitize-recover=all
            )
            # Clang 14 cannot compile coroutines with -fsanitize=function, part of undefined
            # there ("Cannot represent a difference across sections").
            if(AIO_SANITIZE MATCHES "undefined" AND CMAKE_CXX_COMPILER_ID MATCHES "Clang")
                list(APPEND _aio_san_flags -fno-sanitize=function)
            endif()
            target_compile_options(${target} PRIVATE ${_aio_san_flags})
            target_link_options(${target} PRIVATE ${_aio_san_flags})
            # GCC 12+ warns (-Wtsan) that atomic_thread_fence, used by Boost.Asio, is not
            # supported by ThreadSanitizer; with -Werror that would break every TSan build.
            if(AIO_SANITIZE MATCHES "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU"
               AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 12)
                target_compile_options(${target} PRIVATE -Wno-tsan)
            endif()
        endif()
    endif()
endfunction()

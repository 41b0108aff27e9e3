// The doctest runner of aio's tests: one test file per public header.
// doctest would install its own SIGINT and SIGTERM handlers around each test; aio::run leaves
// signals that have a handler alone, and the signal tests need aio's handling.
#define DOCTEST_CONFIG_NO_POSIX_SIGNALS
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

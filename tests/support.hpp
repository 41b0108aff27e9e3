// Helpers shared by aio's tests.
#pragma once

#include <aio/aio.hpp>

#include <chrono>
#include <exception>
#include <string>
#include <vector>

namespace aio_test {

/// aio::run without signal handling (tests that send signals install it themselves).
template <class Main>
auto run(Main&& main) {
    return aio::run(std::forward<Main>(main), aio::run_options{.handle_signals = false});
}

/// Collects what the loop reports, instead of printing it.
struct report_log {
    std::vector<aio::exception_context> entries;

    void install(const aio::loop& lp) {
        lp.set_exception_handler([this](const aio::exception_context& c) { entries.push_back(c); });
    }
    std::size_t count(const std::string& message_part) const {
        std::size_t n = 0;
        for (const auto& e : entries) {
            if (e.message.find(message_part) != std::string::npos) {
                ++n;
            }
        }
        return n;
    }
};

/// True if `e` holds an exception of type E.
template <class E>
bool holds(const std::exception_ptr& e) {
    if (!e) {
        return false;
    }
    try {
        std::rethrow_exception(e);
    } catch (const E&) {
        return true;
    } catch (...) {
        return false;
    }
}

/// True if f() throws an E (false if it throws something else or nothing).
template <class E, class F>
bool throws_as(F&& f) {
    try {
        f();
    } catch (const E&) {
        return true;
    } catch (...) {
        return false;
    }
    return false;
}

/// Yields to the loop until `count` reaches `n` (tasks bump a counter just before they park),
/// at most 100 times, so that a broken primitive fails the checks instead of hanging.
inline aio::awaitable<void> yield_until(const int& count, int n) {
    for (int i = 0; i < 100 && count < n; ++i) {
        co_await aio::sleep(std::chrono::seconds(0));
    }
}

/// The events joined with '|', for comparing a sequence in one CHECK.
inline std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) {
        out += (out.empty() ? "" : "|") + item;
    }
    return out;
}

} // namespace aio_test

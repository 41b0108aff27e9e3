// Helpers shared by aio's tests.
#pragma once

#include <aio/aio.hpp>

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

} // namespace aio_test

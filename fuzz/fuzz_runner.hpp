// The loop a libFuzzer target runs its inputs on: one aio::runner for the whole run (a loop per
// input would cost more than the input), without aio's signal handlers (libFuzzer has its own).
#pragma once

#include <aio/run.hpp>

namespace aio_fuzz {

inline aio::runner& fuzz_runner() {
    static aio::runner runner([] {
        aio::run_options options;
        options.handle_signals = false;
        return options;
    }());
    return runner;
}

} // namespace aio_fuzz

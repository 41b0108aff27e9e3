// Shared pieces of the storm tests (storm_*.cpp): seeded rounds, random numbers, a watchdog
// for hung rounds, and the checks' bookkeeping. See docs/reliability.md.
#pragma once

#include "support.hpp"

#include <aio/aio.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace aio_storm {

/// Reads a non-negative decimal number from the environment; nullopt if unset or malformed.
inline std::optional<std::uint64_t> env_number(const char* name) {
    const char* text = std::getenv(name);
    if (text == nullptr || *text == '\0') {
        return std::nullopt;
    }
    char* end = nullptr;
    unsigned long long value = std::strtoull(text, &end, 10);
    if (end == nullptr || *end != '\0') {
        return std::nullopt;
    }
    return static_cast<std::uint64_t>(value);
}

/// Which rounds a storm runs: round r (0-based) uses the seed `first_seed + r`, so that one
/// round is replayed with AIO_STORM_SEED=<its seed> AIO_STORM_ROUNDS=1. AIO_STORM_SEED sets
/// the first seed (default: the storm's own, fixed, so that CI runs are repeatable) and
/// AIO_STORM_ROUNDS the number of rounds (default: the storm's own).
struct rounds {
    std::uint64_t first_seed;
    std::uint64_t count;

    rounds(std::uint64_t default_seed, std::uint64_t default_count)
        : first_seed(env_number("AIO_STORM_SEED").value_or(default_seed)),
          count(env_number("AIO_STORM_ROUNDS").value_or(default_count)) {}

    std::uint64_t seed(std::uint64_t round) const { return first_seed + round; }
};

/// The command line that replays one round (storm names have no commas: -tc splits at them).
inline std::string replay_hint(const std::string& test_name, std::uint64_t seed) {
    return "replay: AIO_STORM_SEED=" + std::to_string(seed) +
           " AIO_STORM_ROUNDS=1 aio_tests -tc=\"" + test_name + "\"";
}

/// Random numbers for one round: splitmix64, fully specified here, so that a seed makes the
/// same round with every standard library and compiler.
class rng {
public:
    explicit rng(std::uint64_t seed) noexcept : state_(seed) {}

    std::uint64_t next() noexcept {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    /// Uniform in [lo, hi] (the tiny modulo bias does not matter here).
    int between(int lo, int hi) noexcept {
        return lo + static_cast<int>(next() % static_cast<std::uint64_t>(hi - lo + 1));
    }
    /// True with probability percent/100.
    bool chance(int percent) noexcept { return between(0, 99) < percent; }
    /// A derived generator, so that one part of a round (say, the plan) draws the same
    /// numbers whatever another part (say, the schedule) draws.
    rng split() noexcept { return rng(next()); }

private:
    std::uint64_t state_;
};

/// Aborts the process, after printing which round was running, if a round takes longer than
/// `limit`: a hung round would otherwise end in ctest's timeout without naming its seed.
class watchdog {
public:
    watchdog(std::string test_name, std::chrono::seconds limit)
        : name_(std::move(test_name)), limit_(limit), thread_([this] { watch(); }) {}
    watchdog(const watchdog&) = delete;
    watchdog& operator=(const watchdog&) = delete;
    ~watchdog() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }

    /// A new round starts (with this seed): the clock starts again.
    void round(std::uint64_t seed) {
        {
            std::lock_guard lock(mutex_);
            seed_ = seed;
            ++generation_;
        }
        cv_.notify_all();
    }

private:
    void watch() {
        std::unique_lock lock(mutex_);
        while (!stop_) {
            std::uint64_t seen = generation_;
            if (!cv_.wait_for(lock, limit_, [&] { return stop_ || generation_ != seen; })) {
                std::fprintf(stderr, "storm \"%s\": round with seed %llu hung for %llds; %s\n",
                             name_.c_str(), static_cast<unsigned long long>(seed_),
                             static_cast<long long>(limit_.count()),
                             replay_hint(name_, seed_).c_str());
                std::abort();
            }
        }
    }

    std::string name_;
    std::chrono::seconds limit_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::uint64_t seed_ = 0;
    std::uint64_t generation_ = 0;
    bool stop_ = false;
    std::thread thread_;
};

/// What a round found wrong, one line each; a round passes when it is empty.
struct violations {
    std::vector<std::string> lines;

    void add(std::string line) { lines.push_back(std::move(line)); }
    void expect(bool ok, const std::string& what) {
        if (!ok) {
            add(what);
        }
    }
    bool empty() const noexcept { return lines.empty(); }
    std::string text() const { return aio_test::join(lines); }
};

/// The errors a storm throws on purpose, each carrying a number that says who threw it.
struct storm_error : std::runtime_error {
    explicit storm_error(int thrower)
        : std::runtime_error("storm error " + std::to_string(thrower)), id(thrower) {}
    int id;
};

/// Counts a plan node's start, and its frame's end when destroyed, in the node's books (any
/// type with `started` and `ended` counters).
template <class Books>
class frame_scope {
public:
    explicit frame_scope(Books& books) noexcept : books_(books) { ++books_.started; }
    ~frame_scope() { ++books_.ended; }
    frame_scope(const frame_scope&) = delete;
    frame_scope& operator=(const frame_scope&) = delete;

private:
    Books& books_;
};

/// A plan's tree as text, printed with a failing round: `label(node)`, then the children's in
/// parentheses, comma-separated.
template <class Node, class Label>
std::string describe_tree(const Node& n, const Label& label) {
    std::string out = label(n);
    if (!n.children.empty()) {
        out += "(";
        for (std::size_t i = 0; i < n.children.size(); ++i) {
            out += (i ? ", " : "") + describe_tree(n.children[i], label);
        }
        out += ")";
    }
    return out;
}

/// Runs the rounds of one storm: `round(seed, context)` plays the round with that seed and
/// returns what it found wrong; it may fill `context` (say, the tree it drew), which a failure
/// prints with the command line that replays the round. Stops at the first failing round, and
/// returns how many rounds ran. A watchdog aborts the process, naming the round, if one hangs.
template <class Round>
std::uint64_t run_rounds(const std::string& name, const rounds& plan, Round&& round) {
    watchdog dog(name, std::chrono::seconds(60));
    std::uint64_t done = 0;
    for (std::uint64_t i = 0; i < plan.count; ++i) {
        std::uint64_t seed = plan.seed(i);
        dog.round(seed);
        std::string context;
        violations bad = round(seed, context);
        ++done;
        INFO(replay_hint(name, seed));
        INFO(context);
        CHECK_MESSAGE(bad.empty(), bad.text());
        if (!bad.empty()) {
            break;
        }
    }
    return done;
}

} // namespace aio_storm

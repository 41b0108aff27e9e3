// Tests of aio/error.hpp and aio/outcome.hpp: the exception types, is_cancellation, describe,
// and outcome<T>.
#include "support.hpp"

#include <aio/error.hpp>
#include <aio/outcome.hpp>

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

#include <doctest/doctest.h>

#include <csignal>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

namespace {

using aio_test::holds;

std::string what_of(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        return x.what();
    } catch (...) {
        return "not a std::exception";
    }
}

} // namespace

static_assert(!std::is_base_of_v<std::exception, aio::cancelled_error>);
static_assert(std::is_base_of_v<aio::cancelled_error, aio::interrupted_error>);
static_assert(std::is_base_of_v<std::runtime_error, aio::timeout_error>);
static_assert(std::is_base_of_v<std::logic_error, aio::invalid_state_error>);
static_assert(std::is_base_of_v<std::exception, aio::exception_group>);
static_assert(std::is_same_v<aio::result_t<void>, std::monostate>);
static_assert(std::is_same_v<aio::result_t<int>, int>);

TEST_CASE("is_cancellation recognises cancelled_error and operation_aborted only") {
    using boost::system::system_error;
    CHECK(aio::is_cancellation(std::make_exception_ptr(aio::cancelled_error())));
    CHECK(aio::is_cancellation(std::make_exception_ptr(aio::interrupted_error(SIGINT))));
    CHECK(aio::is_cancellation(
        std::make_exception_ptr(system_error(boost::asio::error::operation_aborted))));
    CHECK_FALSE(aio::is_cancellation(
        std::make_exception_ptr(system_error(boost::asio::error::connection_refused))));
    CHECK_FALSE(aio::is_cancellation(std::make_exception_ptr(std::runtime_error("x"))));
    CHECK_FALSE(aio::is_cancellation(std::make_exception_ptr(aio::timeout_error())));
    CHECK_FALSE(aio::is_cancellation(std::make_exception_ptr(42)));
    CHECK_FALSE(aio::is_cancellation(nullptr));
}

TEST_CASE("a catch of std::exception does not catch cancelled_error") {
    std::string caught_by;
    try {
        try {
            throw aio::cancelled_error();
        } catch (const std::exception&) {
            caught_by = "std::exception";
        }
    } catch (const aio::cancelled_error&) {
        caught_by = "cancelled_error";
    }
    CHECK(caught_by == "cancelled_error");
}

TEST_CASE("cancelled_error describes itself") {
    CHECK(std::string(aio::cancelled_error().what()) == "cancelled");
    CHECK(std::string(aio::cancelled_error("stop now").what()) == "stop now");
}

TEST_CASE("interrupted_error carries the signal") {
    aio::interrupted_error e(SIGTERM);
    CHECK(e.signal() == SIGTERM);
    CHECK(std::string(e.what()).find(std::to_string(SIGTERM)) != std::string::npos);
    bool caught_as_cancelled = false;
    try {
        throw aio::interrupted_error(SIGINT);
    } catch (const aio::cancelled_error& c) {
        caught_as_cancelled = dynamic_cast<const aio::interrupted_error*>(&c) != nullptr &&
                              dynamic_cast<const aio::interrupted_error&>(c).signal() == SIGINT;
    }
    CHECK(caught_as_cancelled);
}

TEST_CASE("exception_group holds its errors in order") {
    std::vector<std::exception_ptr> errors;
    errors.push_back(std::make_exception_ptr(std::runtime_error("first")));
    errors.push_back(std::make_exception_ptr(aio::cancelled_error()));
    errors.push_back(std::make_exception_ptr(std::logic_error("third")));
    aio::exception_group group(errors);
    REQUIRE(group.exceptions().size() == 3);
    CHECK(group.exceptions()[0] == errors[0]);
    CHECK(group.exceptions()[1] == errors[1]);
    CHECK(group.exceptions()[2] == errors[2]);
    CHECK(what_of(group.exceptions()[0]) == "first");
    CHECK(holds<aio::cancelled_error>(group.exceptions()[1]));
    CHECK(what_of(group.exceptions()[2]) == "third");
    CHECK(std::string(group.what()).find('3') != std::string::npos);
}

TEST_CASE("timeout_error and invalid_state_error are standard exceptions") {
    CHECK(holds<std::runtime_error>(std::make_exception_ptr(aio::timeout_error())));
    CHECK_FALSE(std::string(aio::timeout_error().what()).empty());
    aio::invalid_state_error e("not ready");
    CHECK(std::string(e.what()) == "not ready");
}

TEST_CASE("describe gives a one line description of an exception") {
    CHECK(aio::describe(std::make_exception_ptr(std::runtime_error("boom"))) == "boom");
    CHECK(aio::describe(std::make_exception_ptr(aio::cancelled_error())) ==
          "cancelled_error: cancelled");
    CHECK(aio::describe(std::make_exception_ptr(aio::cancelled_error("why"))) ==
          "cancelled_error: why");
    CHECK(aio::describe(std::make_exception_ptr(42)) == "unknown exception");
    CHECK(aio::describe(nullptr) == "no exception");
}

TEST_CASE("outcome with a value") {
    aio::outcome<int> o(5);
    CHECK(o.has_value());
    CHECK(o.value() == 5);
    CHECK(o.exception() == nullptr);
    CHECK_FALSE(o.cancelled());
    o.value() = 6;
    CHECK(o.value() == 6);
    const aio::outcome<int>& c = o;
    CHECK(c.value() == 6);
}

TEST_CASE("outcome with an exception rethrows it from value") {
    auto error = std::make_exception_ptr(std::runtime_error("failed"));
    aio::outcome<int> o(error);
    CHECK_FALSE(o.has_value());
    CHECK(o.exception() == error);
    CHECK_FALSE(o.cancelled());
    CHECK_THROWS_WITH_AS(o.value(), "failed", std::runtime_error);
    const aio::outcome<int>& c = o;
    CHECK_THROWS_AS(c.value(), std::runtime_error);
    CHECK_THROWS_AS(std::move(o).value(), std::runtime_error);
}

TEST_CASE("outcome of a cancellation is cancelled") {
    aio::outcome<std::string> o(std::make_exception_ptr(aio::cancelled_error()));
    CHECK_FALSE(o.has_value());
    CHECK(o.cancelled());
    CHECK_THROWS_AS(o.value(), aio::cancelled_error);
    aio::outcome<std::string> aborted(std::make_exception_ptr(
        boost::system::system_error(boost::asio::error::operation_aborted)));
    CHECK(aborted.cancelled());
    CHECK_THROWS_AS(aborted.value(), boost::system::system_error);
}

TEST_CASE("outcome of a move only value gives it up from an rvalue") {
    aio::outcome<std::unique_ptr<int>> o(std::make_unique<int>(3));
    REQUIRE(o.has_value());
    std::unique_ptr<int> p = std::move(o).value();
    REQUIRE(p != nullptr);
    CHECK(*p == 3);
}

TEST_CASE("outcome of void results holds std::monostate") {
    aio::outcome<aio::result_t<void>> o(std::monostate{});
    CHECK(o.has_value());
    CHECK(o.exception() == nullptr);
    CHECK_FALSE(o.cancelled());
}

// aio/http/boost_sources.hpp - the compiled parts of Boost.JSON and Boost.URL, which aio::http
// uses for JSON bodies and URLs. Those two libraries are not header-only: include this header
// in exactly one .cpp file of a program that uses aio::http (a second one gives duplicate
// symbols at link time, none gives undefined ones). A program that links Boost's built
// json and url libraries instead (Boost::json, Boost::url) must not include it.
#pragma once

#include <boost/json/src.hpp>
#include <boost/url/src.hpp>

// Boost.JSON's and Boost.URL's compiled parts, once for the HTTP tests.
#include <aio/http/boost_sources.hpp>

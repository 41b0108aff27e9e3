// aio/http/client.hpp - aio::http's client: client_session, client_response,
// client_websocket, their options and errors (aiohttp's ClientSession side). Not part of
// <aio/aio.hpp>: a program that uses it includes <aio/http/boost_sources.hpp> in exactly one .cpp
// (Boost.JSON and Boost.URL are not header-only).
#pragma once

#include <aio/http/client_errors.hpp>
#include <aio/http/client_options.hpp>
#include <aio/http/client_response.hpp>
#include <aio/http/client_session.hpp>
#include <aio/http/client_websocket.hpp>

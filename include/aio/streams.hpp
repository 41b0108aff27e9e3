// aio/streams.hpp - asyncio's streams: open_connection, start_server, stream_reader,
// stream_writer, over Asio's TCP and Unix sockets. Not part of <aio/aio.hpp>: include this
// header where a file uses the streams.
#pragma once

#include <aio/net/open_connection.hpp>
#include <aio/net/server.hpp>
#include <aio/net/socket_address.hpp>
#include <aio/net/stream_reader.hpp>
#include <aio/net/stream_writer.hpp>

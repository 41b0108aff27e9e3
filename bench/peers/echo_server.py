#!/usr/bin/env python3
"""Python peer of aio's TCP echo server: asyncio streams, on the standard loop or on uvloop.

Run with a Python that has uvloop installed (uvloop is only needed for --uvloop):

    python3 echo_server.py PORT [--uvloop]

Listens on 127.0.0.1:PORT and sends every byte it receives straight back, closing a connection on
end of stream or on a connection error. Prints nothing; SIGINT or SIGTERM stops it cleanly.
Drive it with bench/echo_load.c.
"""
import asyncio
import signal
import sys

USAGE = "usage: echo_server.py PORT [--uvloop]"


async def echo(reader, writer, open_writers):
    open_writers.add(writer)
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            writer.write(chunk)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        open_writers.discard(writer)
        writer.close()
        # Collect the reset, if that is how the connection ended: left unretrieved, asyncio may
        # log it as "Future exception was never retrieved".
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass


async def serve(port):
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    open_writers = set()
    server = await asyncio.start_server(
        lambda reader, writer: echo(reader, writer, open_writers), "127.0.0.1", port
    )
    await stop.wait()
    # Close the live connections too: newer Pythons' Server.wait_closed() waits for them.
    server.close()
    for writer in list(open_writers):
        writer.close()
    await server.wait_closed()


def main(args):
    use_uvloop = "--uvloop" in args
    args = [a for a in args if a != "--uvloop"]
    port = int(args[0]) if len(args) == 1 and args[0].isdigit() else 0
    if not 1 <= port <= 65535:
        print(USAGE, file=sys.stderr)
        return 2
    if use_uvloop:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(serve(port))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Python peer of aio's HTTP hello-world server: aiohttp, on the standard loop or on uvloop.

Run with a Python that has aiohttp (and, for --uvloop, uvloop) installed:

    python3 hello_server.py PORT [--uvloop]
    wrk -t1 -c64 -d10s http://127.0.0.1:PORT/

Listens on 127.0.0.1:PORT and answers GET / with "Hello, world" as text/plain. No access log and
no start-up banner; SIGINT or SIGTERM stops it cleanly.
"""
import asyncio
import sys

from aiohttp import web

USAGE = "usage: hello_server.py PORT [--uvloop]"


async def hello(request):
    return web.Response(text="Hello, world")


def main(args):
    use_uvloop = "--uvloop" in args
    args = [a for a in args if a != "--uvloop"]
    port = int(args[0]) if len(args) == 1 and args[0].isdigit() else 0
    if not 1 <= port <= 65535:
        print(USAGE, file=sys.stderr)
        return 2
    if use_uvloop:
        import uvloop

        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    app = web.Application()
    app.router.add_get("/", hello)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, loop=loop)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

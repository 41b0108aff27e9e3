#!/usr/bin/env python3
"""aio::http's client against a real peer: an aiohttp server.

    python3 aiohttp_peer.py PATH_TO_aio_http_tests
    python3 aiohttp_peer.py PATH_TO_aio_https_tests CERTS_DIR

Starts an aiohttp server on a free port of 127.0.0.1, then runs the test cases of
tests/http/aiohttp_peer.cpp ("aiohttp peer: ...") with AIO_HTTP_PEER_URL set to it, and exits
with their status. With CERTS_DIR (tests/make_test_certs.sh's), the server is https with
CERTS_DIR/server.pem, and the cases run are tests/http/https.cpp's "aiohttp peer https: ...".
Exits 77 (ctest's skip) when aiohttp is not installed.
"""
import asyncio
import os
import ssl
import sys

try:
    from aiohttp import web
except ImportError:
    print("aiohttp_peer.py: aiohttp is not installed: skipped", file=sys.stderr)
    sys.exit(77)


def make_app():
    transports = set()
    app = web.Application()

    async def hello(request):
        transports.add(id(request.transport))
        return web.Response(text="Hello, world")

    async def connections(request):
        transports.add(id(request.transport))
        return web.Response(text=str(len(transports)))

    async def echo_json(request):
        return web.json_response({"got": await request.json(), "method": request.method})

    async def redirect(request):
        n = int(request.match_info["n"])
        if n == 0:
            return web.Response(text="done")
        raise web.HTTPFound(f"/redirect/{n - 1}")

    async def see_other(request):
        raise web.HTTPSeeOther("/method")

    async def method(request):
        body = await request.read()
        return web.Response(text=f"{request.method} {len(body)}")

    async def chunked(request):
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for i in range(3):
            await resp.write(f"chunk{i};".encode())
        await resp.write_eof()
        return resp

    async def slow(request):
        await asyncio.sleep(3600)
        return web.Response(text="late")

    async def status(request):
        return web.Response(status=int(request.match_info["code"]), text="status")

    async def ws_echo(request):
        # autoping off: a ping is answered by hand and announced with a text message.
        ws = web.WebSocketResponse(autoping=False, max_msg_size=1024)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == web.WSMsgType.PING:
                await ws.pong(msg.data)
                await ws.send_str("ping " + msg.data.decode())
            elif msg.type == web.WSMsgType.TEXT and msg.data.startswith("close:"):
                await ws.close(code=int(msg.data[6:]), message=b"asked")
            elif msg.type == web.WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type == web.WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        return ws

    app.router.add_get("/hello", hello)
    app.router.add_get("/ws", ws_echo)
    app.router.add_get("/connections", connections)
    app.router.add_post("/json", echo_json)
    app.router.add_get("/redirect/{n}", redirect)
    app.router.add_post("/see-other", see_other)
    app.router.add_route("*", "/method", method)
    app.router.add_get("/chunked", chunked)
    app.router.add_get("/slow", slow)
    app.router.add_get("/status/{code}", status)
    return app


async def main(tests, certs=None):
    runner = web.AppRunner(make_app(), access_log=None)
    await runner.setup()
    context = None
    if certs:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(os.path.join(certs, "server.pem"), os.path.join(certs, "server.key"))
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    scheme, cases = ("https", "aiohttp peer https:*") if certs else ("http", "aiohttp peer:*")
    env = dict(os.environ, AIO_HTTP_PEER_URL=f"{scheme}://127.0.0.1:{port}")
    proc = await asyncio.create_subprocess_exec(
        tests, "--no-skip", f"--test-case={cases}", env=env
    )
    code = await proc.wait()
    await runner.cleanup()
    return code


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(asyncio.run(main(*sys.argv[1:])))

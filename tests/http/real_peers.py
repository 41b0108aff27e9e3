"""Checks an aio::http server against real HTTP clients: curl and aiohttp's ClientSession.

    real_peers.py peers PEER_SERVER     tests/http/peer_server: routes, keep-alive, 404, 405,
                                        413, 400, 500, a chunked upload, JSON
    real_peers.py example HTTP_HELLO    examples/http_hello: /, /{name}, five requests at once,
                                        SIGTERM -> exit 0
    real_peers.py https HTTPS_PEER_SERVER CERTS_DIR
                                        tests/http/aio_https_peer_server with the certificates
                                        of tests/make_test_certs.sh: curl --cacert, aiohttp's
                                        client and asyncio.open_connection(ssl=...); a plain
                                        client is closed and the server goes on
    real_peers.py ws_chat WS_CHAT       examples/ws_chat: the page, three aiohttp WebSocket
                                        clients chatting, SIGTERM -> the open WebSocket is
                                        closed with 1001 (going away) and the server exits 0

The server is started on a free port (read from run_app's banner) and stopped with SIGTERM; it
must exit 0. Exits 77 (skipped) when curl or aiohttp is missing.
"""
import asyncio
import re
import shutil
import os
import signal
import socket
import ssl
import subprocess
import sys

try:
    import aiohttp
except ImportError:
    aiohttp = None

SKIP = 77


def start(argv):
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    match = re.search(r"(https?)://([^:]+):(\d+)", line)
    if not match:
        proc.kill()
        raise SystemExit(f"no banner from {argv[0]}: {line!r}")
    return proc, f"{match.group(1)}://{match.group(2)}:{match.group(3)}", int(match.group(3))


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=30)
    assert code == 0, f"the server exited with {code} after SIGTERM"


def curl(*args, data=None):
    """curl's output; `data` is sent as the body (POST), from stdin."""
    if data is not None:
        args = (*args, "--data-binary", "@-")
    out = subprocess.run(["curl", "-s", "-S", "--max-time", "20", *args], input=data,
                         capture_output=True, text=True, check=True)
    return out.stdout


def status_and_body(url, *args, data=None):
    text = curl("-w", "\n%{http_code}", *args, url, data=data)
    body, _, code = text.rpartition("\n")
    return int(code), body


def raw_exchange(port, data):
    """Sends raw bytes, returns everything the server sends until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(data)
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def check_peers(binary):
    proc, base, port = start([binary])
    try:
        # curl: routes, errors, uploads.
        assert status_and_body(base + "/") == (200, "root")
        assert status_and_body(base + "/hello/curl") == (200, "Hello, curl")
        assert status_and_body(base + "/nowhere")[0] == 404
        headers = curl("-i", "-X", "DELETE", base + "/hello/x")
        assert headers.startswith("HTTP/1.1 405"), headers
        assert re.search(r"(?im)^allow: GET, HEAD\r?$", headers), headers
        assert status_and_body(base + "/fail")[0] == 500
        big = "x" * (1024 * 1024 + 1)
        assert status_and_body(base + "/echo", data=big)[0] == 413
        upload = "chunked upload " * 1000
        code, body = status_and_body(base + "/echo", "-H", "Transfer-Encoding: chunked",
                                     data=upload)
        assert (code, body) == (200, upload), (code, len(body))
        code, body = status_and_body(base + "/json", "-H", "Content-Type: application/json",
                                     data='{"a": [1, 2]}')
        assert (code, body) == (200, '{"got":{"a":[1,2]}}'), (code, body)
        # curl reuses one connection for several URLs (keep-alive).
        verbose = subprocess.run(["curl", "-s", "-v", base + "/", base + "/hello/again"],
                                 capture_output=True, text=True, check=True)
        assert verbose.stdout == "rootHello, again", verbose.stdout
        assert "Re-using existing connection" in verbose.stderr, verbose.stderr
        # Garbage: 400, then the connection closes.
        answer = raw_exchange(port, b"THIS IS NOT HTTP\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 400"), answer
        # aiohttp's client.
        asyncio.run(aiohttp_client(base))
    finally:
        stop(proc)


async def aiohttp_client(base):
    # The server answers the oversized upload with 413 and closes before the client has sent
    # it all: the client's writer then fails with a broken pipe that nobody awaits.
    def quiet_broken_pipe(loop, context):
        if not isinstance(context.get("exception"), aiohttp.ClientOSError):
            loop.default_exception_handler(context)

    asyncio.get_running_loop().set_exception_handler(quiet_broken_pipe)
    async with aiohttp.ClientSession() as session:
        for _ in range(3):  # one pooled connection, kept alive
            async with session.get(base + "/hello/aiohttp") as resp:
                assert resp.status == 200
                assert await resp.text() == "Hello, aiohttp"
        async with session.post(base + "/echo", data=b"posted") as resp:
            assert await resp.read() == b"posted"

        async def chunks():
            for i in range(5):
                yield f"piece {i};".encode()

        async with session.post(base + "/echo", data=chunks()) as resp:
            assert resp.status == 200
            assert await resp.text() == "".join(f"piece {i};" for i in range(5))
        async with session.post(base + "/json", json={"k": "v"}) as resp:
            assert await resp.json() == {"got": {"k": "v"}}
        async with session.get(base + "/fail") as resp:
            assert resp.status == 500
        async with session.put(base + "/") as resp:
            assert resp.status == 405
        async with session.post(base + "/echo", data=b"y" * (1024 * 1024 + 1)) as resp:
            assert resp.status == 413
        await aiohttp_websocket(session, base)


async def aiohttp_websocket(session, base):
    # Echo, ping/pong (autoping off: the server's pong comes to the client), the server's
    # close with a code, the client's close, an oversized message (1009), a plain GET (400).
    async with session.ws_connect(base + "/ws", autoping=False) as ws:
        await ws.send_str("hello")
        assert (await ws.receive_str()) == "hello"
        await ws.send_bytes(b"\x00\xff")
        assert (await ws.receive_bytes()) == b"\x00\xff"
        await ws.ping(b"p1")
        msg = await ws.receive()
        assert msg.type == aiohttp.WSMsgType.PONG and msg.data == b"p1", msg
        for i in range(50):
            await ws.send_str(f"m{i}")
        for i in range(50):
            assert (await ws.receive_str()) == f"m{i}"
        await ws.send_str("close")
        msg = await ws.receive()
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4000, msg
        assert msg.extra == "as asked", msg
    async with session.ws_connect(base + "/ws") as ws:
        await ws.send_str("x")
        assert (await ws.receive_str()) == "x"
        await ws.close(code=4001)
        assert ws.close_code == 4001, ws.close_code
    async with session.ws_connect(base + "/ws") as ws:
        await ws.send_str("y" * 1025)
        msg = await ws.receive()
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1009, msg
    async with session.get(base + "/ws") as resp:
        assert resp.status == 400


def check_example(binary):
    proc, base, _ = start([binary, "--serve", "--port", "0"])
    try:
        assert status_and_body(base + "/") == (200, "Hello, world")
        assert status_and_body(base + "/alice") == (200, "Hello, alice")
        assert status_and_body(base + "/no/such/page")[0] == 404

        async def five():
            async with aiohttp.ClientSession() as session:
                async def fetch(path):
                    async with session.get(base + path) as resp:
                        return resp.status, await resp.text()
                return await asyncio.gather(*(fetch(p) for p in ["/", "/bob", "/carol"]))

        assert asyncio.run(five()) == [(200, "Hello, world"), (200, "Hello, bob"),
                                       (200, "Hello, carol")]
    finally:
        stop(proc)


def check_https(binary, certs):
    ca = os.path.join(certs, "ca.pem")
    proc, _, port = start([binary, os.path.join(certs, "server.pem"),
                           os.path.join(certs, "server.key")])
    base = f"https://localhost:{port}"
    try:
        assert status_and_body(base + "/hello/curl", "--cacert", ca) == (200, "Hello, curl")
        assert status_and_body(base + "/echo", "--cacert", ca, data="x" * 100000) == \
            (200, "x" * 100000)
        # Without the test CA, curl refuses the certificate (exit 60).
        refused = subprocess.run(["curl", "-s", "--max-time", "20", base + "/"],
                                 capture_output=True)
        assert refused.returncode == 60, refused.returncode
        # A client speaking plain HTTP to the https port is closed; the server goes on.
        try:
            answer = raw_exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert b"HTTP/1.1" not in answer, answer  # a TLS alert at most
        except ConnectionResetError:
            pass
        assert status_and_body(base + "/", "--cacert", ca) == (200, "root")

        context = ssl.create_default_context(cafile=ca)

        async def clients():
            async with aiohttp.ClientSession() as session:
                for _ in range(3):
                    async with session.get(base + "/hello/aiohttp", ssl=context) as resp:
                        assert resp.status == 200
                        assert await resp.text() == "Hello, aiohttp"
                big = b"y" * (512 * 1024)
                async with session.post(base + "/echo", data=big, ssl=context) as resp:
                    assert await resp.read() == big
            reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context,
                                                           server_hostname="localhost")
            writer.write(b"GET /hello/asyncio HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = await reader.read()
            assert answer.startswith(b"HTTP/1.1 200"), answer
            assert answer.endswith(b"Hello, asyncio"), answer
            writer.close()

        asyncio.run(clients())
    finally:
        stop(proc)


def check_ws_chat(binary):
    proc, base, _ = start([binary, "--serve", "--port", "0"])
    try:
        code, page = status_and_body(base + "/")
        assert code == 200 and "new WebSocket(" in page, (code, page)

        async def chat():
            lines = ["one", "two", "three"]
            async with aiohttp.ClientSession() as session:
                sockets = [await session.ws_connect(base + "/ws") for _ in lines]
                for ws in sockets:
                    assert (await ws.receive_str()) == "welcome"
                for ws, line in zip(sockets, lines):
                    await ws.send_str(line)
                for ws in sockets:
                    got = sorted([await ws.receive_str() for _ in lines])
                    assert got == sorted(lines), got
                for ws in sockets[1:]:
                    await ws.close()
                # The server's shutdown closes the WebSocket still open with 1001.
                proc.send_signal(signal.SIGTERM)
                msg = await sockets[0].receive()
                assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1001, msg
                await sockets[0].close()

        asyncio.run(chat())
        code = proc.wait(timeout=30)
        assert code == 0, f"the server exited with {code} after SIGTERM"
    finally:
        if proc.poll() is None:
            proc.kill()


def main():
    modes = {"peers": (check_peers, 3), "example": (check_example, 3),
             "ws_chat": (check_ws_chat, 3), "https": (check_https, 4)}
    if len(sys.argv) < 2 or sys.argv[1] not in modes or modes[sys.argv[1]][1] != len(sys.argv):
        raise SystemExit(__doc__)
    if shutil.which("curl") is None or aiohttp is None:
        print("skipped: needs curl and aiohttp")
        return SKIP
    modes[sys.argv[1]][0](*sys.argv[2:])
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Python peer of bench/aio_http_client.cpp: aiohttp's ClientSession, on the standard loop or
on uvloop. CONCURRENCY tasks (64) each GET / and read the body, over and over, for SECONDS,
through one session (its TCPConnector's pool, keep-alive, limit 100).

    python3 http_client.py PORT [SECONDS] [CONCURRENCY] [--uvloop]

Prints one line: http_client impl=aiohttp requests=N errors=E seconds=S rate=R peak_rss_kb=K
(impl=aiohttp-uvloop with --uvloop).
"""
import asyncio
import resource
import sys
import time

import aiohttp

USAGE = "usage: http_client.py PORT [SECONDS] [CONCURRENCY] [--uvloop]"


async def worker(session, url, end, totals):
    while time.monotonic() < end:
        try:
            async with session.get(url) as resp:
                body = await resp.read()
                if resp.status == 200 and body == b"Hello, world":
                    totals["requests"] += 1
                else:
                    totals["errors"] += 1
        except aiohttp.ClientError as e:
            totals["errors"] += 1
            if totals["errors"] == 1:
                print(f"http_client.py: {e!r}", file=sys.stderr)


async def bench(port, seconds, concurrency):
    url = f"http://127.0.0.1:{port}/"
    totals = {"requests": 0, "errors": 0}
    async with aiohttp.ClientSession() as session:
        start = time.monotonic()
        end = start + seconds
        await asyncio.gather(*(worker(session, url, end, totals) for _ in range(concurrency)))
        elapsed = time.monotonic() - start
    return totals, elapsed


def main(args):
    use_uvloop = "--uvloop" in args
    args = [a for a in args if a != "--uvloop"]
    try:
        port = int(args[0])
        seconds = float(args[1]) if len(args) > 1 else 5.0
        concurrency = int(args[2]) if len(args) > 2 else 64
    except (IndexError, ValueError):
        print(USAGE, file=sys.stderr)
        return 2
    if use_uvloop:
        import uvloop

        uvloop.install()
    totals, elapsed = asyncio.run(bench(port, seconds, concurrency))
    impl = "aiohttp-uvloop" if use_uvloop else "aiohttp"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"http_client impl={impl} requests={totals['requests']} errors={totals['errors']} "
        f"seconds={elapsed:.2f} rate={totals['requests'] / elapsed:.0f} peak_rss_kb={rss}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

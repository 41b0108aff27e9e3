# The asyncio original of http_hello.cpp (the book's aiohttp hello world, chapter 4): a server
# whose handler answers after a 0.2 s sleep, and a client session that fetches five URLs from it
# at once with gather, then prints each status and text and whether the five together took
# less than two handlers' worth of time.
import asyncio
import time

from aiohttp import ClientSession, web

PORT = 18090
PATHS = ['/', '/alice', '/bob', '/carol', '/no/such/page']


async def hello(request):
    name = request.match_info.get('name', 'world')
    await asyncio.sleep(0.2)
    return web.Response(text=f'Hello, {name}')


async def fetch(session, url):
    async with session.get(url) as response:
        return response.status, await response.text()


async def fetch_all(port):
    async with ClientSession() as session:
        started = time.monotonic()
        results = await asyncio.gather(
            *(fetch(session, f'http://127.0.0.1:{port}{path}') for path in PATHS))
        elapsed = time.monotonic() - started
    for path, (status, text) in zip(PATHS, results):
        print(f'{path}: {status} {text}')
    print(f'5 requests concurrently in under 0.4 s: {elapsed < 0.4}')


async def main(port=PORT):
    app = web.Application()
    app.router.add_get('/', hello)
    app.router.add_get('/{name}', hello)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, '127.0.0.1', port).start()
    try:
        await fetch_all(port)
    finally:
        await runner.cleanup()


asyncio.run(main())

# The asyncio original of news_scraper.cpp: the book's news scraper (chapter 4) without the
# network. /news fetches the front pages of several news sites at once with gather, takes the
# headlines out of each, and serves them as one page; a site that answers with an error shows as
# unavailable instead of failing the page. The sites are served by the same program, under
# /sites/NAME, so that it runs anywhere; the program asks for /news once and prints its boxes.
import asyncio
import re

from aiohttp import ClientResponseError, ClientSession, web

PORT = 18091
BASE = f'http://127.0.0.1:{PORT}'
# The sites /news reads, and the headlines on each one's front page (a site without headlines
# here answers 503).
SITES = ['daily', 'herald', 'courier']
FRONT_PAGES = {
    'daily': ['Harbour bridge reopens after repairs', 'Local team wins the cup'],
    'herald': ['Rain expected all week', 'Library opens a night reading room', 'Markets calm'],
}
HEADLINE = re.compile(r'<a href="([^"]+)"><span class="headline">([^<]+)</span></a>')
BOX = re.compile(r'<div class="box ([a-z]+)">(.*?)</div>')


async def front_page(request):
    name = request.match_info['site']
    if name not in FRONT_PAGES:
        raise web.HTTPServiceUnavailable()
    links = ''
    for number, title in enumerate(FRONT_PAGES[name], 1):
        links += f'<li><a href="/{name}/{number}.html"><span class="headline">{title}</span></a></li>'
    return web.Response(text=f'<html><body><ul>{links}</ul></body></html>',
                        content_type='text/html')


async def headlines(session, name):
    async with session.get(f'{BASE}/sites/{name}') as resp:
        resp.raise_for_status()
        page = await resp.text()
    return [(BASE + href, title) for href, title in HEADLINE.findall(page)]


async def news(request):
    async with ClientSession() as session:
        found = await asyncio.gather(*(headlines(session, name) for name in SITES),
                                     return_exceptions=True)
    boxes = ''
    for name, result in zip(SITES, found):
        if isinstance(result, ClientResponseError):
            boxes += f'<div class="box {name}">unavailable ({result.status})</div>'
            continue
        if isinstance(result, BaseException):
            raise result
        for url, title in result:
            boxes += f'<div class="box {name}"><a href="{url}">{title}</a></div>'
    return web.Response(text=f'<html><body>{boxes}</body></html>', content_type='text/html')


async def show_news():
    async with ClientSession() as session:
        async with session.get(f'{BASE}/news') as resp:
            page = await resp.text()
            print(f'/news: {resp.status} {resp.content_type}')
    for name, box in BOX.findall(page):
        print(f'[{name}] {box}')


async def main():
    app = web.Application()
    app.router.add_get('/news', news)
    app.router.add_get('/sites/{site}', front_page)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, '127.0.0.1', PORT).start()
    try:
        await show_news()
    finally:
        await runner.cleanup()


asyncio.run(main())

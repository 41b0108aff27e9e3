"""The book's straightforward message broker in Python asyncio: a test fixture that aio's mq
clients are run against. --host, --port (0 picks a free one; the first line says which)."""
import argparse
import asyncio
from collections import defaultdict, deque

from msgproto import read_msg, send_msg

SUBSCRIBERS = defaultdict(deque)


async def client(reader, writer):
    peername = writer.get_extra_info('peername')
    subscribe_chan = None
    try:
        subscribe_chan = await read_msg(reader)
        SUBSCRIBERS[subscribe_chan].append(writer)
        print(f'Remote {peername} subscribed to {subscribe_chan}', flush=True)
        while channel_name := await read_msg(reader):
            data = await read_msg(reader)
            conns = SUBSCRIBERS[channel_name]
            if conns and channel_name.startswith(b'/queue'):
                conns.rotate()
                conns = [conns[0]]
            await asyncio.gather(*[send_msg(c, data) for c in conns], return_exceptions=True)
    except asyncio.IncompleteReadError:
        print(f'Remote {peername} disconnected', flush=True)
    finally:
        print(f'Remote {peername} closed', flush=True)
        if subscribe_chan is not None:
            SUBSCRIBERS[subscribe_chan].remove(writer)
        writer.close()


async def main(host, port):
    server = await asyncio.start_server(client, host, port)
    print(f'Serving on port {server.sockets[0].getsockname()[1]}', flush=True)
    async with server:
        await server.serve_forever()


if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', default=25000, type=int)
    args = parser.parse_args()
    try:
        asyncio.run(main(args.host, args.port))
    except KeyboardInterrupt:
        print('Bye!')

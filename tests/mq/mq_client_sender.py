"""The book's sending client in Python asyncio: sends `Msg <i> from <name>` (or --size bytes) to
--channel every --interval seconds; with --count N it ends its session after N. A test fixture."""
import argparse
import asyncio
import itertools

from msgproto import send_msg


async def main(args):
    reader, writer = await asyncio.open_connection(args.host, args.port)
    await send_msg(writer, b'/null')
    chan = args.channel.encode()
    for i in itertools.count():
        if args.count and i == args.count:
            break
        if args.interval:
            await asyncio.sleep(args.interval)
        data = b'X' * args.size or f'Msg {i} from {args.name}'.encode()
        await send_msg(writer, chan)
        await send_msg(writer, data)
    await send_msg(writer, b'')
    writer.close()
    await writer.wait_closed()
    print(f'Sent {args.count}', flush=True)


if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', default=25000, type=int)
    parser.add_argument('--channel', default='/topic/foo')
    parser.add_argument('--interval', default=1.0, type=float)
    parser.add_argument('--size', default=0, type=int)
    parser.add_argument('--count', default=0, type=int)
    parser.add_argument('--name', default='py')
    asyncio.run(main(parser.parse_args()))

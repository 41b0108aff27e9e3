"""The book's listening client in Python asyncio: subscribes to --listen and prints each message
(`Received: <payload>`); with --count N it leaves after N messages. A test fixture."""
import argparse
import asyncio

from msgproto import read_msg, send_msg


async def main(args):
    reader, writer = await asyncio.open_connection(args.host, args.port)
    await send_msg(writer, args.listen.encode())
    print('Subscribed', flush=True)
    received = 0
    try:
        while args.count == 0 or received < args.count:
            data = await read_msg(reader)
            received += 1
            print(f'Received: {data.decode(errors="replace")}', flush=True)
        await send_msg(writer, b'')
    except asyncio.IncompleteReadError:
        print('Server closed.', flush=True)
    finally:
        writer.close()
        await writer.wait_closed()


if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', default=25000, type=int)
    parser.add_argument('--listen', default='/topic/foo')
    parser.add_argument('--count', default=0, type=int)
    asyncio.run(main(parser.parse_args()))

"""The message queue's wire protocol in Python asyncio (the book's msgproto.py): a frame is a
4-byte unsigned big-endian length, then that many bytes. A test fixture for aio's mq examples."""
import asyncio


async def read_msg(stream: asyncio.StreamReader) -> bytes:
    size = int.from_bytes(await stream.readexactly(4), byteorder='big')
    return await stream.readexactly(size)


async def send_msg(stream: asyncio.StreamWriter, data: bytes):
    stream.write(len(data).to_bytes(4, byteorder='big'))
    stream.write(data)
    await stream.drain()

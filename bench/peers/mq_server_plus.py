"""The improved message broker in Python asyncio (the book's mq_server_plus.py), written to the
same design as examples/mq_server_plus.cpp so that bench/mq_load measures the two side by side:
a send queue and a send task per client (it yields while its queue grows, then what is queued
goes out in one writelines and one drain), a bounded queue (10) and a sender task per channel
(a publisher's put goes in at once when there is room), payload frames passed on as they came,
a subscriber whose send queue reaches --max-backlog disconnected, no line per message.

    python3 mq_server_plus.py PORT [--uvloop]
"""
import asyncio
import sys
from collections import deque

MAX_BACKLOG = 10_000
MAX_BATCH = 1024  # the most frames a send task waits to gather


async def read_msg(reader):
    size = int.from_bytes(await reader.readexactly(4), 'big')
    return await reader.readexactly(size)


async def read_frame(reader):
    """The next frame whole, header included: a payload frame is passed on unchanged."""
    header = await reader.readexactly(4)
    return header + await reader.readexactly(int.from_bytes(header, 'big'))


class Client:
    def __init__(self, writer):
        self.writer = writer
        self.send_queue = asyncio.Queue(MAX_BACKLOG)
        self.dropped = False


class Channel:
    def __init__(self, name):
        self.name = name
        self.queue_mode = name.startswith(b'/queue')
        self.messages = asyncio.Queue(10)
        self.subscribers = deque()
        self.has_subscribers = asyncio.Event()


class Broker:
    def __init__(self):
        self.channels = {}
        self.tasks = set()

    def channel(self, name):
        ch = self.channels.get(name)
        if ch is None:
            ch = self.channels[name] = Channel(name)
            task = asyncio.create_task(self.chan_sender(ch))
            self.tasks.add(task)
        return ch

    async def client(self, reader, writer):
        me = Client(writer)
        subscribed = None
        send_task = None
        try:
            subscribed = self.channel(await read_msg(reader))
            subscribed.subscribers.append(me)
            subscribed.has_subscribers.set()
            send_task = asyncio.create_task(self.send_client(me))
            while channel_name := await read_msg(reader):
                payload_frame = await read_frame(reader)
                q = self.channel(channel_name).messages
                if q.full():
                    await q.put(payload_frame)
                else:
                    q.put_nowait(payload_frame)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            if subscribed is not None:
                self.unsubscribe(me, subscribed)
            await me.send_queue.put(None)
            if send_task is not None:
                await send_task
            writer.close()

    def unsubscribe(self, me, ch):
        if me in ch.subscribers:
            ch.subscribers.remove(me)
        if not ch.subscribers:
            ch.has_subscribers.clear()

    async def send_client(self, c):
        q = c.send_queue
        try:
            while (data := await q.get()) is not None:
                batch = [data]
                # While the queue grows, more is coming for this client in the same turn of
                # the loop: yield until it has not grown for two turns, then send it all at once.
                seen, unchanged = 0, 0
                while not q.empty() and q.qsize() < MAX_BATCH and unchanged < 2:
                    if q.qsize() > seen:
                        seen, unchanged = q.qsize(), 0
                    else:
                        unchanged += 1
                    await asyncio.sleep(0)
                while not q.empty():  # what came meanwhile goes out with it
                    data = q.get_nowait()
                    if data is None:
                        c.writer.writelines(batch)
                        return
                    batch.append(data)
                c.writer.writelines(batch)
                await c.writer.drain()
        except ConnectionError:
            pass

    async def chan_sender(self, ch):
        while True:
            f = await ch.messages.get()  # a payload frame, passed on as it came
            while not ch.subscribers:
                await ch.has_subscribers.wait()
            if ch.queue_mode:
                ch.subscribers.rotate()
                self.deliver(ch.subscribers[0], f)
            else:
                for c in list(ch.subscribers):
                    self.deliver(c, f)

    def deliver(self, c, f):
        if c.dropped:
            return
        if not c.send_queue.full():
            c.send_queue.put_nowait(f)
            return
        c.dropped = True
        for ch in self.channels.values():
            self.unsubscribe(c, ch)
        c.writer.transport.abort()


async def main(port):
    broker = Broker()
    server = await asyncio.start_server(broker.client, '127.0.0.1', port)
    async with server:
        await server.serve_forever()


if __name__ == '__main__':
    if len(sys.argv) < 2:
        sys.exit('usage: mq_server_plus.py PORT [--uvloop]')
    if '--uvloop' in sys.argv[2:]:
        import uvloop
        uvloop.install()
    try:
        asyncio.run(main(int(sys.argv[1])))
    except KeyboardInterrupt:
        pass

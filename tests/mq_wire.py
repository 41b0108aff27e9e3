"""Wire tests of the message queue examples (examples/mq_*.cpp) against each other and against
the Python asyncio fixtures in tests/mq/ (the book's msgproto, broker and clients).

Usage: python3 mq_wire.py MQ_SERVER MQ_SERVER_PLUS MQ_CLIENT_LISTEN MQ_CLIENT_SENDER [CASE...]
       python3 mq_wire.py BUILD_DIR [CASE...]       (the four programs are in BUILD_DIR)
       python3 mq_wire.py --list

Each case is named "<what>.<broker>", the broker one of py_broker (tests/mq/mq_server.py),
mq_server and mq_server_plus; with no CASE every case runs. A case starts its own broker on a
free port (--port 0) and fails with an AssertionError that says what was expected and shows the
broker's last lines. Nothing waits on a fixed sleep: the cases wait for the broker's lines
("Serving on", "subscribed to", "closed", the line about a bad client), for the messages
themselves and for EOF; GUARD seconds bound every wait, only to turn a hang into a failure.
Standard library only.
"""

import asyncio
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, 'mq')
sys.path.insert(0, FIXTURES)
from msgproto import read_msg, send_msg  # noqa: E402

GUARD = 60  # seconds; a failure guard, never a synchronisation
MAX_FRAME = 16 * 1024 * 1024
PROGRAMS = ('mq_server', 'mq_server_plus', 'mq_client_listen', 'mq_client_sender')
EXE = {}
RUNNING = []  # the processes a case started, killed after it if still there


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def frame(data):
    return struct.pack('>I', len(data)) + data


def default_sigint():
    # A process started in the background by a non-interactive shell has SIGINT ignored, a child
    # inherits that, and aio (as asyncio) leaves an ignored SIGINT alone: restore the default.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


async def guard(awaitable, what):
    try:
        return await asyncio.wait_for(awaitable, GUARD)
    except TimeoutError:
        raise AssertionError(f'no {what} within {GUARD} s') from None


class Process:
    """A child process in a session of its own, its output lines (stderr merged) collected."""

    def __init__(self, name, argv, env=None):
        self.name = name
        self.argv = argv
        self.env = env
        self.lines = []
        self.ended = False
        self.changed = asyncio.Condition()

    async def start(self):
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=default_sigint,
            env=self.env)
        RUNNING.append(self)
        self.collector = asyncio.create_task(self._collect())
        return self

    async def _collect(self):
        while line := await self.proc.stdout.readline():
            async with self.changed:
                self.lines.append(line.decode(errors='replace').rstrip('\n'))
                self.changed.notify_all()
        async with self.changed:
            self.ended = True
            self.changed.notify_all()

    def tail(self, n=30):
        return '\n    '.join([f'{self.name} printed ({len(self.lines)} lines), last:'] +
                               self.lines[-n:])

    async def wait_lines(self, pred, what, n=1):
        """The first n lines that match, waiting for them; each line is tested once."""
        found = []
        pos = 0

        def enough():
            nonlocal pos
            while pos < len(self.lines):
                if pred(self.lines[pos]):
                    found.append(self.lines[pos])
                pos += 1
            return len(found) >= n or self.ended

        async with self.changed:
            try:
                await asyncio.wait_for(self.changed.wait_for(enough), GUARD)
            except TimeoutError:
                pass
        enough()
        check(len(found) >= n, f'{self.name}: {n} x {what} expected, found {len(found)} '
                               f'(ended: {self.ended})\n    {self.tail()}')
        return found[:n]

    async def wait_exit(self):
        try:
            code = await asyncio.wait_for(self.proc.wait(), GUARD)
        except TimeoutError:
            raise AssertionError(f'{self.name} did not exit\n    {self.tail()}') from None
        await self.collector
        return code

    async def kill(self):
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()
        await self.collector


def names(port):
    """A regex matching a line that names the client whose port is `port`, as the aio brokers
    ("127.0.0.1:PORT") and the Python one ("('127.0.0.1', PORT)") name it."""
    return re.compile(rf"(?:127\.0\.0\.1:|'127\.0\.0\.1', ){port}(?!\d)")


class Broker(Process):
    def __init__(self, kind, *options, env=None):
        if kind == 'py_broker':
            argv = [sys.executable, os.path.join(FIXTURES, 'mq_server.py'), '--port', '0']
        else:
            argv = [EXE[kind], '--port', '0', *options]
        super().__init__(kind, argv, env)
        self.kind = kind

    async def start(self):
        await super().start()
        line, = await self.wait_lines(lambda l: l.startswith('Serving on'), '"Serving on"')
        self.port = int(re.search(r'(\d+)$', line).group(1))
        return self

    def about(self, port):
        return [l for l in self.lines if names(port).search(l)]

    async def subscribed(self, port):
        rx = names(port)
        await self.wait_lines(lambda l: rx.search(l) and ' subscribed to ' in l,
                              f'the subscription of port {port}')

    async def closed(self, port):
        rx = names(port)
        await self.wait_lines(lambda l: rx.search(l) and l.endswith(' closed'),
                              f'"closed" for port {port}')

    def rss_kib(self):
        with open(f'/proc/{self.proc.pid}/status') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
        raise AssertionError('no VmRSS')

    async def finish(self, signum=signal.SIGTERM):
        """Signals the broker; checks that it exits 0 after "Bye!" (the Python one is killed)."""
        if self.kind == 'py_broker':
            await self.kill()
            return
        check(self.proc.returncode is None, f'{self.name} ended early\n    {self.tail()}')
        self.proc.send_signal(signum)
        code = await self.wait_exit()
        check(code == 0 and self.lines and self.lines[-1] == 'Bye!',
              f'{self.name}: exit {code} after {signal.Signals(signum).name}, "Bye!" last '
              f'expected\n    {self.tail()}')
        reports = [l for l in self.lines if l.startswith('aio:') or 'mq_server' in l]
        check(not reports, f'{self.name} reported errors: {reports}')


class Client:
    """An in-test client (the book's protocol through msgproto)."""

    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer
        self.port = writer.get_extra_info('sockname')[1]

    @classmethod
    async def connect(cls, broker, channel=None):
        """Connects; subscribes to `channel` (if given) and waits until the broker says so."""
        reader, writer = await asyncio.open_connection('127.0.0.1', broker.port)
        c = cls(reader, writer)
        if channel is not None:
            await send_msg(writer, channel.encode())
            await broker.subscribed(c.port)
        return c

    async def publish(self, channel, data):
        await send_msg(self.writer, channel.encode())
        await send_msg(self.writer, data)

    async def read(self):
        return await read_msg(self.reader)

    async def read_to_eof(self, into=None, cut_off_ok=False):
        """Every message until the broker closes; fails on a frame cut off unless cut_off_ok."""
        got = [] if into is None else into
        try:
            while True:
                got.append(await read_msg(self.reader))
        except asyncio.IncompleteReadError as e:
            check(cut_off_ok or not e.partial, f'client {self.port}: a frame cut off at EOF')
        return got

    async def eof(self):
        """Waits for the broker to close; True for EOF, False for a reset."""
        try:
            rest = await self.reader.read()
        except ConnectionResetError:
            return False
        check(rest == b'', f'client {self.port}: unexpected bytes before EOF: {rest[:40]!r}')
        return True

    def close(self):
        self.writer.close()


async def pair_works(broker, tag):
    """A fresh subscriber and publisher: 10 messages go through."""
    sub = await Client.connect(broker, f'/topic/fresh-{tag}')
    pub = await Client.connect(broker, '/null')
    for i in range(10):
        await pub.publish(f'/topic/fresh-{tag}', f'fresh {i}'.encode())
    got = [await guard(sub.read(), f'fresh message {i}') for i in range(10)]
    check(got == [f'fresh {i}'.encode() for i in range(10)], f'fresh pair got {got}')
    await send_msg(pub.writer, b'')
    await send_msg(sub.writer, b'')
    for c in (pub, sub):
        check(await guard(c.eof(), 'EOF after the end of a session'), 'reset, EOF expected')
        c.close()


def per_sender(messages, what):
    """{sender: [i, ...]} from b'<sender> <i>' or b'Msg <i> from <sender>' messages."""
    out = {}
    for m in messages:
        words = m.split()
        if words[0] == b'Msg':
            sender, i = words[3].decode(), int(words[1])
        else:
            sender, i = words[0].decode(), int(words[1])
        out.setdefault(sender, []).append(i)
    return out


# --- cases -------------------------------------------------------------------------------------

CASES = {}


def case(*brokers):
    def register(fn):
        for b in brokers:
            CASES[f'{fn.__name__}.{b}'] = (fn, b)
        return fn
    return register


def python_client(script, *args):
    return [sys.executable, os.path.join(FIXTURES, script), *args]


@case('py_broker', 'mq_server', 'mq_server_plus')
async def matrix(kind):
    """aio and Python listeners, aio and Python senders, on one broker: every listener gets every
    message of both senders in order; then 100 kB frames both ways."""
    broker = await Broker(kind).start()
    p = str(broker.port)
    n = 100
    listeners = [
        Process('aio listener', [EXE['mq_client_listen'], '--port', p, '--listen', '/topic/wire',
                                 '--count', str(2 * n)]),
        Process('py listener', python_client('mq_client_listen.py', '--port', p, '--listen',
                                             '/topic/wire', '--count', str(2 * n)))]
    for lp in listeners:
        await lp.start()
    await broker.wait_lines(lambda l: ' subscribed to ' in l and '/topic/wire' in l,
                            'the listeners\' subscriptions', n=2)
    senders = [
        Process('aio sender', [EXE['mq_client_sender'], '--port', p, '--channel', '/topic/wire',
                               '--interval', '0', '--count', str(n)]),
        Process('py sender', python_client('mq_client_sender.py', '--port', p, '--channel',
                                           '/topic/wire', '--interval', '0', '--count', str(n),
                                           '--name', 'py'))]
    for sp in senders:
        await sp.start()
    for proc in senders + listeners:
        code = await proc.wait_exit()
        check(code == 0, f'{proc.name} exit {code}\n    {proc.tail()}')
    aio_id = senders[0].lines[0].split()[-1]  # "Starting up <id>"
    for sp in senders:
        check(sp.lines[-1] == f'Sent {n}', f'{sp.name}\n    {sp.tail()}')
    expected = {aio_id: list(range(n)), 'py': list(range(n))}
    aio_got = [l.split(': ', 1)[1].encode() for l in listeners[0].lines
               if l.startswith('Received by ')]
    py_got = [l.split(': ', 1)[1].encode() for l in listeners[1].lines
              if l.startswith('Received: ')]
    for name, got in (('aio listener', aio_got), ('py listener', py_got)):
        check(per_sender(got, name) == expected,
              f'{name} got {per_sender(got, name)}, expected {expected}')
    check(listeners[0].lines[-1] == 'Connection ended.', listeners[0].tail())

    # Big frames: an aio sender to an in-test subscriber, a Python sender to an aio listener.
    size = 100_000
    sub = await Client.connect(broker, '/topic/big')
    listen = await Process('aio listener', [EXE['mq_client_listen'], '--port', p,
                                            '--listen', '/topic/big2', '--count', '3']).start()
    await broker.wait_lines(lambda l: ' subscribed to ' in l and '/topic/big2' in l,
                            'the big listener\'s subscription')
    for sp in (Process('aio sender', [EXE['mq_client_sender'], '--port', p, '--channel',
                                      '/topic/big', '--interval', '0', '--count', '3',
                                      '--size', str(size)]),
               Process('py sender', python_client('mq_client_sender.py', '--port', p,
                                                  '--channel', '/topic/big2', '--interval', '0',
                                                  '--count', '3', '--size', str(size)))):
        await sp.start()
        check(await sp.wait_exit() == 0, sp.tail())
    for i in range(3):
        got = await guard(sub.read(), 'a big message')
        check(got == b'X' * size, f'big message {i}: {len(got)} bytes')
    check(await listen.wait_exit() == 0, listen.tail())
    check(sum(l.endswith(': ' + 'X' * 20) for l in listen.lines) == 3, listen.tail())
    sub.close()
    await broker.finish()
    return f'{n} + {n} messages to 2 listeners; 3 + 3 frames of {size} bytes'


@case('mq_server', 'mq_server_plus')
async def fanout(kind):
    """3 publishers x 4 subscribers x 2,000 messages on one channel: every subscriber gets every
    message exactly once, in each publisher's order (each publisher ends with a marker: a
    subscriber reads until it has all three)."""
    broker = await Broker(kind).start()
    pubs_n, subs_n, n = 3, 4, 2000
    subs = [await Client.connect(broker, '/topic/fan') for _ in range(subs_n)]
    pubs = [await Client.connect(broker, '/null') for _ in range(pubs_n)]

    async def publish(k, pub):
        for i in range(n):
            await pub.publish('/topic/fan', f'p{k} {i}'.encode())
        await pub.publish('/topic/fan', b'end')

    async def collect(sub):
        got = []
        ends = 0
        while ends < pubs_n:
            m = await sub.read()
            if m == b'end':
                ends += 1
            else:
                got.append(m)
        return got

    results = await guard(asyncio.gather(*(publish(k, pub) for k, pub in enumerate(pubs)),
                                         *(collect(s) for s in subs)), 'fan-out')
    expected = {f'p{k}': list(range(n)) for k in range(pubs_n)}
    for got in results[pubs_n:]:
        by = per_sender(got, 'subscriber')
        check(by == expected, 'a subscriber got ' + ', '.join(
            f'{s}: {len(v)} ({len(set(v))} distinct, in order: {v == sorted(v)})'
            for s, v in by.items()))
    for c in pubs + subs:
        await send_msg(c.writer, b'')
    for c in pubs + subs:
        check(await guard(c.eof(), 'EOF after a session ends'), 'reset, EOF expected')
        c.close()
    await broker.finish()
    return f'{pubs_n} x {subs_n} x {n}: each subscriber got {pubs_n * n}, in order'


@case('py_broker', 'mq_server', 'mq_server_plus')
async def round_robin(kind):
    """2,000 messages to a /queue channel with 4 subscribers: each message to exactly one, 500 +-
    1 each; then 4 end markers, one to each subscriber, show that nothing more was coming."""
    broker = await Broker(kind).start()
    subs_n, n = 4, 2000
    subs = [await Client.connect(broker, '/queue/rr') for _ in range(subs_n)]
    pub = await Client.connect(broker, '/null')

    async def publish():
        for i in range(n):
            await pub.publish('/queue/rr', str(i).encode())
        for _ in range(subs_n):
            await pub.publish('/queue/rr', b'end')

    async def collect(sub):
        got = []
        while (m := await sub.read()) != b'end':
            got.append(int(m))
        return got

    results = (await guard(asyncio.gather(publish(), *(collect(s) for s in subs)),
                           'every subscriber\'s end marker'))[1:]
    counts = [len(r) for r in results]
    everything = sorted(i for r in results for i in r)
    check(everything == list(range(n)), f'not each message exactly once: counts {counts}')
    check(all(abs(c - n // subs_n) <= 1 for c in counts), f'uneven: {counts}')
    check(all(r == sorted(r) for r in results), 'a subscriber got messages out of order')
    for c in subs + [pub]:
        c.close()
    await broker.finish()
    return f'{n} messages to {subs_n} subscribers: {counts}'


def paused_subscriber(broker, channel):
    """A subscriber that does not read: a plain socket with a small receive buffer."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(('127.0.0.1', broker.port))
    s.sendall(frame(channel.encode()))
    return s


async def resume(s):
    s.setblocking(False)
    return Client(*await asyncio.open_connection(sock=s))


async def slow_run(broker, readers_n, n, size, window):
    """Subscribers that read and one that does not; a publisher sends n messages of `size` bytes,
    never more than `window` ahead of the slowest reader. The readers' messages, the paused
    subscriber's socket."""
    readers = [await Client.connect(broker, '/topic/slow') for _ in range(readers_n)]
    paused = paused_subscriber(broker, '/topic/slow')
    await broker.subscribed(paused.getsockname()[1])
    pub = await Client.connect(broker, '/null')
    counts = [0] * readers_n
    progress = asyncio.Condition()

    async def publish():
        for i in range(n):
            if i - min(counts) > window:
                async with progress:
                    await progress.wait_for(lambda: i - min(counts) <= window)
            await pub.publish('/topic/slow', str(i).encode().ljust(size, b'.'))

    async def collect(k):
        got = []
        for _ in range(n):
            got.append(int((await readers[k].read()).split(b'.')[0]))
            async with progress:
                counts[k] += 1
                progress.notify_all()
        return got

    start = time.monotonic()
    results = await guard(asyncio.gather(publish(), *(collect(k) for k in range(readers_n))),
                          'every message at the readers')
    elapsed = time.monotonic() - start
    for got in results[1:]:
        check(got == list(range(n)), 'a reader did not get every message in order')
    return readers, paused, pub, elapsed


@case('mq_server_plus')
async def slow_subscriber(kind):
    """A subscriber that stops reading: the 3 others still get all 3,000 messages (4 KiB each);
    the stopped one, when it reads again, gets them all too (its queue, below --max-backlog)."""
    broker = await Broker(kind).start()
    n, size = 3000, 4096
    readers, paused, pub, elapsed = await slow_run(broker, 3, n, size, window=200)
    late = await resume(paused)
    got = [int((await guard(late.read(), 'the late reader\'s messages')).split(b'.')[0])
           for _ in range(n)]
    check(got == list(range(n)), 'the late reader did not get every message in order')
    check(not any('too slow' in l for l in broker.lines), broker.tail())
    for c in readers + [pub, late]:
        c.close()
    await broker.finish()
    return f'3 readers got {n} x {size} B in {elapsed:.2f} s with one stopped; it caught up'


@case('mq_server_plus')
async def slow_subscriber_dropped(kind):
    """A subscriber that stops reading, with --max-backlog 500: the 3 others get all 3,000
    messages; the stopped one is disconnected with one line naming it and, when it reads, finds
    messages in order then the end of the connection (maybe inside a frame: the broker drops
    what it had not sent)."""
    broker = await Broker(kind, '--max-backlog', '500').start()
    n, size = 3000, 4096
    readers, paused, pub, elapsed = await slow_run(broker, 3, n, size, window=200)
    port = paused.getsockname()[1]
    line, = await broker.wait_lines(lambda l: 'too slow' in l, 'the line about the slow one')
    check(names(port).search(line), f'the slow line names another client: {line}')
    late = await resume(paused)
    got = []
    try:
        await guard(late.read_to_eof(got, cut_off_ok=True), 'the end of the dropped connection')
    except ConnectionResetError:
        pass
    got = [int(m.split(b'.')[0]) for m in got]
    check(got == list(range(len(got))) and len(got) < n, f'dropped one got {len(got)} messages')
    await broker.closed(port)
    check(sum('too slow' in l for l in broker.lines) == 1, broker.tail())
    await pair_works(broker, 'after')
    for c in readers + [pub, late]:
        c.close()
    await broker.finish()
    return (f'3 readers got {n} x {size} B in {elapsed:.2f} s; the stopped one was dropped '
            f'after {len(got)}: "{line}"')


# Bad input: each attack comes from a client of its own while a subscriber that was there before
# keeps its connection; afterwards the broker must have printed exactly one line about the
# attacker (besides "subscribed to" and "closed"), and serve the old subscriber and a fresh pair.

async def attacked(broker, attack, expected):
    """Runs attack(port) -> client port after which the attacker is gone; checks the lines."""
    watcher = await Client.connect(broker, '/topic/watch')
    port = await attack(broker)
    await broker.closed(port)
    about = [l for l in broker.about(port)
             if ' subscribed to ' not in l and not l.endswith(' closed')]
    check(len(about) == 1 and re.search(expected, about[0]),
          f'one line matching {expected!r} about port {port} expected, got {about}')
    await pair_works(broker, f'after-{port}')
    pub = await Client.connect(broker, '/null')
    await pub.publish('/topic/watch', b'still there')
    got = await guard(watcher.read(), 'the watcher\'s message')
    check(got == b'still there', f'the watcher got {got[:40]!r} first')
    for c in (pub, watcher):
        c.close()
    return about[0]


async def raw(broker, data, linger_reset=False, shut=True, until_closed=True):
    """A client sending `data`, then EOF (or a reset); waits until the broker closes it."""
    reader, writer = await asyncio.open_connection('127.0.0.1', broker.port)
    port = writer.get_extra_info('sockname')[1]
    try:
        writer.write(data)
        await writer.drain()
        if linger_reset:
            sock = writer.get_extra_info('socket')
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            writer.transport.abort()
            return port
        if shut:
            writer.write_eof()
    except OSError:  # the broker refused the data already, and reset the connection
        pass
    if until_closed:
        try:
            await guard(reader.read(), 'the broker closing the connection')
        except ConnectionResetError:
            pass
    writer.close()
    return port


@case('mq_server', 'mq_server_plus')
async def bad_too_large(kind):
    """Frames declared above the maximum (16 MiB by default, --max-frame): as a subscription, as
    a payload; one of exactly the maximum passes. Then --max-frame 1024: 1025 is refused."""
    broker = await Broker(kind).start()
    lines = []

    async def as_subscription(b):
        return await raw(b, struct.pack('>I', MAX_FRAME + 1) + b'x' * 1000, shut=False)
    lines.append(await attacked(broker, as_subscription, r'16777217 bytes.*maximum of 16777216'))

    async def as_payload(b):
        return await raw(b, frame(b'/null') + frame(b'/topic/watch') +
                         struct.pack('>I', MAX_FRAME + 1) + b'x' * 1000, shut=False)
    lines.append(await attacked(broker, as_payload, r'16777217 bytes.*maximum of 16777216'))

    sub = await Client.connect(broker, '/topic/max')
    pub = await Client.connect(broker, '/null')
    await pub.publish('/topic/max', b'm' * MAX_FRAME)
    got = await guard(sub.read(), 'a frame of the maximum size')
    check(got == b'm' * MAX_FRAME, f'a frame of the maximum: {len(got)} bytes')
    for c in (sub, pub):
        c.close()
    await broker.finish()

    small = await Broker(kind, '--max-frame', '1024').start()
    sub = await Client.connect(small, '/topic/max')

    async def over_option(b):
        pub = await Client.connect(b, '/null')
        await pub.publish('/topic/max', b'a' * 1024)
        await pub.publish('/topic/max', b'b' * 1025)
        await guard(pub.eof(), 'the end of a client over --max-frame')  # EOF or a reset
        pub.close()
        return pub.port
    lines.append(await attacked(small, over_option, r'1025 bytes.*maximum of 1024'))
    got = await guard(sub.read(), 'the frame of 1024 bytes')
    check(got == b'a' * 1024, f'{len(got)} bytes')
    sub.close()
    await small.finish()
    return ' | '.join(lines)


@case('mq_server', 'mq_server_plus')
async def bad_truncated(kind):
    """Frames cut off by a disconnect: inside a payload, inside a length."""
    broker = await Broker(kind).start()
    lines = []

    async def in_payload(b):
        return await raw(b, frame(b'/null') + frame(b'/topic/watch') +
                         struct.pack('>I', 100) + b'y' * 50)
    lines.append(await attacked(broker, in_payload, r'disconnected inside a frame$'))

    async def in_length(b):
        return await raw(b, frame(b'/null') + b'\0\0')
    lines.append(await attacked(broker, in_length, r'disconnected inside a frame$'))
    await broker.finish()
    return ' | '.join(lines)


@case('mq_server', 'mq_server_plus')
async def bad_garbage(kind):
    """Random bytes (seeded): from the first byte, and after a valid subscription."""
    broker = await Broker(kind).start()
    rng = random.Random(20240615)
    expected = r'(disconnected( inside a frame)?|maximum of \d+; closing)$'
    lines = []
    for prefix in (b'', frame(b'/null')):
        garbage = prefix + rng.randbytes(4096)

        async def attack(b):
            return await raw(b, garbage)
        lines.append(await attacked(broker, attack, expected))
    await broker.finish()
    return ' | '.join(lines)


@case('mq_server', 'mq_server_plus')
async def bad_silent(kind):
    """A client that connects and sends nothing: the broker serves others meanwhile; mq_server_plus
    closes it after --hello-timeout (1 s here), mq_server when it leaves."""
    options = ['--hello-timeout', '1'] if kind == 'mq_server_plus' else []
    broker = await Broker(kind, *options).start()

    async def silent(b):
        c = await Client.connect(b)
        await pair_works(b, 'meanwhile')
        if kind == 'mq_server':
            c.writer.write_eof()
        check(await guard(c.eof(), 'the silent client\'s end'), 'reset, EOF expected')
        c.close()
        return c.port
    line = await attacked(broker, silent, r'sent no subscription in time; closing$'
                          if kind == 'mq_server_plus' else r'disconnected$')
    await broker.finish()
    return line


@case('mq_server', 'mq_server_plus')
async def bad_mid_pair(kind):
    """A client that leaves between a channel frame and its payload, by EOF and by a reset: its
    half message goes nowhere."""
    broker = await Broker(kind).start()
    lines = []

    async def by_eof(b):
        return await raw(b, frame(b'/null') + frame(b'/topic/watch'))
    lines.append(await attacked(broker, by_eof, r'disconnected$'))

    async def by_reset(b):
        # After the broker took the subscription: it names a client by asking the socket for
        # its peer, which a connection reset before the broker's first look leaves nameless.
        reader, writer = await asyncio.open_connection('127.0.0.1', b.port)
        port = writer.get_extra_info('sockname')[1]
        await send_msg(writer, b'/null')
        await b.subscribed(port)
        writer.write(frame(b'/topic/watch'))
        await writer.drain()
        sock = writer.get_extra_info('socket')
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        writer.transport.abort()
        return port
    lines.append(await attacked(broker, by_reset, r': Connection reset by peer$|disconnected$'))
    await broker.finish()
    return ' | '.join(lines)


async def churn_round(broker, n, concurrency=10):
    """n clients connecting and leaving, `concurrency` at a time, in four ways: at once, after a
    subscription (EOF), after a message and an orderly end, after a subscription by a reset.
    Waits until the broker printed "closed" for every one."""
    closed_before = sum(l.endswith(' closed') for l in broker.lines)
    watcher = await Client.connect(broker, '/topic/churn')
    seen = []

    async def one(i):
        reader, writer = await asyncio.open_connection('127.0.0.1', broker.port)
        way = i % 4
        if way == 1:
            writer.write(frame(f'/topic/churn{i % 8}'.encode()))
        elif way == 2:
            writer.write(frame(b'/null') + frame(b'/topic/churn') + frame(b'churn %d' % i) +
                         frame(b''))
            await writer.drain()
            check(await reader.read() == b'', 'EOF expected after an orderly end')
        elif way == 3:
            writer.write(frame(b'/topic/churn'))
            await writer.drain()
            sock = writer.get_extra_info('socket')
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            writer.transport.abort()
            return
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def worker(k):
        for i in range(k, n, concurrency):
            await one(i)

    async def watch():
        for _ in range(n // 4):
            seen.append(await watcher.read())

    await guard(asyncio.gather(watch(), *(worker(k) for k in range(concurrency))), 'churn')
    check(sorted(seen) == sorted(b'churn %d' % i for i in range(2, n, 4)),
          f'the watcher got {len(seen)} of {n // 4} messages')
    watcher.close()
    await broker.wait_lines(lambda l: l.endswith(' closed'), '"closed" for every client',
                            n=closed_before + n + 1)


@case('mq_server', 'mq_server_plus')
async def churn(kind):
    """1,000 clients connecting and leaving (after a warm-up round of 1,000): the broker's RSS
    does not grow beyond 25% + 2 MiB, and it still serves a fresh pair."""
    # Built with AddressSanitizer, the broker would keep what it frees in quarantine.
    asan = ':'.join(filter(None, [os.environ.get('ASAN_OPTIONS'), 'quarantine_size_mb=0',
                                  'thread_local_quarantine_size_kb=0']))
    broker = await Broker(kind, env=dict(os.environ, ASAN_OPTIONS=asan)).start()
    n = 1000
    await churn_round(broker, n)
    before = broker.rss_kib()
    start = time.monotonic()
    await churn_round(broker, n)
    elapsed = time.monotonic() - start
    after = broker.rss_kib()
    print(f'{kind}: RSS before churn {before} kB, after {after} kB ({n} clients, '
          f'{elapsed:.2f} s)', flush=True)
    check(after <= before * 1.25 + 2048, f'RSS grew from {before} kB to {after} kB')
    await pair_works(broker, 'after-churn')
    await broker.finish()
    return (f'RSS {before} kB -> {after} kB; the broker printed {len(broker.lines)} lines for '
            f'{2 * n} clients')


async def names_round(broker, first, n, concurrency=10):
    """n clients, each subscribing to a channel name no one used before, then leaving (EOF).
    Waits until the broker printed "closed" for every one."""
    closed_before = sum(l.endswith(' closed') for l in broker.lines)

    async def worker(k):
        for i in range(first + k, first + n, concurrency):
            reader, writer = await asyncio.open_connection('127.0.0.1', broker.port)
            writer.write(frame(f'/topic/name-{i}'.encode()))
            await writer.drain()
            writer.close()
            await writer.wait_closed()

    await guard(asyncio.gather(*(worker(k) for k in range(concurrency))), 'name churn')
    await broker.wait_lines(lambda l: l.endswith(' closed'), '"closed" for every client',
                            n=closed_before + n)


@case('mq_server', 'mq_server_plus')
async def churn_names(kind):
    """5,000 clients, each subscribing to a new channel name and leaving: a channel goes with its
    last subscriber, so the broker's RSS does not grow beyond 25% + 2 MiB (the book's brokers
    keep every name)."""
    asan = ':'.join(filter(None, [os.environ.get('ASAN_OPTIONS'), 'quarantine_size_mb=0',
                                  'thread_local_quarantine_size_kb=0']))
    broker = await Broker(kind, env=dict(os.environ, ASAN_OPTIONS=asan)).start()
    await names_round(broker, 0, 1000)
    before = broker.rss_kib()
    n = 5000
    await names_round(broker, 1000, n)
    after = broker.rss_kib()
    print(f'{kind}: RSS before {before} kB, after {n} new channel names {after} kB', flush=True)
    check(after <= before * 1.25 + 2048, f'RSS grew from {before} kB to {after} kB')
    await pair_works(broker, 'after-names')
    await broker.finish()
    return f'RSS {before} kB -> {after} kB over {n} new channel names'


async def shutdown(kind, signum):
    """Publishers and subscribers connected, one subscriber not reading, a publisher still
    sending: on the signal the broker stops accepting, delivers what it accepted to every
    subscriber, closes every client, prints "Bye!" and exits 0."""
    broker = await Broker(kind).start()
    # mq_server's publishers wait for the slowest subscriber: small messages, so that they all fit
    # in the stopped one's buffers. mq_server_plus holds its backlog in its own queue.
    n, size = (1000, 4096) if kind == 'mq_server_plus' else (500, 64)
    a = await Client.connect(broker, '/topic/down')
    c = await Client.connect(broker, '/queue/down')
    paused = paused_subscriber(broker, '/topic/down')
    await broker.subscribed(paused.getsockname()[1])
    p1, p2, p3 = [await Client.connect(broker, '/null') for _ in range(3)]
    a_got, c_got = [], []
    a_done = False
    progress = asyncio.Condition()

    def counts(got, sender):
        return sum(m.startswith(sender) for m in got)

    async def reading(client, got):
        try:
            while True:
                m = await read_msg(client.reader)
                async with progress:
                    got.append(m)
                    progress.notify_all()
        except asyncio.IncompleteReadError as e:
            check(not e.partial, 'a frame cut off at the end')

    async def reading_a():
        nonlocal a_done
        try:
            await reading(a, a_got)
        finally:
            async with progress:
                a_done = True
                progress.notify_all()

    readers = [asyncio.create_task(reading_a()), asyncio.create_task(reading(c, c_got))]
    for i in range(n):
        await p1.publish('/topic/down', f'p1 {i} '.encode().ljust(size, b'.'))
    for i in range(200):
        await p2.publish('/queue/down', f'p2 {i}'.encode())

    async def streaming():  # p3 publishes until the broker closes it, at most 50 ahead of a
        try:
            for i in range(5000):
                async with progress:
                    await progress.wait_for(lambda: a_done or i - counts(a_got, b'p3 ') <= 50)
                if a_done:
                    return
                await p3.publish('/topic/down', f'p3 {i}'.encode())
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
    p3_task = asyncio.create_task(streaming())
    async with progress:
        await guard(progress.wait_for(
            lambda: counts(a_got, b'p1 ') == n and len(c_got) == 200 and
            counts(a_got, b'p3 ') >= 100), 'the messages before the signal')
    broker.proc.send_signal(signum)

    # Every client but the stopped one is closed without waiting for it.
    await guard(asyncio.gather(*readers), 'EOF at the reading subscribers')
    for p in (p1, p2):
        check(await guard(p.eof(), 'EOF at an idle publisher'), 'reset, EOF expected')
    await guard(p3_task, 'the end of the streaming publisher')
    try:
        s = socket.create_connection(('127.0.0.1', broker.port), timeout=GUARD)
        s.close()
        raise AssertionError('the broker accepted a connection after the signal')
    except ConnectionRefusedError:
        pass
    late = await resume(paused)
    b_got = await guard(late.read_to_eof(), 'EOF at the stopped subscriber')
    code = await broker.wait_exit()
    check(code == 0 and broker.lines[-1] == 'Bye!', f'exit {code}\n    {broker.tail()}')

    def seq(got, sender):
        return [int(m.split()[1]) for m in got if m.startswith(sender)]
    check(seq(a_got, b'p1 ') == list(range(n)), 'a: p1 incomplete')
    check(seq(b_got, b'p1 ') == list(range(n)),
          f'the stopped subscriber got {len(seq(b_got, b"p1 "))} of p1\'s {n} messages')
    check(seq(c_got, b'p2 ') == list(range(200)), 'c: p2 incomplete')
    a3, b3 = seq(a_got, b'p3 '), seq(b_got, b'p3 ')
    check(a3 == list(range(len(a3))), 'a: p3 not an in-order prefix')
    check(b3 == a3, f'the subscribers got different messages of p3: {len(a3)} and {len(b3)}')
    for cl in (a, c, p1, p2, p3, late):
        cl.close()
    return (f'{signal.Signals(signum).name}: stopped subscriber got {len(b_got)} after the '
            f'signal ({n} of p1, {len(b3)} of p3), exit 0, Bye!')


@case('mq_server_plus')
async def shutdown_stuck_subscriber(kind):
    """A subscriber that never reads again, with messages queued for it, and --shutdown-timeout 1:
    on SIGTERM the others are closed at once, the stuck one is disconnected after the timeout
    with one line naming it, and the broker prints "Bye!" and exits 0."""
    broker = await Broker(kind, '--shutdown-timeout', '1').start()
    n, size = 1000, 4096
    a = await Client.connect(broker, '/topic/stuck')
    stuck = paused_subscriber(broker, '/topic/stuck')
    port = stuck.getsockname()[1]
    await broker.subscribed(port)
    pub = await Client.connect(broker, '/null')
    for i in range(n):
        await pub.publish('/topic/stuck', str(i).encode().ljust(size, b'.'))
    got = [int((await guard(a.read(), 'a message')).split(b'.')[0]) for _ in range(n)]
    check(got == list(range(n)), 'the reading subscriber did not get every message in order')
    broker.proc.send_signal(signal.SIGTERM)
    check(await guard(a.eof(), 'EOF at the reading subscriber'), 'reset, EOF expected')
    check(await guard(pub.eof(), 'EOF at the publisher'), 'reset, EOF expected')
    code = await broker.wait_exit()
    check(code == 0 and broker.lines[-1] == 'Bye!', f'exit {code}\n    {broker.tail()}')
    about = [l for l in broker.about(port) if 'shutdown timeout' in l]
    check(len(about) == 1 and sum('shutdown timeout' in l for l in broker.lines) == 1,
          f'one line about the stuck subscriber expected\n    {broker.tail()}')
    stuck.close()
    for c in (a, pub):
        c.close()
    return about[0]


@case('mq_server', 'mq_server_plus')
async def shutdown_sigterm(kind):
    return await shutdown(kind, signal.SIGTERM)


@case('mq_server', 'mq_server_plus')
async def shutdown_sigint(kind):
    return await shutdown(kind, signal.SIGINT)


# --- main --------------------------------------------------------------------------------------

async def run_case(fn, kind):
    try:
        return await fn(kind)
    finally:
        for proc in RUNNING:
            await proc.kill()
        RUNNING.clear()


def main(argv):
    if argv[1:] == ['--list']:
        print('\n'.join(CASES))
        return 0
    if os.path.isdir(argv[1]):
        root = argv[1]
        for name in PROGRAMS:
            hits = [os.path.join(d, name) for d in (root, os.path.join(root, 'examples'))
                    if os.path.isfile(os.path.join(d, name))]
            check(hits, f'{name} not found in {root}')
            EXE[name] = hits[0]
        selected = argv[2:]
    else:
        EXE.update(zip(PROGRAMS, argv[1:5]))
        selected = argv[5:]
    unknown = [c for c in selected if c not in CASES]
    check(not unknown, f'unknown cases {unknown}; --list lists them')
    failed = 0
    for name in selected or CASES:
        fn, kind = CASES[name]
        start = time.monotonic()
        try:
            summary = asyncio.run(run_case(fn, kind))
            print(f'PASS {name} ({time.monotonic() - start:.2f} s): {summary}', flush=True)
        except Exception as e:
            if not isinstance(e, AssertionError):
                traceback.print_exc()
            failed += 1
            print(f'FAIL {name} ({time.monotonic() - start:.2f} s): {e}', flush=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))

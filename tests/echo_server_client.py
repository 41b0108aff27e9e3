"""The book's test client (p7_client.py) against examples/echo_server, as a separate process.

Usage: python3 echo_server_client.py ECHO_SERVER

For each case - one loop and SIGINT, two loops and SIGINT, two loops and SIGTERM - it starts
`ECHO_SERVER --port P --loops N` on a free port, opens 3 connections that each send two lines
and check the upper-cased replies (with two loops, more connections until both loops served
one: the kernel picks the loop), lets #2 half-close and read EOF, then signals the server and
checks that every other connection receives the goodbye line and EOF, that the server exits 0,
and that it printed the book's lines. The server runs with AIO_ECHO_DEBUG set, so it says when
each loop serves and which loop serves which client. Standard library only.
"""

import os
import signal
import socket
import subprocess
import sys
import threading

TIMEOUT = 20
GOODBYE = b'Server shutting down, goodbye!\n'


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Server:
    """The server process, its output lines collected by a thread as they come."""

    def __init__(self, exe, port, loops):
        env = dict(os.environ, AIO_ECHO_DEBUG='1')
        self.proc = subprocess.Popen([exe, '--port', str(port), '--loops', str(loops)],
                                     stdout=subprocess.PIPE, text=True, env=env)
        self.lines = []
        self.ended = False
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._collect)
        self.thread.start()

    def _collect(self):
        for line in self.proc.stdout:
            with self.changed:
                self.lines.append(line.rstrip('\n'))
                self.changed.notify_all()
        with self.changed:
            self.ended = True
            self.changed.notify_all()

    def wait_for(self, predicate, what):
        """The first line that matches, waiting for it."""
        with self.changed:
            found = self.changed.wait_for(
                lambda: any(map(predicate, self.lines)) or self.ended, TIMEOUT)
            for line in self.lines:
                if predicate(line):
                    return line
        raise AssertionError(f'the server did not print {what} '
                             f'(ended: {self.ended}, found: {found}); it printed {self.lines}')

    def loop_serving(self, peer_port):
        """Which loop serves the client whose port is peer_port."""
        suffix = f' serves 127.0.0.1:{peer_port}'
        line = self.wait_for(lambda l: l.startswith('debug: loop ') and l.endswith(suffix),
                             f'which loop serves port {peer_port}')
        return int(line.split()[2])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.thread.join()


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def connect(port):
    """A connection, and a file to read it."""
    s = socket.create_connection(('127.0.0.1', port), timeout=TIMEOUT)
    return s, s.makefile('rb')


def exchange(s, f, i):
    """Client i sends two lines and checks that they come back upper-cased."""
    s.sendall(f'hello from client {i}\n'.encode())
    s.sendall(b'second line\n')
    replies = (f.readline(), f.readline())
    check(replies == (f'HELLO FROM CLIENT {i}\n'.encode(), b'SECOND LINE\n'),
          f'client {i} reply: {replies}')


def run_case(exe, loops, signum):
    port = free_port()
    server = Server(exe, port, loops)
    try:
        for index in range(loops):
            server.wait_for(lambda l: l == f'debug: loop {index} serving on port {port}',
                            f'that loop {index} serves')
        # p7_client.py: three connections first, then each talks in turn.
        socks = [connect(port) for i in range(3)]
        for i, (s, f) in enumerate(socks):
            exchange(s, f, i)
        served_by = [server.loop_serving(s.getsockname()[1]) for s, _ in socks]
        # The kernel spreads connections over the loops by a hash: more until each loop has one.
        while len(set(served_by)) < loops:
            check(len(socks) < 64, f'{len(socks)} connections all served by loops {served_by}')
            s, f = connect(port)
            exchange(s, f, len(socks))
            socks.append((s, f))
            served_by.append(server.loop_serving(s.getsockname()[1]))

        s2, f2 = socks[2]
        s2.shutdown(socket.SHUT_WR)
        check(f2.read() == b'', 'client 2 after shutdown: not EOF')

        server.proc.send_signal(signum)
        staying = [c for i, c in enumerate(socks) if i != 2]
        for s, f in staying:
            got = f.read()
            check(got == GOODBYE, f'a staying client got at close: {got!r}')
        try:
            code = server.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError(f'the server did not exit after {signal.Signals(signum).name}: '
                                 f'{server.lines}') from None
        server.thread.join()
        check(code == 0, f'exit status {code}, output {server.lines}')

        n = len(socks)
        book = [l for l in server.lines if not l.startswith('debug: ')]
        debug = [l for l in server.lines if l.startswith('debug: ')]
        if loops == 1:
            expected = (['New connection.'] * n + ['Leaving Connection.'] +
                        ['Connection dropped!'] * (n - 1) +
                        ['Event sent: Connection dropped!'] * (n - 1) + ['Bye!'])
            check(book == expected, f'server printed {book}, expected {expected}')
        else:
            # The loops' lines interleave; each loop's keep their order.
            for line, count in (('New connection.', n), ('Leaving Connection.', 1),
                                ('Connection dropped!', n - 1),
                                ('Event sent: Connection dropped!', n - 1), ('Bye!', 1)):
                check(book.count(line) == count, f'{count} x {line!r} expected in {book}')
            check(book[-1] == 'Bye!', f'Bye! is not last: {book}')
            dropped = sent = 0
            for line in book:
                dropped += line == 'Connection dropped!'
                sent += line == 'Event sent: Connection dropped!'
                check(sent <= dropped, f'an event sent before its connection dropped: {book}')
        check(sorted(set(served_by)) == list(range(loops)), f'loops serving: {served_by}')
        check(len(debug) == loops + n, f'debug lines: {debug}')
        for s, f in socks:
            f.close()
            s.close()
        print(f'{loops} loop(s), {signal.Signals(signum).name}: {n} clients '
              f'(loops {served_by}), goodbye and EOF to {n - 1}, exit 0', flush=True)
    finally:
        server.stop()


def main():
    exe = sys.argv[1]
    # A process started in the background by a non-interactive shell has SIGINT ignored, and a
    # child inherits that: a handler here makes the server start with SIGINT's default.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for loops, signum in ((1, signal.SIGINT), (2, signal.SIGINT), (2, signal.SIGTERM)):
        run_case(exe, loops, signum)


if __name__ == '__main__':
    main()

"""1,000 clients at once on examples/echo_server, as a separate process.

Usage: python3 echo_server_crowd.py ECHO_SERVER [CONNECTIONS]

Raises the soft limit on open files (RLIMIT_NOFILE) to what the hard limit allows, then starts
`ECHO_SERVER --port P` (which inherits it) on a free port and opens CONNECTIONS (1,000)
connections to it at once from an asyncio client. Each sends a line and checks the upper-cased
reply; once all have, the server must serve every one of them at once (as many "New
connection." lines, none left). Then SIGTERM: every connection must receive the goodbye line,
then EOF, and the server must exit 0 having printed the book's lines for each. Exits 77
(ctest's SKIP_RETURN_CODE) if the hard limit leaves too few file descriptors for the client
and the server. Standard library only.
"""

import asyncio
import resource
import signal
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree for the import below
from echo_server_client import GOODBYE, TIMEOUT, Server, check, free_port  # noqa: E402

SKIPPED = 77


def raise_open_files(needed):
    """Raises the soft RLIMIT_NOFILE up to the hard one; False if that stays below `needed`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        return False
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return True


async def crowd(server, port, n):
    """Opens n connections at once; each exchanges one line; all stay open; then SIGTERM."""
    streams = await asyncio.gather(
        *(asyncio.open_connection('127.0.0.1', port) for _ in range(n)))
    check(len(streams) == n, f'{len(streams)} connections opened')

    async def exchange(i, reader, writer):
        writer.write(f'hello from client {i}\n'.encode())
        await writer.drain()
        reply = await reader.readline()
        check(reply == f'HELLO FROM CLIENT {i}\n'.encode(), f'client {i} reply: {reply!r}')

    await asyncio.gather(*(exchange(i, r, w) for i, (r, w) in enumerate(streams)))
    # Every client had its reply, so every handler runs (and printed its line, which the
    # collecting thread may still be reading); none has left.
    with server.changed:
        server.changed.wait_for(
            lambda: server.ended or server.lines.count('New connection.') >= n, TIMEOUT)
        book = [l for l in server.lines if not l.startswith('debug: ')]
    check(book == ['New connection.'] * n,
          f'{book.count("New connection.")} connections served at once of {n}; '
          f'other lines: {[l for l in book if l != "New connection."][:5]}')
    check(not any(r.at_eof() for r, _ in streams), 'a connection ended before SIGTERM')

    server.proc.send_signal(signal.SIGTERM)

    async def goodbye(i, reader, writer):
        got = await reader.read()  # to EOF
        check(got == GOODBYE, f'client {i} got at close: {got!r}')
        writer.close()
        await writer.wait_closed()

    await asyncio.gather(*(goodbye(i, r, w) for i, (r, w) in enumerate(streams)))


def main():
    exe = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    needed = 2 * n + 100  # the client's and the server's processes each hold n sockets
    if not raise_open_files(needed):
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        print(f'skipped: the hard limit on open files is {hard}, {needed} needed', flush=True)
        return SKIPPED
    port = free_port()
    server = Server(exe, port, 1)
    try:
        server.wait_for(lambda l: l == f'debug: loop 0 serving on port {port}', 'that it serves')
        asyncio.run(asyncio.wait_for(crowd(server, port, n), 3 * TIMEOUT))
        try:
            code = server.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError('the server did not exit after SIGTERM') from None
        server.thread.join()
        check(code == 0, f'exit status {code}')
        book = [l for l in server.lines if not l.startswith('debug: ')]
        for line, count in (('New connection.', n), ('Leaving Connection.', 0),
                            ('Connection dropped!', n), ('Event sent: Connection dropped!', n),
                            ('Bye!', 1)):
            check(book.count(line) == count,
                  f'{count} x {line!r} expected, {book.count(line)} printed')
        check(book[-1] == 'Bye!', f'Bye! is not last: {book[-3:]}')
        print(f'{n} clients at once: each echoed, goodbye and EOF to all, exit 0', flush=True)
    finally:
        server.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())

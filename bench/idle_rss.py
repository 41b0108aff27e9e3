#!/usr/bin/env python3
"""What an idle connection costs a server in memory: its RSS growth over N idle connections.

    python3 bench/idle_rss.py [--connections N] [--name NAME] -- SERVER_COMMAND... {port} ...

Raises the soft limit on open files to the hard one (the server inherits it), starts the server
command with `{port}` replaced by a free port, and waits until it accepts. One connection
echoes a message (the server's code paths and first allocations warm up), then the server's
VmRSS (/proc/PID/status) is the baseline. Then N connections open, in batches that the server
accepts before the next starts (its fd count in /proc/PID/fd says so); RSS is read again
("connected"). Each then echoes one 64-byte message and stays open (the state of an idle
keep-alive connection), and RSS is read a third time ("echoed"). Prints one line:

    name=NAME connections=N base_rss_kb=KB connected_rss_kb=KB echoed_rss_kb=KB
    kb_per_connection_connected=X kb_per_connection_echoed=Y kernel_kb_per_connection=Z

kernel_kb_per_connection is the growth of the kernel's slab memory (/proc/meminfo Slab) over
the N connections, both ends counted (this client's sockets too), divided by N: socket
structures, files, epoll entries - memory no process's RSS shows. Idle sockets hold no
buffered data: /proc/net/sockstat's TCP "mem" (pages of queued data) stays near 0. The slab
number is the whole machine's, so other activity shows in it; the RSS numbers are the server's
own.

Works with any server that echoes: bench/aio_echo_server, bench/raw_echo_server,
bench/peers/echo_server.py (with --uvloop too). Linux only; standard library only.
"""

import argparse
import os
import resource
import signal
import socket
import subprocess
import sys
import time

BATCH = 100  # connections opened before waiting for the server to accept them (its backlog)
MESSAGE = b'x' * 63 + b'\n'
TIMEOUT = 30


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def status_kb(pid, field):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'no {field} in /proc/{pid}/status')


def slab_kb():
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith('Slab:'):
                return int(line.split()[1])
    return 0


def open_fds(pid):
    return len(os.listdir(f'/proc/{pid}/fd'))


def wait_until(predicate, what):
    deadline = time.monotonic() + TIMEOUT
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f'timed out waiting for {what}')
        time.sleep(0.01)


def receive_echo(s):
    got = b''
    while len(got) < len(MESSAGE):
        chunk = s.recv(len(MESSAGE) - len(got))
        if not chunk:
            raise RuntimeError('the server closed a connection')
        got += chunk


def settle_rss(pid):
    """VmRSS once it stops moving (a Python server may still be finishing its callbacks)."""
    last = status_kb(pid, 'VmRSS')
    for _ in range(50):
        time.sleep(0.05)
        now = status_kb(pid, 'VmRSS')
        if now == last:
            return now
        last = now
    return last


def measure(command, n, name):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < n + 100:
        if hard != resource.RLIM_INFINITY and hard < n + 100:
            raise SystemExit(f'idle_rss: the hard limit on open files is {hard}, '
                             f'{n + 100} needed')
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    port = free_port()
    argv = [arg.replace('{port}', str(port)) for arg in command]
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    socks = []
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                probe = socket.create_connection(('127.0.0.1', port), timeout=TIMEOUT)
                break
            except ConnectionRefusedError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f'the server did not start: {argv}') from None
                time.sleep(0.05)
        socks.append(probe)
        probe.sendall(MESSAGE)
        receive_echo(probe)
        pid = server.pid
        base_fds = open_fds(pid)
        base_rss = settle_rss(pid)
        base_slab = slab_kb()
        for start in range(0, n, BATCH):
            for _ in range(min(BATCH, n - start)):
                socks.append(socket.create_connection(('127.0.0.1', port), timeout=TIMEOUT))
            opened = len(socks) - 1
            wait_until(lambda: open_fds(pid) >= base_fds + opened, 'the server to accept')
        connected_rss = settle_rss(pid)
        slab = slab_kb()
        for s in socks[1:]:
            s.sendall(MESSAGE)
        for s in socks[1:]:
            receive_echo(s)
        echoed_rss = settle_rss(pid)
        print(f'name={name} connections={n} base_rss_kb={base_rss} '
              f'connected_rss_kb={connected_rss} echoed_rss_kb={echoed_rss} '
              f'kb_per_connection_connected={(connected_rss - base_rss) / n:.2f} '
              f'kb_per_connection_echoed={(echoed_rss - base_rss) / n:.2f} '
              f'kernel_kb_per_connection={(slab - base_slab) / n:.2f}', flush=True)
    finally:
        for s in socks:
            s.close()
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def main():
    parser = argparse.ArgumentParser(
        description='RSS per idle connection of an echo server (see the module docstring)')
    parser.add_argument('--connections', type=int, default=10000)
    parser.add_argument('--name', default='')
    parser.add_argument('command', nargs='+', help='the server command; {port} is replaced')
    args = parser.parse_args()
    if not any('{port}' in arg for arg in args.command):
        parser.error('the server command needs a {port} argument')
    measure(args.command, args.connections, args.name or os.path.basename(args.command[0]))
    return 0


if __name__ == '__main__':
    sys.exit(main())

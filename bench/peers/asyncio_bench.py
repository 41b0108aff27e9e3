#!/usr/bin/env python3
"""Python peer of aio's benchmark workloads, on the standard asyncio loop or on uvloop.

Run with a Python that has uvloop installed (uvloop is only needed for --uvloop):

    python3 asyncio_bench.py [--uvloop] WORKLOAD [N]
    python3 asyncio_bench.py --list          # one "WORKLOAD DEFAULT_N" line each

Each run prints one line, the same one aio's benchmark prints for the same workload and N:

    workload=NAME n=N seconds=S rate=N_PER_S peak_rss_kb=KB impl=asyncio|uvloop

seconds covers asyncio.run() of the workload only (not interpreter start-up); peak_rss_kb is the
process's ru_maxrss. Every workload checks its own result and fails loudly if it is wrong.
"""
import asyncio
import resource
import sys
import time

USAGE = "usage: asyncio_bench.py [--uvloop] WORKLOAD [N] | --list"


def triangle(n):
    """0 + 1 + ... + (n - 1): what summing the workloads' item numbers must give."""
    return n * (n - 1) // 2


async def identity(i):
    return i


async def spawn_gather(n):
    """Create n trivial tasks up front, then gather all of them at once."""
    pending = [asyncio.create_task(identity(i)) for i in range(n)]
    assert sum(await asyncio.gather(*pending)) == triangle(n)


async def queue_pingpong(n):
    """One producer puts n items through a Queue(maxsize=64) to one consumer."""
    channel = asyncio.Queue(maxsize=64)

    async def produce():
        for item in range(n):
            await channel.put(item)

    async def consume():
        received = 0
        for _ in range(n):
            received += await channel.get()
        return received

    _, received = await asyncio.gather(produce(), consume())
    assert received == triangle(n)


async def async_gen(n):
    """Drain n integers from an async generator with async for."""

    async def count_up():
        for value in range(n):
            yield value

    seen = 0
    async for value in count_up():
        seen += value
    assert seen == triangle(n)


async def executor(n):
    """n run_in_executor calls of a trivial function on the default pool, at most 64 in flight."""
    loop = asyncio.get_running_loop()
    in_flight = asyncio.Semaphore(64)

    def echo_back(i):
        return i

    async def submit(i):
        async with in_flight:
            return await loop.run_in_executor(None, echo_back, i)

    assert sum(await asyncio.gather(*(submit(i) for i in range(n)))) == triangle(n)


async def timers(n):
    """n tasks that all sleep 10 ms at the same time."""

    async def nap():
        await asyncio.sleep(0.01)

    await asyncio.gather(*(nap() for _ in range(n)))


async def event_fanout(n):
    """n tasks wait on one Event; once they are all waiting, set it once."""
    gate = asyncio.Event()

    async def wait_for_gate():
        await gate.wait()
        return 1

    waiters = [asyncio.create_task(wait_for_gate()) for _ in range(n)]
    await asyncio.sleep(0)  # let every waiter reach gate.wait()
    gate.set()
    assert sum(await asyncio.gather(*waiters)) == n


async def spawn_churn(n):
    """n trivial tasks in waves of 100; each wave is gathered before the next starts."""
    wave = 100
    seen = 0
    for first in range(0, n, wave):
        batch = [asyncio.create_task(identity(i)) for i in range(first, min(first + wave, n))]
        seen += sum(await asyncio.gather(*batch))
    assert seen == triangle(n)


SHUTDOWN_CLEANUPS = [0]


async def shutdown(n):
    """n tasks parked in a long sleep when main returns: asyncio.run cancels every one and waits
    for it to run its cleanup (counted, and checked once run has returned)."""

    async def parked():
        try:
            await asyncio.sleep(3600)
        finally:
            SHUTDOWN_CLEANUPS[0] += 1

    for _ in range(n):
        asyncio.create_task(parked())
    await asyncio.sleep(0)  # let every task park


# name -> (workload, default N); the defaults are the ones aio's benchmark uses.
WORKLOADS = {
    "spawn_gather": (spawn_gather, 200_000),
    "queue_pingpong": (queue_pingpong, 1_000_000),
    "async_gen": (async_gen, 1_000_000),
    "executor": (executor, 20_000),
    "timers": (timers, 100_000),
    "timers_1m": (timers, 1_000_000),
    "event_fanout": (event_fanout, 100_000),
    "spawn_churn": (spawn_churn, 1_000_000),
    "shutdown": (shutdown, 100_000),
}

# What a workload leaves to check once asyncio.run has returned.
AFTER_RUN = {"shutdown": lambda n: SHUTDOWN_CLEANUPS[0] == n}


def fail(message):
    print(message, file=sys.stderr)
    print(USAGE, file=sys.stderr)
    return 2


def main(args):
    use_uvloop = "--uvloop" in args
    args = [a for a in args if a != "--uvloop"]
    if args == ["--list"]:
        for name, (_, default_n) in WORKLOADS.items():
            print(name, default_n)
        return 0
    if not 1 <= len(args) <= 2:
        return fail("expected a workload name and an optional N")
    name = args[0]
    if name not in WORKLOADS:
        return fail(f"unknown workload {name!r}; valid: {', '.join(WORKLOADS)}")
    workload, n = WORKLOADS[name]
    if len(args) == 2:
        try:
            n = int(args[1])
        except ValueError:
            n = 0
        if n < 1:
            return fail(f"N must be a positive integer, got {args[1]!r}")

    if use_uvloop:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    began = time.perf_counter()
    asyncio.run(workload(n))
    seconds = time.perf_counter() - began
    assert AFTER_RUN.get(name, lambda n: True)(n), f"{name}: wrong result after run"
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    impl = "uvloop" if use_uvloop else "asyncio"
    print(
        f"workload={name} n={n} seconds={seconds:.6f} rate={n / seconds:.1f} "
        f"peak_rss_kb={peak_kb} impl={impl}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

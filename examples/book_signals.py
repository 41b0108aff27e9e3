"""book_signals: a service that shuts down cleanly on SIGINT or SIGTERM, through handlers added
with loop.add_signal_handler (examples/book_signals.cpp is the aio port). The handler cancels
every task and makes a second signal harmless; each worker cleans up; main, cancelled, waits
for the workers. To run unattended, the program presses Ctrl-C itself."""
import asyncio
import signal


async def worker(name, period):
    print(f"{name}: ticking every {period} s")
    try:
        while True:
            await asyncio.sleep(period)  # one tick of work
    except asyncio.CancelledError:
        print(f"{name}: cancelled, cleaning up")
        await asyncio.sleep(period / 2)  # say goodbye, flush, close...
        print(f"{name}: cleaned up")
        raise


def on_signal(sig):
    loop = asyncio.get_running_loop()
    # all_tasks() is a set: sorted by name, they are cancelled (and wake) in the same order
    # on every run.
    tasks = sorted(asyncio.all_tasks(), key=lambda task: task.get_name())
    print(f"Got signal {signal.Signals(sig).name}: cancelling {len(tasks)} tasks")
    for task in tasks:
        task.cancel()
    # From now on a second Ctrl-C must not interrupt the cleanup.
    loop.remove_signal_handler(signal.SIGTERM)
    loop.add_signal_handler(signal.SIGINT, lambda: None)


async def press_ctrl_c(delay):
    await asyncio.sleep(delay)
    print("(Ctrl-C)")
    signal.raise_signal(signal.SIGINT)


async def main():
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    workers = [
        asyncio.create_task(worker("worker-1", 0.2), name="worker-1"),
        asyncio.create_task(worker("worker-2", 0.3), name="worker-2"),
    ]
    ctrl_c = asyncio.create_task(press_ctrl_c(0.5), name="ctrl-c")  # keep a reference
    print("main: serving until a signal")
    try:
        await asyncio.sleep(3600)  # stands for server.serve_forever()
    except asyncio.CancelledError:
        print("main: cancelled, shutting down")
    print("(Ctrl-C again)")
    signal.raise_signal(signal.SIGINT)
    results = await asyncio.gather(*workers, return_exceptions=True)
    print(f"main: workers ended: {', '.join(type(r).__name__ for r in results)}")
    print("main: bye")


if __name__ == "__main__":
    asyncio.run(main())

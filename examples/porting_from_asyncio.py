"""porting_from_asyncio: the asyncio program that docs/porting-from-asyncio.md walks into aio
(examples/porting_from_asyncio.cpp). A small service: at start-up it fetches reports from a few
services at once, gives up on a slow one, saves the reports with a blocking call, stops its
monitor, then serves until Ctrl-C (which this demo presses itself)."""
import asyncio
import signal
import time


async def fetch(name, delay_ms):
    await asyncio.sleep(delay_ms / 1000)  # stands for a network round trip
    if name == "gamma":
        raise ConnectionError("connection refused")
    return f"report from {name}"


def save_reports(reports):
    time.sleep(0.02)  # a blocking call: a synchronous database client, a file write...
    return len(reports)


async def close_connection():
    await asyncio.sleep(0.01)
    print("monitor: connection closed")


async def monitor():
    try:
        while True:
            await asyncio.sleep(0.01)  # poll something
    finally:
        await close_connection()


async def press_ctrl_c(delay_ms):
    await asyncio.sleep(delay_ms / 1000)
    print("(Ctrl-C)")
    signal.raise_signal(signal.SIGINT)


async def main():
    monitor_task = asyncio.create_task(monitor(), name="monitor")

    services = [("alpha", 30), ("beta", 10), ("gamma", 20)]
    tasks = [asyncio.create_task(fetch(name, delay), name=name) for name, delay in services]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    reports = []
    for task, result in zip(tasks, results):
        if isinstance(result, BaseException):
            print(f"{task.get_name()}: failed: {result}")
        else:
            print(f"{task.get_name()}: {result}")
            reports.append(result)

    try:
        await asyncio.wait_for(fetch("delta", 10_000), timeout=0.05)
    except TimeoutError:
        print("delta: no answer within 50 ms, cancelled")

    saved = await asyncio.to_thread(save_reports, reports)
    print(f"saved {saved} reports")

    monitor_task.cancel()
    try:
        await monitor_task
    except asyncio.CancelledError:
        print("monitor: cancelled")

    print("serving until Ctrl-C")
    # Keep a reference: the loop holds tasks only weakly.
    ctrl_c = asyncio.create_task(press_ctrl_c(50))
    try:
        await asyncio.sleep(3600)  # stands for server.serve_forever()
    finally:
        await asyncio.sleep(0.01)  # say goodbye to the clients
        print("main: server closed")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        print("interrupted: shut down cleanly")

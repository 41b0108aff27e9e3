"""book_executor_shutdown: a blocking job still running in a thread when main returns, and three
ways to see it through; the asyncio original of examples/book_executor_shutdown.cpp (both print
the same lines; the test suite compares them).

Each job waits for a signal before it finishes, so that every run prints the same lines in the
same order: the demo decides when a job may end instead of racing a timer."""
import asyncio
import concurrent.futures
import threading
import time


def blocking_job(name, may_finish):
    may_finish.wait()
    time.sleep(0.05)  # the last of the work
    print(f"{name}: finished in its thread")
    return len(name)


async def fire_and_forget():
    """The problem: the future is dropped; main returns while the job still runs."""
    loop = asyncio.get_running_loop()
    may_finish = threading.Event()
    loop.run_in_executor(None, blocking_job, "job", may_finish)  # not awaited
    print("main: returning while the job runs")
    may_finish.set()


async def await_in_finally():
    """Fix 1: main awaits the future in its finally, whatever its own work does."""
    loop = asyncio.get_running_loop()
    may_finish = threading.Event()
    future = loop.run_in_executor(None, blocking_job, "job", may_finish)
    try:
        print("main: doing its own work")
        may_finish.set()
    finally:
        result = await future
        print(f"main: the job returned {result}")


async def see_it_through(future, may_finish):
    """A task that awaits the future to its end, even when it is cancelled meanwhile."""
    while True:
        try:
            result = await asyncio.shield(future)
            break
        except asyncio.CancelledError:
            print("waiter: cancelled, still waiting for the job")
            may_finish.set()
    print(f"waiter: the job returned {result}")


async def wrapper_task():
    """Fix 2: the shutdown cancels the waiter task, which waits for the job all the same."""
    loop = asyncio.get_running_loop()
    may_finish = threading.Event()
    future = loop.run_in_executor(None, blocking_job, "job", may_finish)
    waiter = asyncio.create_task(see_it_through(future, may_finish))
    await asyncio.sleep(0)  # the waiter starts waiting
    print("main: returning while the job runs")


async def own_pool():
    """Fix 3: main owns the thread pool and shuts it down with wait=True."""
    loop = asyncio.get_running_loop()
    may_finish = threading.Event()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    future = loop.run_in_executor(pool, blocking_job, "job", may_finish)
    print("main: shutting the pool down, waiting for its jobs")
    may_finish.set()
    pool.shutdown(wait=True)  # blocks until the job is done
    print(f"main: the pool is shut down; the job returned {await future}")


def demo(title, main):
    print(f"-- {title}")
    asyncio.run(main())
    print("run returned")


if __name__ == "__main__":
    demo("fire and forget", fire_and_forget)
    demo("fix 1: await the future in main's finally", await_in_finally)
    demo("fix 2: a task that awaits the future even when cancelled", wrapper_task)
    demo("fix 3: an own thread pool, shut down with wait", own_pool)

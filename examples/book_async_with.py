"""book_async_with: async context managers, the asyncio original of examples/book_async_with.cpp
(both print the same lines; the test suite compares them). A class with __aenter__/__aexit__
used with a body that returns, a body that raises and a body whose task is cancelled; then an
@asynccontextmanager whose enter and exit run blocking calls in a thread."""
import asyncio
import time
from contextlib import asynccontextmanager


def describe(exc):
    if isinstance(exc, asyncio.CancelledError):
        return "a cancellation"
    return f"an error ({exc})"


class Connection:
    """A connection opened by `async with`: __aenter__ connects, __aexit__ closes."""

    def __init__(self, host):
        self.host = host

    async def __aenter__(self):
        await asyncio.sleep(0.01)  # stands for the handshake
        print(f"{self.host}: connected")
        return self

    async def __aexit__(self, exc_type, exc, tb):
        await asyncio.sleep(0.01)  # the goodbye message: awaiting works, also when cancelled
        if exc is None:
            print(f"{self.host}: closed")
        else:
            print(f"{self.host}: closed after {describe(exc)}")
        return False  # do not suppress the exception

    async def query(self, sql):
        await asyncio.sleep(0.01)
        if "DROP" in sql:
            raise ValueError("permission denied")
        return f"3 rows for {sql!r}"


async def serve_forever(started):
    async with Connection("replica") as conn:
        started.set()
        await asyncio.sleep(3600)  # until cancelled
        await conn.query("never")


# Blocking calls, as a synchronous file API makes them.
def blocking_open(path):
    time.sleep(0.02)
    return {"path": path, "lines": []}


def blocking_close(log):
    time.sleep(0.02)
    return len(log["lines"])


@asynccontextmanager
async def open_log(path):
    loop = asyncio.get_running_loop()
    log = await loop.run_in_executor(None, blocking_open, path)
    print(f"open_log: opened {path}")
    try:
        yield log
    except ValueError as e:
        print(f"open_log: the body failed: {e}")
        raise
    finally:
        count = await loop.run_in_executor(None, blocking_close, log)
        print(f"open_log: closed {path} after {count} line(s)")


async def main():
    print("-- a body that returns")
    async with Connection("primary") as conn:
        print(f"body: {await conn.query('SELECT 1')}")

    print("-- a body that raises")
    try:
        async with Connection("primary") as conn:
            await conn.query("DROP TABLE users")
    except ValueError as e:
        print(f"main: caught {e}")

    print("-- a body whose task is cancelled")
    started = asyncio.Event()
    task = asyncio.create_task(serve_forever(started))
    await started.wait()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        print("main: the task ended cancelled")

    print("-- @asynccontextmanager with blocking enter and exit")
    async with open_log("app.log") as log:
        log["lines"].append("started")
        log["lines"].append("ready")
        print(f"body: wrote {len(log['lines'])} line(s)")

    print("-- @asynccontextmanager, a body that raises")
    try:
        async with open_log("app.log") as log:
            log["lines"].append("about to fail")
            raise ValueError("disk full")
    except ValueError as e:
        print(f"main: caught {e}")


if __name__ == "__main__":
    asyncio.run(main())

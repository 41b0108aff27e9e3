"""book_lowlevel: asyncio's low-level loop API - the loop made and driven by hand, as programs
did before asyncio.run (examples/book_lowlevel.cpp is the aio port). A main task waits for a
ticker's third tick; then the program shuts down the way asyncio.run would: it cancels the
tasks still pending, gathers them with return_exceptions, and closes the loop."""
import asyncio


async def ticker(three_ticks):
    ticks = 0
    try:
        while True:
            await asyncio.sleep(0.1)
            ticks += 1
            print(f"ticker: tick {ticks}")
            if ticks == 3:
                three_ticks.set()
    except asyncio.CancelledError:
        print(f"ticker: cancelled after {ticks} ticks")
        raise


async def main(three_ticks):
    print("main: waiting for three ticks")
    await three_ticks.wait()
    print("main: done")
    return "three ticks seen"


if __name__ == "__main__":
    loop = asyncio.new_event_loop()
    three_ticks = asyncio.Event()
    main_task = loop.create_task(main(three_ticks), name="main")
    loop.create_task(ticker(three_ticks), name="ticker")
    print(f"running: {loop.is_running()}")
    result = loop.run_until_complete(main_task)
    print(f"run_until_complete(main) returned: {result}")

    # The shutdown that asyncio.run does: cancel what is left, let it finish, close.
    pending = asyncio.all_tasks(loop)
    names = sorted(task.get_name() for task in pending)
    print(f"{len(pending)} task(s) still pending: {', '.join(names)}")
    for task in pending:
        task.cancel()
    results = loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    print(f"gathered: {', '.join(type(r).__name__ for r in results)}")
    loop.close()
    print(f"closed: {loop.is_closed()}")

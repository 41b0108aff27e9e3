// aio/shield.hpp - shield: await work without letting the caller's cancellation reach it.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/detail/await_state.hpp>
#include <aio/gather.hpp>
#include <aio/task.hpp>

#include <utility>

namespace aio {

/// asyncio.shield: awaits `aw` (made a task if it is an awaitable) and returns its result.
/// Cancellation of the caller: the await throws cancelled_error at once, and the inner task is
/// NOT cancelled: it keeps running, kept alive by the loop (an error it ends with is reported
/// unless someone awaits it). Errors of the inner task are rethrown.
/// `where`: the caller's site, for the call stack (see aio::sleep); a task made here from an
/// awaitable is created there too.
template <gatherable Aw>
awaitable<gathered_t<Aw>> shield(Aw aw,
                                 aio::source_location where = aio::source_location::current()) {
    auto t = ensure_task(std::move(aw), where);
    return detail::await_value<gathered_t<Aw>>(t.typed(), detail::cancel_policy::stop_waiting,
                                               where);
}

} // namespace aio

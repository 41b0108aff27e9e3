// aio/diagnostics.hpp - introspection: what each task waits on, who awaits it, and the tree of a
// loop's tasks (asyncio's call graph API and `python -m asyncio pstree`, from inside the
// process).
#pragma once

#include <aio/detail/call_graph.hpp>
#include <aio/detail/source_location.hpp>
#include <aio/loop.hpp>
#include <aio/task.hpp>

#include <cstddef>
#include <iostream>
#include <ostream>
#include <string>
#include <vector>

namespace aio {

/// One line of a task's call stack (asyncio.FrameCallGraphEntry): what runs or waits there, and
/// where, when aio knows it (`where.line() == 0` otherwise).
struct call_stack_entry {
    std::string function;
    aio::source_location where;
};

/// A task, what it is doing, and the tasks awaiting it (asyncio.FutureCallGraph).
/// - call_stack, innermost first: the aio await the task is parked in (see
///   any_task::waiting_on), then the task's body with the site that created it. Asio records no
///   function names or lines in its coroutine frames, so the frames between those two are only
///   counted (stack_frames).
/// - awaited_by: the tasks waiting for this one, each with its own graph: through `co_await
///   t()`, wait_done, shield, gather, wait, wait_for / timeout, as_completed (while parked) and
///   task_group (the task running the group's body, from the first create_task to the end of
///   its exit).
/// - cycle: this task already appears closer to the root (tasks awaiting each other): its
///   call stack is given, the tasks awaiting it are not followed again.
struct call_graph {
    any_task task;
    std::vector<call_stack_entry> call_stack;
    std::size_t stack_frames = 0;
    std::vector<call_graph> awaited_by;
    bool cycle = false;
};

/// asyncio.capture_call_graph: the graph of `t` now. `t` may be pending or done (a done task has
/// an empty call stack and nobody awaiting it). Loop thread only; reads, never changes a task.
/// Throws what allocation throws.
inline call_graph capture_call_graph(const any_task& t) {
    return detail::capture_graph<call_graph, call_stack_entry>(t);
}

/// asyncio.format_call_graph: the graph as text, in Python 3.14's layout:
///
///   * Task(name='fetch-1', id=0x2)
///     + Call stack:
///     |   aio::sleep
///     |   1 coroutine frame(s) (no names or lines: Asio keeps none)
///     |   File 'task_graph.cpp', line 31, in task created by int main()
///     + Awaited by:
///         * Task(name='main', id=0x1)
///           ...
///
/// The id is the task's number on its loop (any_task::id), not an address. A task met again on
/// its own path is marked `(cycle: shown above)` and not followed further.
inline std::string format_call_graph(const call_graph& g) {
    std::string out;
    detail::format_graph(g, out, 0);
    out.pop_back(); // lines are joined, as Python's are: no newline after the last
    return out;
}
inline std::string format_call_graph(const any_task& t) {
    return format_call_graph(capture_call_graph(t));
}

/// asyncio.print_call_graph: writes format_call_graph(t) and a newline to `os`.
inline void print_call_graph(const any_task& t, std::ostream& os = std::cout) {
    os << format_call_graph(t) << '\n';
}

/// The tasks of `lp` as a tree, as `python -m asyncio pstree` prints it from outside: each task
/// not awaited by another is a root, below each task the tasks it awaits. A line gives the
/// task's name, id, what it waits on and where it was created:
///
///   └── (T) main id=0x1 [aio::gather] created at task_graph.cpp:52
///       ├── (T) fetch-1 id=0x2 [aio::sleep] created at task_graph.cpp:31
///       └── (T) fetch-2 id=0x3 [aio::sleep] created at task_graph.cpp:31
///
/// Tasks that await each other in a circle are listed after the roots, each circle broken
/// where a task comes back (`(cycle: back to 'name')`). Loop thread only (or while the loop
/// does not run); throws what allocation throws.
inline std::string format_task_tree(const loop& lp) {
    return detail::format_tree(all_tasks(lp));
}
/// The same for the running loop; throws std::logic_error outside a running loop.
inline std::string format_task_tree() {
    return detail::format_tree(all_tasks());
}
/// Writes format_task_tree(lp) to `os`.
inline void print_task_tree(const loop& lp, std::ostream& os = std::cout) {
    os << format_task_tree(lp);
}

} // namespace aio

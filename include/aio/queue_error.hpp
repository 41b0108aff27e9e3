// aio/queue_error.hpp - the exceptions thrown by aio's queues (asyncio.QueueFull, QueueEmpty,
// QueueShutDown).
#pragma once

#include <stdexcept>

namespace aio {

/// Thrown by put_nowait on a queue that has no free slot (asyncio.QueueFull), and by the blocking
/// put of aio::thread_queue's sync side when its timeout expires (queue.Full).
class queue_full : public std::runtime_error {
public:
    queue_full() : std::runtime_error("aio: queue is full") {}
};

/// Thrown by get_nowait on a queue that holds no item (asyncio.QueueEmpty), and by the blocking
/// get of aio::thread_queue's sync side when its timeout expires (queue.Empty).
class queue_empty : public std::runtime_error {
public:
    queue_empty() : std::runtime_error("aio: queue is empty") {}
};

/// Thrown by put on a queue that was shut down or closed, and by get once such a queue is also
/// drained (asyncio.QueueShutDown, Python 3.13).
class queue_shut_down : public std::runtime_error {
public:
    queue_shut_down() : std::runtime_error("aio: queue is shut down") {}
};

} // namespace aio

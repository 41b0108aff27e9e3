// aio/aio.hpp - everything in aio except HTTP.
#pragma once

#include <aio/awaitable.hpp>
#include <aio/cleanup.hpp>
#include <aio/error.hpp>
#include <aio/exception_handler.hpp>
#include <aio/executor.hpp>
#include <aio/future.hpp>
#include <aio/gather.hpp>
#include <aio/loop.hpp>
#include <aio/outcome.hpp>
#include <aio/run.hpp>
#include <aio/shield.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>
#include <aio/task_group.hpp>
#include <aio/wait.hpp>

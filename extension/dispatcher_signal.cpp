// Waking the dispatcher when a transaction that queued work commits.
extern "C" {
#include "postgres.h"
}

#include "dispatcher_signal.hpp"

// TODO: set the dispatcher's latch at commit once the worker exists.
void mis::wake_dispatcher_at_commit() {}

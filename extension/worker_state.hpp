// The dispatcher's state in shared memory: who runs, how to wake them, counters.
#pragma once

extern "C" {
#include "postgres.h"
#include "storage/latch.h"
#include "storage/spin.h"
#include "utils/timestamp.h"
}

namespace mis {

constexpr int last_error_size = 256;

struct WorkerState {
    slock_t mutex; // guards every field below

    // The launcher, connected to no database, that starts the dispatcher.
    pid_t launcher_pid;
    Latch *launcher_latch;

    // The dispatcher; dispatcher_pid is 0 when none runs.
    pid_t dispatcher_pid;
    Latch *dispatcher_latch;
    Oid database_oid;
    char database[NAMEDATALEN];
    TimestampTz started_at;
    TimestampTz last_heartbeat_at;
    int in_flight;
    int64 sent_total;
    int64 failed_total;
    char last_error[last_error_size];
    bool dispatcher_exited_cleanly; // the last dispatcher stopped with exit code 0

    // Set while a DROP DATABASE (or rename) of the served database runs, so
    // that the launcher does not start a dispatcher that would block it.
    bool database_busy;
    TimestampTz database_busy_since;
};

// The shared state, or nullptr when the library was not preloaded.
WorkerState *worker_state();

// Asks for the shared memory; called from _PG_init while preloading.
void request_worker_state();

// Sets the dispatcher's latch, if one runs.
void wake_dispatcher();

// Sets the launcher's latch, if one runs.
void wake_launcher();

} // namespace mis

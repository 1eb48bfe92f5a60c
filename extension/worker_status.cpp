// SQL: messaging._worker_status(), the row behind view messaging.worker_status.
extern "C" {
#include "postgres.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"
}

#include <cstring>

#include "pg_guard.hpp"
#include "worker_state.hpp"

namespace {

constexpr int status_columns = 8;

// A copy of the shared state taken under the lock.
struct StatusSnapshot {
    pid_t pid;
    char database[NAMEDATALEN];
    TimestampTz started_at;
    TimestampTz last_heartbeat_at;
    int in_flight;
    int64 sent_total;
    int64 failed_total;
    char last_error[mis::last_error_size];
};

// Copies the dispatcher's state; false when no dispatcher runs.
bool read_status(StatusSnapshot *out) {
    mis::WorkerState *state = mis::worker_state();
    if (state == nullptr)
        return false;

    SpinLockAcquire(&state->mutex);
    out->pid = state->dispatcher_pid;
    std::memcpy(out->database, state->database, sizeof(out->database));
    out->started_at = state->started_at;
    out->last_heartbeat_at = state->last_heartbeat_at;
    out->in_flight = state->in_flight;
    out->sent_total = state->sent_total;
    out->failed_total = state->failed_total;
    std::memcpy(out->last_error, state->last_error, sizeof(out->last_error));
    SpinLockRelease(&state->mutex);
    return out->pid != 0;
}

} // namespace

// One row while a dispatcher runs, none otherwise.
MIS_SQL_FUNCTION(mis_worker_status) {
    StatusSnapshot status;
    bool running = read_status(&status);

    mis::pg_call([&]() {
        InitMaterializedSRF(fcinfo, 0);
        if (!running)
            return;

        auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
        Datum values[status_columns];
        bool nulls[status_columns] = {};
        values[0] = Int32GetDatum(status.pid);
        values[1] = CStringGetTextDatum(status.database);
        values[2] = TimestampTzGetDatum(status.started_at);
        values[3] = TimestampTzGetDatum(status.last_heartbeat_at);
        values[4] = Int32GetDatum(status.in_flight);
        values[5] = Int64GetDatum(status.sent_total);
        values[6] = Int64GetDatum(status.failed_total);
        if (status.last_error[0] != '\0')
            values[7] = CStringGetTextDatum(status.last_error);
        else
            nulls[7] = true;
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    });
    return static_cast<Datum>(0);
}

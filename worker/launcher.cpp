// The launcher: a static background worker connected to no database. It waits
// until messaging.database exists, then starts the dispatcher connected to it,
// and starts it again if it stops. It holds no C++ objects, so an ERROR raised
// here simply ends the process and the postmaster restarts it.
extern "C" {
#include "postgres.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "utils/snapmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/procsignal.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

PGDLLEXPORT void mis_launcher_main(Datum);
}

#include <csignal>
#include <cstdio>
#include <cstring>

#include "launcher.hpp"
#include "settings.hpp"
#include "worker_state.hpp"

namespace {

// How long to wait before looking for a missing database again.
constexpr long database_check_ms = 10000;
// A dispatcher that failed sooner than this after its start is started again
// only after this long, so that a persistent failure cannot become a loop.
constexpr long restart_backoff_ms = 10000;
// How often to look whether a dispatcher started by an earlier launcher has
// stopped (the postmaster tells only the launcher that started it).
constexpr long orphan_check_ms = 5000;
// A DROP DATABASE cannot take longer than this to release the database; past
// it the launcher assumes the dropping backend went away.
constexpr long busy_limit_ms = 60000;

// Clears the launcher's entry in shared memory when it exits.
void forget_launcher(int, Datum) {
    mis::WorkerState *state = mis::worker_state();
    SpinLockAcquire(&state->mutex);
    if (state->launcher_pid == MyProcPid) {
        state->launcher_pid = 0;
        state->launcher_latch = nullptr;
    }
    SpinLockRelease(&state->mutex);
}

// The served database's oid, or InvalidOid while it does not exist (or does
// not accept connections: *closed says so). Scans the shared catalog
// pg_database, which needs no database connection (its indexes would need one).
Oid find_database(bool *closed) {
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    (void) GetTransactionSnapshot();

    Oid database = InvalidOid;
    Relation catalog = table_open(DatabaseRelationId, AccessShareLock);
    TableScanDesc scan = table_beginscan_catalog(catalog, 0, nullptr);
    while (HeapTuple tuple = heap_getnext(scan, ForwardScanDirection)) {
        auto *row = reinterpret_cast<Form_pg_database>(GETSTRUCT(tuple));
        if (strcmp(NameStr(row->datname), mis::settings::database) == 0) {
            *closed = !row->datallowconn;
            database = row->datallowconn ? row->oid : InvalidOid;
            break;
        }
    }
    table_endscan(scan);
    table_close(catalog, AccessShareLock);

    CommitTransactionCommand();
    return database;
}

// Whether a DROP DATABASE or rename of the served database is under way.
bool database_busy() {
    mis::WorkerState *state = mis::worker_state();
    SpinLockAcquire(&state->mutex);
    bool busy = state->database_busy;
    TimestampTz since = state->database_busy_since;
    SpinLockRelease(&state->mutex);
    return busy && !TimestampDifferenceExceeds(since, GetCurrentTimestamp(), busy_limit_ms);
}

// Whether a dispatcher from an earlier launcher is still running.
bool dispatcher_alive() {
    mis::WorkerState *state = mis::worker_state();
    SpinLockAcquire(&state->mutex);
    pid_t pid = state->dispatcher_pid;
    SpinLockRelease(&state->mutex);
    return pid != 0 && kill(pid, 0) == 0;
}

// Asks the postmaster to start the dispatcher for the database; nullptr when
// no background worker slot is free.
BackgroundWorkerHandle *start_dispatcher(Oid database) {
    BackgroundWorker worker = {};
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
    worker.bgw_restart_time = BGW_NEVER_RESTART;
    snprintf(worker.bgw_library_name, BGW_MAXLEN, "mis_messaging");
    snprintf(worker.bgw_function_name, BGW_MAXLEN, "mis_dispatcher_main");
    snprintf(worker.bgw_name, BGW_MAXLEN, "mis_messaging dispatcher");
    snprintf(worker.bgw_type, BGW_MAXLEN, "mis_messaging dispatcher");
    worker.bgw_main_arg = ObjectIdGetDatum(database);
    worker.bgw_notify_pid = MyProcPid;

    BackgroundWorkerHandle *handle = nullptr;
    if (!RegisterDynamicBackgroundWorker(&worker, &handle))
        return nullptr;
    return handle;
}

// Decides what to do next; returns how long to sleep (-1: until woken).
long launcher_step(BackgroundWorkerHandle **handle, TimestampTz *started_at,
                   TimestampTz *restart_at, bool *said_waiting) {
    TimestampTz now = GetCurrentTimestamp();

    // Notice a dispatcher that stopped (the postmaster wakes us when it does).
    if (*handle != nullptr) {
        pid_t pid;
        if (GetBackgroundWorkerPid(*handle, &pid) != BGWH_STOPPED)
            return -1;
        pfree(*handle);
        *handle = nullptr;
        mis::WorkerState *state = mis::worker_state();
        SpinLockAcquire(&state->mutex);
        bool clean = state->dispatcher_exited_cleanly;
        SpinLockRelease(&state->mutex);
        bool quick_failure =
            !clean && !TimestampDifferenceExceeds(*started_at, now, restart_backoff_ms);
        *restart_at = quick_failure ? TimestampTzPlusMilliseconds(now, restart_backoff_ms) : now;
    }

    if (database_busy())
        return 1000; // woken when the command ends; the timeout is a safety net
    if (now < *restart_at)
        return TimestampDifferenceMilliseconds(now, *restart_at) + 1;
    if (dispatcher_alive())
        return orphan_check_ms;

    bool closed = false;
    Oid database = find_database(&closed);
    if (!OidIsValid(database)) {
        if (!*said_waiting && closed)
            ereport(LOG, (errmsg("mis_messaging is waiting for database \"%s\" to accept "
                                 "connections",
                                 mis::settings::database)));
        else if (!*said_waiting)
            ereport(LOG, (errmsg("mis_messaging is waiting for database \"%s\" to be created",
                                 mis::settings::database),
                          errhint("Set messaging.database to the database where the "
                                  "extension is installed.")));
        *said_waiting = true;
        return database_check_ms;
    }
    *said_waiting = false;

    mis::WorkerState *state = mis::worker_state();
    SpinLockAcquire(&state->mutex);
    state->dispatcher_exited_cleanly = false; // until it says otherwise
    SpinLockRelease(&state->mutex);
    *handle = start_dispatcher(database);
    *started_at = now;
    if (*handle == nullptr) {
        ereport(LOG, (errmsg("mis_messaging could not start its dispatcher"),
                      errhint("Raise max_worker_processes.")));
        *restart_at = TimestampTzPlusMilliseconds(now, restart_backoff_ms);
        return restart_backoff_ms;
    }
    return -1;
}

} // namespace

void mis::register_launcher() {
    BackgroundWorker worker = {};
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
    worker.bgw_restart_time = 5;
    snprintf(worker.bgw_library_name, BGW_MAXLEN, "mis_messaging");
    snprintf(worker.bgw_function_name, BGW_MAXLEN, "mis_launcher_main");
    snprintf(worker.bgw_name, BGW_MAXLEN, "mis_messaging launcher");
    snprintf(worker.bgw_type, BGW_MAXLEN, "mis_messaging launcher");
    RegisterBackgroundWorker(&worker);
}

// Entry point of the launcher process.
void mis_launcher_main(Datum) {
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
    BackgroundWorkerUnblockSignals();
    BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);

    mis::WorkerState *state = mis::worker_state();
    SpinLockAcquire(&state->mutex);
    state->launcher_pid = MyProcPid;
    state->launcher_latch = MyLatch;
    SpinLockRelease(&state->mutex);
    before_shmem_exit(forget_launcher, 0);

    BackgroundWorkerHandle *handle = nullptr;
    TimestampTz started_at = 0;
    TimestampTz restart_at = 0;
    bool said_waiting = false;

    while (!ShutdownRequestPending) {
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
        }

        long timeout = launcher_step(&handle, &started_at, &restart_at, &said_waiting);
        int events = WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | (timeout >= 0 ? WL_TIMEOUT : 0);
        (void) WaitLatch(MyLatch, events, timeout, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);

        // DROP DATABASE waits until every process has absorbed its barrier.
        if (ProcSignalBarrierPending)
            ProcessProcSignalBarrier();
    }

    // A dispatcher left running keeps dispatching: at shutdown it gets its own
    // SIGTERM, and otherwise the next launcher finds it and waits for it to stop.
    // Exit code 1 has the postmaster start a new launcher (0 would retire it).
    proc_exit(1);
}

// Waking the dispatcher when a transaction that queued work commits, and keeping
// it out of the way of DROP DATABASE.
extern "C" {
#include "postgres.h"
#include "access/xact.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/timestamp.h"
}

#include <csignal>
#include <cstring>

#include "dispatcher_signal.hpp"
#include "pg_guard.hpp"
#include "settings.hpp"
#include "worker_state.hpp"

namespace {

// What to do when the current transaction ends.
bool wake_dispatcher_pending = false;
bool wake_launcher_pending = false;
bool release_database_pending = false;

ProcessUtility_hook_type previous_utility_hook = nullptr;

// Marks the served database as busy (being dropped or renamed) and asks the
// dispatcher connected to it to exit, so that the command does not wait for it.
void hold_database() {
    mis::WorkerState *state = mis::worker_state();
    if (state == nullptr)
        return;

    SpinLockAcquire(&state->mutex);
    state->database_busy = true;
    state->database_busy_since = GetCurrentTimestamp();
    pid_t dispatcher = state->dispatcher_pid;
    SpinLockRelease(&state->mutex);

    release_database_pending = true;
    if (dispatcher != 0)
        kill(dispatcher, SIGTERM);
}

// Lets the launcher look at the served database again.
void release_database() {
    mis::WorkerState *state = mis::worker_state();
    if (state == nullptr)
        return;

    SpinLockAcquire(&state->mutex);
    state->database_busy = false;
    SpinLockRelease(&state->mutex);
    mis::wake_launcher();
}

// Acts on what the transaction asked for once it has ended.
void transaction_callback(XactEvent event, void *) {
    bool committed = event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT;
    bool ended = committed || event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
                 event == XACT_EVENT_PREPARE;
    if (!ended)
        return;

    if (committed && wake_dispatcher_pending)
        mis::wake_dispatcher();
    if (committed && wake_launcher_pending)
        mis::wake_launcher();
    if (release_database_pending)
        release_database();

    wake_dispatcher_pending = false;
    wake_launcher_pending = false;
    release_database_pending = false;
}

// Whether name is the database the dispatcher serves.
bool is_served_database(const char *name) {
    return name != nullptr && mis::settings::database != nullptr &&
           std::strcmp(name, mis::settings::database) == 0;
}

// Watches the commands that concern the dispatcher, then runs them as usual.
void utility_hook(PlannedStmt *pstmt, const char *query_string, bool read_only_tree,
                  ProcessUtilityContext context, ParamListInfo params, QueryEnvironment *query_env,
                  DestReceiver *dest, QueryCompletion *qc) {
    Node *statement = pstmt->utilityStmt;

    if (IsA(statement, DropdbStmt)) {
        if (is_served_database(castNode(DropdbStmt, statement)->dbname))
            hold_database();
    } else if (IsA(statement, RenameStmt)) {
        auto *rename = castNode(RenameStmt, statement);
        if (rename->renameType == OBJECT_DATABASE && is_served_database(rename->subname))
            hold_database();
    } else if (IsA(statement, CreatedbStmt)) {
        if (is_served_database(castNode(CreatedbStmt, statement)->dbname))
            wake_launcher_pending = true;
    } else if (IsA(statement, AlterDatabaseStmt)) {
        // It may now accept connections again.
        if (is_served_database(castNode(AlterDatabaseStmt, statement)->dbname))
            wake_launcher_pending = true;
    } else if (IsA(statement, CreateExtensionStmt)) {
        if (std::strcmp(castNode(CreateExtensionStmt, statement)->extname, "mis_messaging") == 0)
            wake_dispatcher_pending = true;
    } else if (IsA(statement, TransactionStmt)) {
        // A prepared transaction's work is seen when COMMIT PREPARED commits.
        if (castNode(TransactionStmt, statement)->kind == TRANS_STMT_COMMIT_PREPARED)
            wake_dispatcher_pending = true;
    } else if (IsA(statement, DropStmt)) {
        // After DROP EXTENSION the dispatcher goes back to waiting for it.
        if (castNode(DropStmt, statement)->removeType == OBJECT_EXTENSION)
            wake_dispatcher_pending = true;
    }

    if (previous_utility_hook)
        previous_utility_hook(pstmt, query_string, read_only_tree, context, params, query_env, dest,
                              qc);
    else
        standard_ProcessUtility(pstmt, query_string, read_only_tree, context, params, query_env,
                                dest, qc);
}

} // namespace

void mis::wake_dispatcher_at_commit() {
    wake_dispatcher_pending = true;
}

void mis::install_dispatcher_signals() {
    RegisterXactCallback(transaction_callback, nullptr);
    previous_utility_hook = ProcessUtility_hook;
    ProcessUtility_hook = utility_hook;
}

// SQL: messaging._wake_dispatcher() wakes the dispatcher when the caller commits.
MIS_SQL_FUNCTION(mis_wake_dispatcher) {
    (void) fcinfo;
    mis::wake_dispatcher_at_commit();
    PG_RETURN_VOID();
}

// The messaging.* configuration parameters.
extern "C" {
#include "postgres.h"
#include "access/xact.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
}

#include <cstdlib>

#include "pg_guard.hpp"
#include "settings.hpp"

namespace {

// Where a value of messaging.sender came from, kept by PostgreSQL alongside the
// value (its "extra") so that it follows the value through SET LOCAL, savepoint
// rollbacks and the restores at a transaction's end.
struct SenderOrigin {
    LocalTransactionId assigned_in; // top-level transaction (MyProc->lxid) of the SET
    bool by_statement;              // SET, SET LOCAL, set_config() or a function's SET
};

// The origin of the current value of messaging.sender.
SenderOrigin current_sender_origin = {InvalidLocalTransactionId, false};

// Records the transaction and source of a new value, in memory PostgreSQL frees
// with free(). Role, database, client and configuration file defaults are never
// by_statement, even when the library is loaded (and their placeholders applied)
// inside a transaction.
bool check_sender(char **value, void **extra, GucSource source) {
    auto *origin = static_cast<SenderOrigin *>(std::malloc(sizeof(SenderOrigin)));
    if (origin == nullptr)
        return false;
    bool named = *value != nullptr && (*value)[0] != '\0';
    bool running = MyProc != nullptr && IsTransactionState();
    origin->assigned_in = named && running ? MyProc->lxid : InvalidLocalTransactionId;
    origin->by_statement = source == PGC_S_SESSION;
    *extra = origin;
    return true;
}

// Keeps the origin of the value that has just become current.
void assign_sender(const char *, void *extra) {
    if (extra != nullptr)
        current_sender_origin = *static_cast<SenderOrigin *>(extra);
    else
        current_sender_origin = {InvalidLocalTransactionId, false};
}

} // namespace

// SQL: messaging._sender_setting(): messaging.sender if the current transaction
// named it, else NULL.
MIS_SQL_FUNCTION(mis_sender_setting) {
    const SenderOrigin &origin = current_sender_origin;
    bool current = MyProc != nullptr && origin.assigned_in != InvalidLocalTransactionId &&
                   origin.assigned_in == MyProc->lxid && origin.by_statement;
    if (!current || mis::settings::sender == nullptr)
        PG_RETURN_NULL();
    PG_RETURN_TEXT_P(cstring_to_text(mis::settings::sender));
}

namespace mis::settings {

char *database = nullptr;
bool enabled = true;
int batch_size = 1000;
int max_connections = 8;
int request_timeout = 10000;
int max_attempts = 5;
int retry_delay = 30000;
char *ca_file = nullptr;
char *sender = nullptr;

// Only the dispatcher reads the PGC_SIGHUP parameters, so a session-level SET
// of one is refused by PostgreSQL rather than silently ignored.
void define() {
    DefineCustomStringVariable("messaging.database", "Database the dispatcher serves.",
                               "The mis_messaging extension must be created in it.", &database,
                               "postgres", PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);

    DefineCustomBoolVariable("messaging.enabled", "Whether the dispatcher sends anything.",
                             "Off pauses dispatching without a restart; queued deliveries wait.",
                             &enabled, true, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);

    DefineCustomIntVariable("messaging.batch_size", "Deliveries the dispatcher claims per batch.",
                            nullptr, &batch_size, 1000, 1, 100000, PGC_SIGHUP, 0, nullptr, nullptr,
                            nullptr);

    DefineCustomIntVariable("messaging.max_connections",
                            "Parallel HTTP and SMTP connections the dispatcher opens.", nullptr,
                            &max_connections, 8, 1, 256, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);

    DefineCustomIntVariable("messaging.request_timeout", "Time limit of one network request.",
                            nullptr, &request_timeout, 10000, 100, 600000, PGC_SIGHUP, GUC_UNIT_MS,
                            nullptr, nullptr, nullptr);

    DefineCustomIntVariable("messaging.max_attempts",
                            "Tries before a transient failure becomes final.", nullptr,
                            &max_attempts, 5, 1, 100, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);

    DefineCustomIntVariable("messaging.retry_delay", "Delay before the first retry.",
                            "Each further retry waits twice as long as the one before.",
                            &retry_delay, 30000, 1, 86400000, PGC_SIGHUP, GUC_UNIT_MS, nullptr,
                            nullptr, nullptr);

    DefineCustomStringVariable("messaging.ca_file", "CA bundle used to verify TLS certificates.",
                               "Empty means the system's certificate store.", &ca_file, "",
                               PGC_SIGHUP, 0, nullptr, nullptr, nullptr);

    DefineCustomStringVariable("messaging.sender", "The acting user of the current request.",
                               "Set with SET LOCAL by applications that are members of "
                               "messaging_app; a value counts only in the transaction that set it.",
                               &sender, "", PGC_USERSET, 0, check_sender, assign_sender, nullptr);

    MarkGUCPrefixReserved("messaging");
}

} // namespace mis::settings

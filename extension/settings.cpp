// The messaging.* configuration parameters.
extern "C" {
#include "postgres.h"
#include "utils/guc.h"
}

#include "settings.hpp"

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
                               "messaging_app.",
                               &sender, "", PGC_USERSET, 0, nullptr, nullptr, nullptr);

    MarkGUCPrefixReserved("messaging");
}

} // namespace mis::settings

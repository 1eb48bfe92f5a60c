// The messaging.* configuration parameters.
#pragma once

namespace mis::settings {

// Read by the dispatcher; set in postgresql.conf (see the README's table).
extern char *database;      // messaging.database: the database served
extern bool enabled;        // messaging.enabled: off pauses dispatching
extern int batch_size;      // messaging.batch_size: deliveries claimed per batch
extern int max_connections; // messaging.max_connections: parallel connections
extern int request_timeout; // messaging.request_timeout: per request, milliseconds
extern int max_attempts;    // messaging.max_attempts: tries before a final failure
extern int retry_delay;     // messaging.retry_delay: first retry delay, milliseconds
extern char *ca_file;       // messaging.ca_file: CA bundle, empty for the system's
extern char *sender;        // messaging.sender: the acting user of a request

// Defines every parameter; called once from _PG_init.
void define();

} // namespace mis::settings

// The background workers: the launcher (no database) and the dispatcher.
#pragma once

namespace mis {

// Registers the launcher with the postmaster; called from _PG_init while
// shared_preload_libraries is processed.
void register_launcher();

} // namespace mis

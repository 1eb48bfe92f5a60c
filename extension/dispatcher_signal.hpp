// Waking the dispatcher when a transaction that queued work commits, and keeping
// it out of the way of DROP DATABASE.
#pragma once

namespace mis {

// Arranges for the dispatcher to be woken when the current transaction commits.
// Cheap to call repeatedly; does nothing when the dispatcher is not running.
void wake_dispatcher_at_commit();

// Installs the transaction callback and the utility hook; called from _PG_init.
void install_dispatcher_signals();

} // namespace mis

// Waking the dispatcher when a transaction that queued work commits.
#pragma once

namespace mis {

// Arranges for the dispatcher to be woken when the current transaction commits.
// Cheap to call repeatedly; does nothing when the dispatcher is not running.
void wake_dispatcher_at_commit();

} // namespace mis

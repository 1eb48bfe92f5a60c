// Library entry: module magic and _PG_init.
extern "C" {
#include "postgres.h"
#include "fmgr.h"
#include "miscadmin.h"

PG_MODULE_MAGIC;

void _PG_init(void);
}

#include "dispatcher_signal.hpp"
#include "launcher.hpp"
#include "settings.hpp"
#include "worker_state.hpp"

// Registers settings, shared memory and the dispatcher when the library loads.
// Without shared_preload_libraries only the settings and the hooks exist: no
// worker runs and messaging.worker_status stays empty.
void _PG_init(void) {
    mis::settings::define();
    mis::install_dispatcher_signals();

    if (!process_shared_preload_libraries_in_progress)
        return;
    mis::request_worker_state();
    mis::register_launcher();
}

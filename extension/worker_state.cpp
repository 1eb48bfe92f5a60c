// The dispatcher's state in shared memory.
extern "C" {
#include "postgres.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
}

#include <cstring>

#include "worker_state.hpp"

namespace {

mis::WorkerState *state = nullptr;
shmem_request_hook_type previous_request_hook = nullptr;
shmem_startup_hook_type previous_startup_hook = nullptr;

// Reserves room for the state when the postmaster sizes shared memory.
void request_hook() {
    if (previous_request_hook)
        previous_request_hook();
    RequestAddinShmemSpace(MAXALIGN(sizeof(mis::WorkerState)));
}

// Finds, or creates and clears, the state in every process that attaches.
void startup_hook() {
    if (previous_startup_hook)
        previous_startup_hook();

    bool found = false;
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    state = static_cast<mis::WorkerState *>(
        ShmemInitStruct("mis_messaging worker state", sizeof(mis::WorkerState), &found));
    if (!found) {
        std::memset(state, 0, sizeof(mis::WorkerState));
        SpinLockInit(&state->mutex);
    }
    LWLockRelease(AddinShmemInitLock);
}

// Reads a latch pointer under the lock; setting it happens outside.
Latch *read_latch(Latch *mis::WorkerState::*field) {
    if (state == nullptr)
        return nullptr;
    SpinLockAcquire(&state->mutex);
    Latch *latch = state->*field;
    SpinLockRelease(&state->mutex);
    return latch;
}

} // namespace

mis::WorkerState *mis::worker_state() {
    return state;
}

void mis::request_worker_state() {
    previous_request_hook = shmem_request_hook;
    shmem_request_hook = request_hook;
    previous_startup_hook = shmem_startup_hook;
    shmem_startup_hook = startup_hook;
}

// A latch left behind by an exited process belongs to a PGPROC that stays in
// shared memory, so setting it is at worst a spurious wake-up of its next owner.
void mis::wake_dispatcher() {
    if (Latch *latch = read_latch(&WorkerState::dispatcher_latch))
        SetLatch(latch);
}

void mis::wake_launcher() {
    if (Latch *latch = read_latch(&WorkerState::launcher_latch))
        SetLatch(latch);
}

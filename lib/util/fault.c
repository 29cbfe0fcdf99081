/* Fault injection: every allocation and every file-system call of the local backends passes
 * vdb_fault_hit, so a test can make the Nth of them fail with the errno it picks (EIO,
 * ENOSPC, ENOMEM) and check that the failure is reported and nothing acknowledged is lost.
 * Disarmed (always, outside tests) it costs one relaxed atomic load per call. */
#include <errno.h>
#include <stdatomic.h>

#include "util.h"

static _Atomic unsigned armed_ops;  /* vdb_fault_op bits counted; 0: off */
static _Atomic uint64_t target;     /* the counted call that fails (1 = the next) */
static _Atomic uint64_t passed;     /* counted calls since vdb_fault_arm */
static _Atomic uint64_t fired;      /* calls failed since vdb_fault_arm */
static _Atomic int fail_errno;
static _Atomic bool sticky;

void vdb_fault_arm(unsigned ops, uint64_t nth, int err, bool stick)
{
    atomic_store(&armed_ops, 0u);
    atomic_store(&passed, 0);
    atomic_store(&fired, 0);
    atomic_store(&target, nth);
    atomic_store(&fail_errno, err ? err : EIO);
    atomic_store(&sticky, stick);
    atomic_store(&armed_ops, nth ? ops : 0u);
}

void vdb_fault_disarm(void) { atomic_store(&armed_ops, 0u); }
uint64_t vdb_fault_passed(void) { return atomic_load(&passed); }
uint64_t vdb_fault_fired(void) { return atomic_load(&fired); }

int vdb_fault_hit(unsigned op)
{
    if (!(atomic_load_explicit(&armed_ops, memory_order_relaxed) & op))
        return 0;
    uint64_t n = atomic_fetch_add(&passed, 1) + 1;
    uint64_t t = atomic_load(&target);
    if (n == t || (n > t && atomic_load(&sticky))) {
        atomic_fetch_add(&fired, 1);
        return atomic_load(&fail_errno);
    }
    return 0;
}

void vdb_fault_alloc_after(uint64_t nth, bool stick)
{
    vdb_fault_arm(VDB_FAULT_ALLOC, nth, ENOMEM, stick);
}

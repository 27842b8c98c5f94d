// The guest's rdtsc and rdtscp, answered from the run's virtual clock where the host traps them.
#ifndef ZEROCELL_SANDBOX_LOADER_TSC_TRAP_H_
#define ZEROCELL_SANDBOX_LOADER_TSC_TRAP_H_

namespace zerocell::sandbox::loader {

// Installs the loader's SIGSEGV handler, inherited by the guest and every process it forks.
// PR_SET_TSC makes rdtsc and rdtscp fault (SIGSEGV) where the host enforces it; the handler then
// answers the instruction with the virtual clock (CLOCK_MONOTONIC, notified like any clock read,
// in nanoseconds: a 1 GHz counter that starts with the run) and resumes after it. Any other
// SIGSEGV ends the process by SIGSEGV, as it would have without a handler. A guest that installs
// its own SIGSEGV handler replaces this one and gets the faults itself; one that blocks or
// ignores SIGSEGV dies of a trapped rdtsc. Returns the rt_sigaction result.
long InstallTscTrap();

}  // namespace zerocell::sandbox::loader

#endif  // ZEROCELL_SANDBOX_LOADER_TSC_TRAP_H_

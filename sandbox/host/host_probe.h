// The host probe: finds out by experiment what this host enforces (see host_capabilities.h).
#ifndef ZEROCELL_SANDBOX_HOST_HOST_PROBE_H_
#define ZEROCELL_SANDBOX_HOST_HOST_PROBE_H_

#include "sandbox/host/host_capabilities.h"

namespace zerocell::sandbox::host {

// Runs every experiment once, each in a short-lived child process of the calling thread (forked,
// sharing nothing but the descriptor table where an experiment needs it), and reads the kernel's
// own reports. Takes a few milliseconds; never leaves a process or descriptor behind. Never
// fails: an experiment that cannot be run leaves its finding kNo or kUnknown with the reason in
// the report. Safe to call from a multi-threaded process (children use raw system calls only).
HostCapabilities ProbeHost();

}  // namespace zerocell::sandbox::host

#endif  // ZEROCELL_SANDBOX_HOST_HOST_PROBE_H_

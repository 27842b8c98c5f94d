// The host probe's experiments: each runs in a forked child and reports through its exit status.
#ifndef ZEROCELL_SANDBOX_HOST_PROBE_CHILDREN_H_
#define ZEROCELL_SANDBOX_HOST_PROBE_CHILDREN_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sandbox/sys/unique_fd.h"

namespace zerocell::sandbox::host {

// Exit codes of experiment children. A child killed by a signal reports the signal instead.
inline constexpr int kRan = 0;           // the instruction or call ran and returned normally
inline constexpr int kSetupRefused = 3;  // the control the experiment needs was refused
inline constexpr int kUnexpected = 4;    // it returned something unexpected
inline constexpr int kFilterMarker = 5;  // a call came back with the probe filter's marker errno
inline constexpr int kBadContinue = 6;   // a CONTINUEd call did not run in the kernel

// A forked experiment child (it shares no memory with the probe; with share_fds it shares the
// descriptor table). Destroying it kills and reaps the child.
class ProbeChild {
 public:
  ProbeChild(ProbeChild&& other) noexcept;
  ProbeChild& operator=(ProbeChild&&) = delete;
  ~ProbeChild();

  // How the child is made. kVfork: it shares this memory (on its own stack) and this thread waits
  // until it ends, the cheapest; only for experiments that change per-task state alone (no
  // credentials: those would change the shared memory descriptor's dumpability). kFork: a copy.
  // kForkSharingFds: a copy that shares the descriptor table.
  enum class Mode { kVfork, kFork, kForkSharingFds };

  // Starts a child that runs fn(arg) with every signal blocked (so a fault kills it with that
  // signal whatever handlers this process installed) and exits with its return value. `fn` may
  // only make raw system calls: the parent may have other threads holding libc locks.
  static absl::StatusOr<ProbeChild> Start(int (*fn)(void*), void* arg, Mode mode);

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }
  // Waits for the child to end (killing it after `timeout`) and returns its wait status.
  absl::StatusOr<int> Wait(absl::Duration timeout);

 private:
  ProbeChild(pid_t pid, sys::UniqueFd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}
  pid_t pid_;
  sys::UniqueFd pidfd_;
  bool reaped_ = false;
};

// Experiment bodies (arguments: the struct each names, in the parent's memory, copied by fork).
struct FilterArgs {
  const std::string* bpf;  // struct sock_filter[] bytes
};
int TscChild(void* use_rdtscp);     // arg non-null: rdtscp instead of rdtsc
int CpuidFaultChild(void*);         // ARCH_SET_CPUID(0), then cpuid
int Int80Child(void* filter_args);  // FilterArgs: the marker filter, then int 0x80 getpid
int X32Child(void* filter_args);    // FilterArgs: the marker filter, then an x32 getpid
int PersonalityChild(void*);        // personality(ADDR_NO_RANDOMIZE), read back

// The user-notification experiment's child (shares the descriptor table with the probe).
struct NotifyArgs {
  const std::string* bpf;  // notifies getppid, allows the rest
  int report_fd;           // pipe: the child writes its listener number (or -errno) here
  bool drop_privileges;    // switch to uid/gid 65534 first, as the loader does as root
  pid_t parent;            // what a CONTINUEd getppid must return
};
inline constexpr int64_t kNotifyAnswer = 4242;  // the value the probe answers the first getppid
int NotifyChild(void* notify_args);

}  // namespace zerocell::sandbox::host

#endif  // ZEROCELL_SANDBOX_HOST_PROBE_CHILDREN_H_

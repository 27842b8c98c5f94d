// The seccomp policy: which syscalls the kernel allows outright, everything else goes to the
// supervisor (seccomp user notification), which emulates it or reports a policy violation.
#ifndef ZEROCELL_SANDBOX_POLICY_SYSCALL_POLICY_H_
#define ZEROCELL_SANDBOX_POLICY_SYSCALL_POLICY_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace zerocell::sandbox {

// A compiled BPF program (struct sock_filter[]), built once per engine and shared by every run.
class CompiledPolicy {
 public:
  static absl::StatusOr<std::unique_ptr<CompiledPolicy>> Build();

  const std::string& bpf() const { return bpf_; }
  uint64_t instruction_count() const { return bpf_.size() / 8; }

 private:
  explicit CompiledPolicy(std::string bpf) : bpf_(std::move(bpf)) {}
  std::string bpf_;
};

// Small filters the host probe installs in its children, compiled with libseccomp like the real
// policy: kForeignAbiMarker answers every call except exit/exit_group with errno
// kProbeMarkerErrno, foreign ABIs (i386, x32) included; kNotifyGetppid notifies getppid and allows
// the rest.
enum class ProbeFilter { kForeignAbiMarker, kNotifyGetppid };
inline constexpr int kProbeMarkerErrno = 1001;
absl::StatusOr<std::string> CompileProbeFilter(ProbeFilter which);

// Name of syscall `nr` for the audit architecture `arch` (AUDIT_ARCH_*), prefixed with "i386:"
// or "x32:" for foreign ABIs; "syscall_<nr>" when unknown.
std::string SyscallName(uint32_t arch, int64_t nr);

}  // namespace zerocell::sandbox

#endif  // ZEROCELL_SANDBOX_POLICY_SYSCALL_POLICY_H_

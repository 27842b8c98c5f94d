// Builds the seccomp filter with libseccomp; see syscall_policy.h for the three classes.
#include "sandbox/policy/syscall_policy.h"

#include <asm/prctl.h>
#include <linux/audit.h>
#include <linux/futex.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "base/errno_status.h"
#include "base/status_macros.h"
#include "sandbox/launch/launch_spec.h"
#include "sandbox/sys/syscalls.h"
#include "sandbox/sys/unique_fd.h"

namespace zerocell::sandbox {
namespace {

struct ContextDeleter {
  void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};
using Context = std::unique_ptr<void, ContextDeleter>;

absl::Status Add(scmp_filter_ctx ctx, int nr, std::initializer_list<scmp_arg_cmp> args = {}) {
  int rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, static_cast<unsigned>(args.size()),
                                  args.size() ? args.begin() : nullptr);
  if (rc != 0) return ErrnoStatus(-rc, absl::StrCat("seccomp_rule_add syscall ", nr));
  return absl::OkStatus();
}

absl::Status AddInKernelRules(scmp_filter_ctx ctx) {
  // Calls that touch nothing but the calling process itself.
  for (int nr : {SYS_exit, SYS_rt_sigreturn, SYS_rt_sigprocmask, SYS_rt_sigaction, SYS_sigaltstack,
                 SYS_set_robust_list, SYS_munmap, SYS_sched_yield, SYS_restart_syscall,
                 SYS_rt_sigsuspend, SYS_pause}) {
    RETURN_IF_ERROR(Add(ctx, nr));
  }
  // futex: only the plain wait/wake family libc needs, private or not, with either clock. The
  // PI, requeue and wake-op operations go to the supervisor (ENOSYS): FUTEX_TRYLOCK_PI on a word
  // holding a number answers whether that host pid exists, and they are a long CVE history.
  for (int op : {FUTEX_WAIT, FUTEX_WAKE, FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET}) {
    constexpr uint32_t kFlags = FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME;
    RETURN_IF_ERROR(Add(ctx, SYS_futex,
                        {SCMP_A1_32(SCMP_CMP_MASKED_EQ, ~kFlags, static_cast<scmp_datum_t>(op))}));
  }
  // madvise: the hints and MADV_DONTNEED, which allocators need to return memory. Safe because
  // nothing executable can come back different: code pages are the sealed image's whole pages
  // or its cleaned copies of partial ones (the same bytes return), and no shared file is mapped.
  // Other advice (and any with high bits set) goes to the supervisor, which treats what changes
  // no contents as a hint it need not act on (MADV_FREE among them: whether its pages are zero
  // later depends on host memory pressure) and refuses the rest (MADV_REMOVE, guard pages, ...).
  for (int advice : {MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED}) {
    RETURN_IF_ERROR(
        Add(ctx, SYS_madvise, {SCMP_A2_32(SCMP_CMP_EQ, static_cast<scmp_datum_t>(advice))}));
  }
  // TLS setup only; ARCH_SET_CPUID and the rest go to the supervisor (and are refused).
  for (int code : {ARCH_SET_FS, ARCH_GET_FS, ARCH_SET_GS, ARCH_GET_GS}) {
    RETURN_IF_ERROR(
        Add(ctx, SYS_arch_prctl, {SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(code))}));
  }
  // Never executable memory outside the image: mprotect without PROT_EXEC runs in the kernel,
  // with PROT_EXEC it is notified and reported as a violation.
  RETURN_IF_ERROR(Add(ctx, SYS_mprotect, {SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)}));
  // Reads and seeks of tree files run in the kernel. Their descriptors are the tree range
  // [kGuestFdLimit/2, kGuestFdLimit) (supervisor/fd_table.h), where the guest holds nothing but
  // read-only descriptions of sealed memfds the supervisor injected: whatever number in it the
  // guest names, the kernel reads a tree file or finds nothing (EBADF). Everything else on these
  // fds (fstat: the memfd's inode would tell of the host; fcntl, ioctl, mmap, close, dup) stays
  // notified.
  constexpr uint32_t kTreeLo = static_cast<uint32_t>(launch::kGuestFdLimit / 2);
  static_assert((launch::kGuestFdLimit & (launch::kGuestFdLimit - 1)) == 0, "a power of two");
  for (int nr : {SYS_read, SYS_pread64, SYS_readv, SYS_preadv, SYS_preadv2, SYS_lseek}) {
    RETURN_IF_ERROR(Add(ctx, nr, {SCMP_A0_32(SCMP_CMP_MASKED_EQ, ~(kTreeLo - 1), kTreeLo)}));
  }
  // The loader's handoff, after the filter is installed: the sendmsg that passes the listener
  // and the close_range that drops every real fd. The guest never holds fd kControlFd, and
  // closing real fds it doesn't have is harmless, so these exact forms are safe to allow.
  RETURN_IF_ERROR(
      Add(ctx, SYS_sendmsg, {SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(launch::kControlFd))}));
  RETURN_IF_ERROR(
      Add(ctx, SYS_close_range,
          {SCMP_A0(SCMP_CMP_EQ, 0), SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, 0xffffffffu),
           SCMP_A2(SCMP_CMP_EQ, 0)}));
  return absl::OkStatus();
}

// The filter as struct sock_filter[] bytes.
absl::StatusOr<std::string> Export(scmp_filter_ctx ctx) {
  sys::UniqueFd out(memfd_create("zerocell-bpf", MFD_CLOEXEC));
  if (!out.valid()) return ErrnoStatus(errno, "memfd_create");
  if (int rc = seccomp_export_bpf(ctx, out.get()); rc != 0) {
    return ErrnoStatus(-rc, "seccomp_export_bpf");
  }
  off_t size = lseek(out.get(), 0, SEEK_END);
  if (size <= 0 || size % 8 != 0) return absl::InternalError("seccomp_export_bpf: bad size");
  std::string bpf(static_cast<size_t>(size), '\0');
  if (pread(out.get(), bpf.data(), bpf.size(), 0) != size) {
    return ErrnoStatus(errno, "read exported filter");
  }
  return bpf;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CompiledPolicy>> CompiledPolicy::Build() {
  // Default: notify. The supervisor emulates what it knows and kills on anything else, so that a
  // violation is reported with its syscall name and number (a kernel kill would lose them).
  Context ctx(seccomp_init(SCMP_ACT_NOTIFY));
  if (!ctx) return absl::InternalError("seccomp_init failed");
  // Foreign ABIs (int 0x80, x32) are notified too, so they can be named; never allowed.
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_NOTIFY); rc != 0) {
    return ErrnoStatus(-rc, "seccomp badarch action");
  }
  seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);
  RETURN_IF_ERROR(AddInKernelRules(ctx.get()));
  ASSIGN_OR_RETURN(std::string bpf, Export(ctx.get()));
  return std::unique_ptr<CompiledPolicy>(new CompiledPolicy(std::move(bpf)));
}

absl::StatusOr<std::string> CompileProbeFilter(ProbeFilter which) {
  const bool marker = which == ProbeFilter::kForeignAbiMarker;
  Context ctx(seccomp_init(marker ? SCMP_ACT_ERRNO(kProbeMarkerErrno) : SCMP_ACT_ALLOW));
  if (!ctx) return absl::InternalError("seccomp_init failed");
  if (marker) {
    if (int rc =
            seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(kProbeMarkerErrno));
        rc != 0) {
      return ErrnoStatus(-rc, "seccomp badarch action");
    }
    RETURN_IF_ERROR(Add(ctx.get(), SYS_exit));
    RETURN_IF_ERROR(Add(ctx.get(), SYS_exit_group));
  } else {
    int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_NOTIFY, SYS_getppid, 0);
    if (rc != 0) return ErrnoStatus(-rc, "seccomp_rule_add getppid");
  }
  return Export(ctx.get());
}

std::string SyscallName(uint32_t arch, int64_t nr) {
  uint32_t scmp_arch = SCMP_ARCH_X86_64;
  std::string prefix;
  if (arch == AUDIT_ARCH_I386) {
    scmp_arch = SCMP_ARCH_X86;
    prefix = "i386:";
  } else if (arch == AUDIT_ARCH_X86_64 && nr >= 0 && (nr & 0x40000000)) {
    scmp_arch = SCMP_ARCH_X32;
    prefix = "x32:";
  } else if (arch != AUDIT_ARCH_X86_64) {
    return absl::StrCat("arch_", arch, ":syscall_", nr);
  }
  char* name = seccomp_syscall_resolve_num_arch(scmp_arch, static_cast<int>(nr));
  std::string out = name ? absl::StrCat(prefix, name) : absl::StrCat(prefix, "syscall_", nr);
  free(name);
  return out;
}

}  // namespace zerocell::sandbox

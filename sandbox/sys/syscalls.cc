// Raw syscall wrappers; see syscalls.h.
#include "sandbox/sys/syscalls.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "base/errno_status.h"

// glibc exports it (GLIBC_2.2.5) without declaring it: the same function as clone(2)'s wrapper.
extern "C" int __clone(int (*fn)(void*), void* stack, int flags, void* arg, ...);

namespace zerocell::sandbox::sys {

absl::StatusOr<UniqueFd> SealedMemfd(const char* name, std::string_view data) {
  UniqueFd fd(memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd.valid()) return ErrnoStatus(errno, "memfd_create");
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "write memfd");
    }
    done += static_cast<size_t>(n);
  }
  if (fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
    return ErrnoStatus(errno, "seal memfd");
  }
  return fd;
}

absl::StatusOr<pid_t> CloneVfork(int (*fn)(void*), void* arg, UniqueFd* pidfd) {
  // The parent is suspended until the child execs or exits, so one stack per thread suffices.
  // It lives on the heap, not in thread_local storage: a 64 KiB TLS block is charged to every
  // thread of the process, and small-stack threads (civetweb's, in zerocelld) overflowed.
  constexpr size_t kStackBytes = 64 * 1024;
  static thread_local std::unique_ptr<char[]> stack;
  if (stack == nullptr) stack.reset(new char[kStackBytes]);  // 16-byte aligned, as clone needs
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int fd = -1;
  // glibc's __clone is clone itself under the name TSan does not intercept (its interceptor
  // treats every clone as a fork and breaks the shared thread state of a CLONE_VM child).
  pid_t pid = __clone(fn, stack.get() + kStackBytes, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD,
                      arg, &fd);
  int saved = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return ErrnoStatus(saved, "clone");
  pidfd->reset(fd);
  return pid;
}

int PidfdSendSignal(int pidfd, int sig) {
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

ssize_t ReadProcessMemory(pid_t pid, uint64_t addr, void* buf, size_t len) {
  iovec local = {buf, len};
  iovec remote = {reinterpret_cast<void*>(addr), len};
  return process_vm_readv(pid, &local, 1, &remote, 1, 0);
}

ssize_t WriteProcessMemory(pid_t pid, uint64_t addr, const void* buf, size_t len) {
  iovec local = {const_cast<void*>(buf), len};
  iovec remote = {reinterpret_cast<void*>(addr), len};
  return process_vm_writev(pid, &local, 1, &remote, 1, 0);
}

}  // namespace zerocell::sandbox::sys

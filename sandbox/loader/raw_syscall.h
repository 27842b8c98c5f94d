// zerocell-loader's raw system calls (freestanding: no libc, no errno).
#ifndef ZEROCELL_SANDBOX_LOADER_RAW_SYSCALL_H_
#define ZEROCELL_SANDBOX_LOADER_RAW_SYSCALL_H_

namespace zerocell::sandbox::loader {

inline long Syscall6(long nr, long a, long b, long c, long d, long e, long f) {
  long ret;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}

// The kernel's return value: a result, or -errno in [-4095, -1].
inline long Sys(long nr, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) {
  return Syscall6(nr, a, b, c, d, e, f);
}

inline bool Failed(long r) { return r < 0 && r > -4096; }

// The kernel's struct sigaction for rt_sigaction (not libc's).
struct KernelSigaction {
  unsigned long handler, flags, restorer, mask;
};

}  // namespace zerocell::sandbox::loader

#endif  // ZEROCELL_SANDBOX_LOADER_RAW_SYSCALL_H_

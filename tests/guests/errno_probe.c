// Guest: calls that libc probes and that the policy answers with an errno instead of a kill.
// Prints "<name> = <ret> errno=<e>" per call, plus the rlimit values read back, then "alive".
#include <errno.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

static void report(const char *name, long r) {
  printf("%s = %ld errno=%d\n", name, r, r < 0 ? errno : 0);
}

int main(void) {
  struct termios t;
  report("ioctl_tcgets", syscall(SYS_ioctl, 1, TCGETS, &t));
  report("rseq", syscall(SYS_rseq, (void *)0, 0, 0, 0));
  char path[256];
  report("readlink_self_exe", syscall(SYS_readlink, "/proc/self/exe", path, sizeof(path)));
  struct rlimit lim = {1024, 1024};
  report("prlimit64_set", syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &lim, (void *)0));
  struct rlimit old = {0, 0};
  report("prlimit64_get", syscall(SYS_prlimit64, 0, RLIMIT_STACK, (void *)0, &old));
  printf("rlimit_stack=%llu/%llu\n", (unsigned long long)old.rlim_cur,
         (unsigned long long)old.rlim_max);
  // What libc's NSS does for getpwuid (asks nscd over AF_UNIX).
  report("socket_unix", syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  printf("alive\n");
  return 0;
}

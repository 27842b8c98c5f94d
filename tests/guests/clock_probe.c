// Guest: the virtual clock through the vDSO (libc's calls) and through the notified syscall.
// argv[1] picks a probe; each prints "key=value" lines (stdio: nothing is buffered at the fork).
//   mix      libc clock_gettime, the raw syscall, libc again (MONOTONIC); time(), gettimeofday()
//            and REALTIME; an unknown clock through libc; clock_getres; AT_SYSINFO_EHDR
//   loop N   N libc clock_gettime calls; the first and last values
//   fork     the child makes 10 libc clock calls; the parent's clock after waiting for it, and
//            AT_SYSINFO_EHDR
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long ns_of(struct timespec ts) { return ts.tv_sec * 1000000000LL + ts.tv_nsec; }

static long long libc_now(clockid_t clock) {
  struct timespec ts;
  if (clock_gettime(clock, &ts) != 0) return -errno;
  return ns_of(ts);
}

static long long raw_now(clockid_t clock) {
  struct timespec ts;
  if (syscall(SYS_clock_gettime, clock, &ts) != 0) return -errno;
  return ns_of(ts);
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "mix";
  if (strcmp(mode, "mix") == 0) {
    const long long a = libc_now(CLOCK_MONOTONIC);
    const long long b = raw_now(CLOCK_MONOTONIC);
    const long long c = libc_now(CLOCK_MONOTONIC);
    printf("mono_libc=%lld\nmono_raw=%lld\nmono_libc2=%lld\n", a, b, c);
    printf("time=%lld\n", (long long)time(NULL));
    struct timeval tv;
    gettimeofday(&tv, NULL);
    printf("gettimeofday_us=%lld\n", tv.tv_sec * 1000000LL + tv.tv_usec);
    printf("realtime=%lld\n", libc_now(CLOCK_REALTIME));
    printf("unknown_clock=%lld\n", libc_now((clockid_t)99));
    struct timespec res;
    printf("getres=%d,%ld\n", clock_getres(CLOCK_MONOTONIC, &res), res.tv_nsec);
    printf("vdso=%#lx\n", getauxval(AT_SYSINFO_EHDR));
  } else if (strcmp(mode, "loop") == 0) {
    const long n = atol(argv[2]);
    long long first = 0, last = 0;
    for (long i = 0; i < n; ++i) {
      last = libc_now(CLOCK_MONOTONIC);
      if (i == 0) first = last;
    }
    printf("first=%lld\nlast=%lld\n", first, last);
  } else if (strcmp(mode, "fork") == 0) {
    const long long before = libc_now(CLOCK_MONOTONIC);
    pid_t pid = fork();
    if (pid == 0) {
      for (int i = 0; i < 10; ++i) libc_now(CLOCK_MONOTONIC);
      _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    printf("before=%lld\nafter=%lld\n", before, libc_now(CLOCK_MONOTONIC));
    printf("vdso=%#lx\n", getauxval(AT_SYSINFO_EHDR));
  }
  return 0;
}

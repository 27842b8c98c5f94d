// Guest: prints every value a nondeterministic host could leak, one "key=value" per line: clocks,
// random bytes, ids, uname, and the addresses of stack, heap, mmap, AT_RANDOM and argv.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static void hex(const char *key, const unsigned char *p, size_t n) {
  printf("%s=", key);
  for (size_t i = 0; i < n; i++) printf("%02x", p[i]);
  printf("\n");
}

int main(int argc, char **argv) {
  (void)argc;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  printf("realtime=%lld.%09ld\n", (long long)ts.tv_sec, ts.tv_nsec);
  clock_gettime(CLOCK_MONOTONIC, &ts);
  printf("monotonic=%lld.%09ld\n", (long long)ts.tv_sec, ts.tv_nsec);
  struct timeval tv;
  gettimeofday(&tv, NULL);
  printf("gettimeofday=%lld.%06ld\n", (long long)tv.tv_sec, (long)tv.tv_usec);
  printf("time=%lld\n", (long long)time(NULL));
  unsigned char rnd[32];
  long got = syscall(SYS_getrandom, rnd, sizeof(rnd), 0);
  printf("getrandom_ret=%ld\n", got);
  hex("getrandom", rnd, sizeof(rnd));
  printf("getpid=%ld\n", syscall(SYS_getpid));
  printf("getppid=%ld\n", syscall(SYS_getppid));
  printf("gettid=%ld\n", syscall(SYS_gettid));
  printf("getuid=%ld\n", syscall(SYS_getuid));
  printf("geteuid=%ld\n", syscall(SYS_geteuid));
  printf("getgid=%ld\n", syscall(SYS_getgid));
  printf("getegid=%ld\n", syscall(SYS_getegid));
  struct utsname u;
  if (uname(&u) == 0) {
    printf("sysname=%s\nnodename=%s\nrelease=%s\nversion=%s\nmachine=%s\n", u.sysname, u.nodename,
           u.release, u.version, u.machine);
  } else {
    printf("uname=failed\n");
  }
  volatile int local = 0;
  printf("stack=%p\n", (void *)&local);
  void *heap = malloc(100);
  printf("heap=%p\n", heap);
  void *big = malloc(1 << 20);
  printf("heap_big=%p\n", big);
  void *page = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  printf("mmap=%p\n", page);
  printf("brk=%p\n", (void *)syscall(SYS_brk, 0));
  unsigned char *at_random = (unsigned char *)getauxval(AT_RANDOM);
  printf("at_random_ptr=%p\n", (void *)at_random);
  if (at_random != NULL) hex("at_random", at_random, 16);
  printf("argv=%p\n", (void *)argv);
  printf("main=%p\n", (void *)main);
  return 0;
}

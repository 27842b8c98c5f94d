// Guest: makes the supervisor work hard with cheap system calls of its own, argv[2] of them
// (default: until stopped), then prints "first=<what the first call returned>" and
// "done calls=<n>":
//   getrandom  getrandom of argv[3] bytes (default 32 MiB) a call
//   rewrite    pwrite of argv[3] bytes (default 16 MiB) at offset 0 of fd 3, a random-write
//              channel (with an etag, each call is hashed too)
// Prints "failed errno=<e>" and exits 1 when a call fails.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

int main(int argc, char **argv) {
  const char *how = argc > 1 ? argv[1] : "getrandom";
  long calls = argc > 2 ? atol(argv[2]) : -1;
  int random = strcmp(how, "getrandom") == 0;
  unsigned long len = argc > 3 ? strtoul(argv[3], NULL, 0) : (random ? 32UL : 16UL) << 20;
  char *buf = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf == MAP_FAILED) return 2;
  memset(buf, 'x', len);
  long n = 0, first = 0;
  for (; calls < 0 || n < calls; n++) {
    long r = random ? (long)getrandom(buf, len, 0) : (long)pwrite(3, buf, len, 0);
    if (r < 0) {
      printf("failed errno=%d\n", errno);
      return 1;
    }
    if (n == 0) first = r;
  }
  printf("first=%ld\ndone calls=%ld\n", first, n);
  return 0;
}

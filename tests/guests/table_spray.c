// Guest: costs the kernel page tables with little address space. Maps argv[1] (default 1 GiB)
// apart, from 16 TiB up, 4 KiB mappings (MAP_FIXED_NOREPLACE) and touches each: every one needs
// a page-table page of its own and, 1 GiB apart, a page-directory page too. Stops at argv[2]
// mappings (default: until a mapping is refused) and prints "mapped=<n>" (and "errno=<e>" when
// one was refused); with argv[3] = "hold" it then reads stdin until end of data, so that the
// tables can be observed from outside while it waits. argv[4] = rounds (default 1): maps that
// many times, unmapping everything between rounds. Exits 0.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv) {
  unsigned long spacing = argc > 1 ? strtoul(argv[1], NULL, 0) : 1UL << 30;
  long max = argc > 2 ? atol(argv[2]) : -1;
  int hold = argc > 3 && strcmp(argv[3], "hold") == 0;
  long rounds = argc > 4 ? atol(argv[4]) : 1;
  unsigned long base = 16UL << 40;
  long n = 0;
  int err = 0;
  for (long round = 0; round < rounds && !err; round++) {
    if (round > 0) {
      for (long i = 0; i < n; i++) munmap((char *)(base + (unsigned long)i * spacing), 4096);
    }
    for (n = 0; max < 0 || n < max; n++) {
      char *want = (char *)(base + (unsigned long)n * spacing);
      char *p = mmap(want, 4096, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
      if (p == MAP_FAILED) {
        err = errno;
        break;
      }
      p[0] = 1;
    }
  }
  printf("mapped=%ld\n", n);
  if (err) printf("errno=%d\n", err);
  fflush(stdout);
  if (hold) {
    char buf[64];
    while (read(0, buf, sizeof buf) > 0) {
    }
  }
  return 0;
}

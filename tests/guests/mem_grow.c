// Guest: grows its memory by calls whose size alone does not show the growth, touching every
// page it gains, argv[2] MiB in all (default 64), then prints "ok grown=<MiB>".
//   dontunmap  mremap(p, 1 MiB, 1 MiB, MREMAP_MAYMOVE | MREMAP_DONTUNMAP) of a touched block,
//              again and again: each call leaves the old range mapped and adds a new one
//   growsdown  one MAP_GROWSDOWN mapping of a page, then touches the pages below it: the kernel
//              extends the mapping on each fault, without a system call
// Prints "refused errno=<e>" and exits 1 when a call is refused without a kill.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MIB (1UL << 20)

static void touch(char *p, unsigned long len) {
  for (unsigned long i = 0; i < len; i += 4096) p[i] = 1;
}

int main(int argc, char **argv) {
  const char *how = argc > 1 ? argv[1] : "dontunmap";
  unsigned long total = (argc > 2 ? strtoul(argv[2], NULL, 0) : 64) * MIB;
  unsigned long grown = 0;
  if (strcmp(how, "growsdown") == 0) {
    char *top = mmap((void *)(32UL << 40), 4096, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN, -1, 0);
    if (top == MAP_FAILED) {
      printf("refused errno=%d\n", errno);
      return 1;
    }
    // One page below the lowest touched page at a time, as a stack grows.
    for (grown = 4096; grown < total; grown += 4096) *(volatile char *)(top - grown) = 1;
  } else {
    char *p = mmap(0, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      printf("refused errno=%d\n", errno);
      return 1;
    }
    touch(p, MIB);
    for (grown = MIB; grown < total; grown += MIB) {
      char *q = mremap(p, MIB, MIB, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
      if (q == MAP_FAILED) {
        printf("refused errno=%d\n", errno);
        return 1;
      }
      touch(p, MIB);  // the old range is still mapped: fresh zero pages
      p = q;
    }
  }
  printf("ok grown=%lu\n", grown / MIB);
  return 0;
}

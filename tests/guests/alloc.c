// Guest: allocates argv[1] MiB and touches every page, argv[3] times (default 1), then prints
// "ok". argv[2] picks the mechanism: "malloc" (default), "mmap" (one anonymous mapping) or "brk"
// (raw brk growth). argv[4] = "free" releases each block before the next (munmap, free, or brk
// shrink), so the address space in use never exceeds one block.
// Prints "failed errno=<e>" and exits 1 when the allocation is refused without a kill.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
  long mib = argc > 1 ? atol(argv[1]) : 1;
  const char *how = argc > 2 ? argv[2] : "malloc";
  long repeat = argc > 3 ? atol(argv[3]) : 1;
  int release = argc > 4 && strcmp(argv[4], "free") == 0;
  size_t bytes = (size_t)mib << 20;
  for (long round = 0; round < repeat; round++) {
    char *p = NULL;
    if (strcmp(how, "mmap") == 0) {
      p = mmap(0, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) p = NULL;
    } else if (strcmp(how, "brk") == 0) {
      char *cur = (char *)syscall(SYS_brk, 0);
      char *end = (char *)syscall(SYS_brk, cur + bytes);
      if (end == cur + bytes) {
        p = cur;
      } else {
        errno = ENOMEM;
      }
    } else {
      p = malloc(bytes);
    }
    if (p == NULL) {
      printf("failed errno=%d\n", errno);
      return 1;
    }
    for (size_t i = 0; i < bytes; i += 4096) p[i] = (char)i;
    if (release) {
      if (strcmp(how, "mmap") == 0) {
        munmap(p, bytes);
      } else if (strcmp(how, "brk") == 0) {
        syscall(SYS_brk, p);
      } else {
        free(p);
      }
    }
  }
  printf("ok\n");
  return 0;
}

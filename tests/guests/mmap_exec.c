// Guest: asks for executable memory. argv[1] = "mmap" (mmap with PROT_EXEC) or "mprotect"
// (mprotect of an anonymous page to PROT_EXEC). Prints "start" first and "survived ret=..." if
// the call returns at all.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv) {
  const char *how = argc > 1 ? argv[1] : "mmap";
  printf("start\n");
  fflush(stdout);
  long r;
  if (strcmp(how, "mprotect") == 0) {
    void *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 4;
    r = mprotect(p, 4096, PROT_READ | PROT_EXEC);
  } else {
    void *p = mmap(0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    r = p == MAP_FAILED ? -1 : 0;
  }
  printf("survived ret=%ld errno=%d\n", r, r < 0 ? errno : 0);
  return 0;
}

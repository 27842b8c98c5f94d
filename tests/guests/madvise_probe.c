// Guest: madvise with each kind of advice on an anonymous page filled with 'A'. Prints one line
// "<advice>=<ret> errno=<e> bytes=<A|0|mixed>" per call (what the page holds afterwards), refilling
// it after each, then "alive".
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; newer than musl's headers */
#endif

static const char *holds(const char *p) {
  int a = 0, z = 0;
  for (int i = 0; i < 4096; i++) {
    a += p[i] == 'A';
    z += p[i] == 0;
  }
  return a == 4096 ? "A" : z == 4096 ? "0" : "mixed";
}

int main(void) {
  static const struct {
    const char *name;
    int advice;
  } kCalls[] = {
      {"dontneed", MADV_DONTNEED}, {"willneed", MADV_WILLNEED},
      {"free", MADV_FREE},         {"hugepage", MADV_HUGEPAGE},
      {"dontdump", MADV_DONTDUMP}, {"cold", MADV_COLD},
      {"pageout", MADV_PAGEOUT},   {"populate_write", MADV_POPULATE_WRITE},
      {"remove", MADV_REMOVE},     {"collapse", 25},
      {"unknown", 1000},
  };
  char *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return 2;
  for (unsigned i = 0; i < sizeof kCalls / sizeof kCalls[0]; i++) {
    memset(p, 'A', 4096);
    int r = madvise(p, 4096, kCalls[i].advice);
    printf("%s=%d errno=%d bytes=%s\n", kCalls[i].name, r, r < 0 ? errno : 0, holds(p));
  }
  printf("alive\n");
  return 0;
}

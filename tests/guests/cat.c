// Guest: copies stdin to stdout with read/write in a loop (chunk = argv[1], default 4096).
// Exits 0 on EOF; on an error prints "cat: <call> errno=<n>" to stderr and exits 3.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char buf[1 << 20];

int main(int argc, char **argv) {
  size_t chunk = argc > 1 ? (size_t)atol(argv[1]) : 4096;
  if (chunk == 0 || chunk > sizeof(buf)) chunk = 4096;
  for (;;) {
    ssize_t n = read(0, buf, chunk);
    if (n == 0) return 0;
    if (n < 0) {
      fprintf(stderr, "cat: read errno=%d\n", errno);
      return 3;
    }
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(1, buf + off, (size_t)(n - off));
      if (w <= 0) {
        fprintf(stderr, "cat: write errno=%d\n", w < 0 ? errno : 0);
        return 3;
      }
      off += w;
    }
  }
}

// Guest: writes argv[1] bytes to stdout in write() calls of argv[2] bytes (default 65536).
// Byte i of the output is 'a' + i % 26. Prints "bigout: errno=<n>" to stderr and exits 3 when
// a write fails.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char buf[1 << 20];

int main(int argc, char **argv) {
  long total = argc > 1 ? atol(argv[1]) : 0;
  long chunk = argc > 2 ? atol(argv[2]) : 65536;
  if (chunk <= 0 || chunk > (long)sizeof(buf)) chunk = 65536;
  long done = 0;
  while (done < total) {
    long n = total - done < chunk ? total - done : chunk;
    for (long i = 0; i < n; i++) buf[i] = (char)('a' + (done + i) % 26);
    ssize_t w = write(1, buf, (size_t)n);
    if (w <= 0) {
      fprintf(stderr, "bigout: errno=%d\n", w < 0 ? errno : 0);
      return 3;
    }
    done += w;
  }
  return 0;
}

/* Bench guest: copies stdin to stdout with read/write through a 128 KiB buffer, the size
 * coreutils cat uses on a pipe (io_blksize). Exits 0 at end of input, 3 on an error. */
#include <unistd.h>

static char buf[128 << 10];

int main(void) {
  for (;;) {
    ssize_t n = read(0, buf, sizeof(buf));
    if (n == 0) return 0;
    if (n < 0) return 3;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(1, buf + off, (size_t)(n - off));
      if (w <= 0) return 3;
      off += w;
    }
  }
}

// Guest: copies each file named in argv[1..] to stdout (open/read/write), in order. On an error
// prints "cat_file: <path>: <call> errno=<n>" to stderr and exits 3.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static char buf[1 << 16];

static int copy(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    fprintf(stderr, "cat_file: %s: open errno=%d\n", path, errno);
    return 3;
  }
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n == 0) break;
    if (n < 0) {
      fprintf(stderr, "cat_file: %s: read errno=%d\n", path, errno);
      return 3;
    }
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(1, buf + off, (size_t)(n - off));
      if (w <= 0) {
        fprintf(stderr, "cat_file: %s: write errno=%d\n", path, w < 0 ? errno : 0);
        return 3;
      }
      off += w;
    }
  }
  close(fd);
  return 0;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; ++i) {
    int rc = copy(argv[i]);
    if (rc != 0) return rc;
  }
  return 0;
}

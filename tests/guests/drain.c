// Guest: reads the channel at fd argv[1] (default 0) in 64 KiB reads until a read returns 0 or
// fails, then prints "read=<bytes> end=<0|errno>" on stdout and exits 0.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char buf[65536];

int main(int argc, char **argv) {
  int fd = argc > 1 ? atoi(argv[1]) : 0;
  long long total = 0;
  int end = 0;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      end = errno;
      break;
    }
    total += n;
  }
  printf("read=%lld end=%d\n", total, end);
  return 0;
}

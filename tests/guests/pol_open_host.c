// Guest: open("/etc/passwd") — a host path, not a channel: must fail with ENOENT, no kill.
// Prints "open=<ret> errno=<e>" and exits 0.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>

int main(void) {
  errno = 0;
  int fd = open("/etc/passwd", O_RDONLY);
  printf("open=%d errno=%d\n", fd, fd < 0 ? errno : 0);
  errno = 0;
  int fd2 = openat(AT_FDCWD, "/proc/self/maps", O_RDONLY);
  printf("openat=%d errno=%d\n", fd2, fd2 < 0 ? errno : 0);
  return 0;
}

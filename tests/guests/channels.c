// Guest: shows which channel sits behind each pre-opened fd and how open() resolves aliases.
//   1. for fd = 3, 4, ... until fstat fails with EBADF: "fd N read=<ret> [<bytes>]" (a read of
//      up to 16 bytes; "errno=<e>" instead of the bytes on failure), then
//      "fd N write=<ret> errno=<e>" for a write of "wN" (N = the fd);
//   2. for each argv[i] (i >= 1), an alias: "open <alias> r=<fd or -errno>" (O_RDONLY) and
//      "open <alias> w=<fd or -errno>" (O_WRONLY), closing what was opened;
//   3. "open /etc/passwd=<fd or -errno>".
// Writes its report with printf (flushed at exit). Exits 0.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int try_open(const char *path, int flags) {
  int fd = open(path, flags);
  if (fd < 0) return -errno;
  close(fd);
  return fd;
}

int main(int argc, char **argv) {
  for (int fd = 3; fd < 64; fd++) {
    struct stat st;
    if (fstat(fd, &st) != 0) {
      printf("fd %d fstat errno=%d\n", fd, errno);
      break;
    }
    char buf[16];
    ssize_t r = read(fd, buf, sizeof(buf));
    if (r >= 0) {
      printf("fd %d read=%zd [%.*s]\n", fd, r, (int)r, buf);
    } else {
      printf("fd %d read=-1 errno=%d\n", fd, errno);
    }
    char msg[16];
    int len = snprintf(msg, sizeof(msg), "w%d", fd);
    errno = 0;
    ssize_t w = write(fd, msg, (size_t)len);
    printf("fd %d write=%zd errno=%d\n", fd, w, w < 0 ? errno : 0);
  }
  for (int i = 1; i < argc; i++) {
    printf("open %s r=%d\n", argv[i], try_open(argv[i], O_RDONLY));
    printf("open %s w=%d\n", argv[i], try_open(argv[i], O_WRONLY));
  }
  printf("open /etc/passwd=%d\n", try_open("/etc/passwd", O_RDONLY));
  return 0;
}

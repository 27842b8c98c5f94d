// Guest: probes channel quotas. Usage: quota_probe MODE FD CHUNK [MAXCALLS] [CHUNK2]
//   read / readv: reads CHUNK (readv: two iovecs of CHUNK and CHUNK2) from FD until a call
//     returns <= 0 or MAXCALLS (default 100) calls were made;
//   write / writev: writes CHUNK bytes (writev: CHUNK + CHUNK2) to FD until a call fails or
//     MAXCALLS calls were made. Written byte i (over the whole run) is 'A' + i % 26.
// Each call is reported on stderr as "<ret> <errno>" (errno 0 on success), followed for reads
// by " [<bytes>]".
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static char buf[1 << 16];

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: quota_probe read|readv|write|writev FD CHUNK [MAXCALLS] [CHUNK2]\n");
    return 2;
  }
  const char *mode = argv[1];
  int fd = atoi(argv[2]);
  size_t chunk = (size_t)atol(argv[3]);
  long max_calls = argc > 4 ? atol(argv[4]) : 100;
  size_t chunk2 = argc > 5 ? (size_t)atol(argv[5]) : 0;
  if (chunk + chunk2 > sizeof(buf)) return 2;
  int is_read = strncmp(mode, "read", 4) == 0;
  int vectored = mode[strlen(mode) - 1] == 'v';
  long done = 0;
  for (long call = 0; call < max_calls; call++) {
    if (!is_read) {
      for (size_t i = 0; i < chunk + chunk2; i++) buf[i] = (char)('A' + (done + (long)i) % 26);
    }
    struct iovec iov[2] = {{buf, chunk}, {buf + chunk, chunk2}};
    errno = 0;
    ssize_t r;
    if (is_read) {
      r = vectored ? readv(fd, iov, 2) : read(fd, buf, chunk);
    } else {
      r = vectored ? writev(fd, iov, 2) : write(fd, buf, chunk);
    }
    int err = r < 0 ? errno : 0;
    if (is_read && r > 0) {
      fprintf(stderr, "%zd %d [%.*s]\n", r, err, (int)r, buf);
    } else {
      fprintf(stderr, "%zd %d\n", r, err);
    }
    if (r > 0) done += r;
    if (r < 0 || (is_read && r == 0)) break;
  }
  return 0;
}

// Guest: a tiny script interpreter for channel I/O. Each argv[i] (i >= 1) is one operation,
// fields separated by commas, issued as the raw syscall:
//   open,PATH,r|w|rw   openat,PATH,r|w|rw   close,FD   dup,FD   dup2,FD,NEW   dup3,FD,NEW
//   fcntl_dupfd,FD,MIN   read,FD,LEN   pread,FD,LEN,OFF   readv,FD,LEN1,LEN2   write,FD,DATA
//   pwrite,FD,DATA,OFF   writev,FD,DATA1,DATA2   lseek,FD,OFF,set|cur|end   fstat,FD
// Each operation prints one line: "<argv[i]> = <ret>", then " errno=<e>" when it failed, then
// for a successful read " [<bytes>]" (bytes outside 0x20..0x7e as \xNN), for fstat " size=<n>".
// The report is buffered and written to stdout at exit. Exits 0.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static char buf[1 << 16];

static int open_flags(const char *s) {
  if (strcmp(s, "w") == 0) return O_WRONLY;
  if (strcmp(s, "rw") == 0) return O_RDWR;
  return O_RDONLY;
}

static int whence(const char *s) {
  if (strcmp(s, "cur") == 0) return SEEK_CUR;
  if (strcmp(s, "end") == 0) return SEEK_END;
  return SEEK_SET;
}

static void print_bytes(const char *p, long n) {
  printf(" [");
  for (long i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c >= 0x20 && c <= 0x7e) {
      putchar(c);
    } else {
      printf("\\x%02x", c);
    }
  }
  printf("]");
}

int main(int argc, char **argv) {
  // Fully buffered: musl flushes line by line until its first write learns stdout is no tty,
  // and the report must not interleave with (or count against limits before) the operations.
  static char report[1 << 16];
  setvbuf(stdout, report, _IOFBF, sizeof(report));
  for (int i = 1; i < argc; i++) {
    char line[4096];
    snprintf(line, sizeof(line), "%s", argv[i]);
    char *f[5] = {0};
    int nf = 0;
    for (char *save = NULL, *tok = strtok_r(line, ",", &save); tok != NULL && nf < 5;
         tok = strtok_r(NULL, ",", &save)) {
      f[nf++] = tok;
    }
    const char *op = f[0] ? f[0] : "";
    long a1 = f[1] ? atol(f[1]) : 0;
    long a2 = f[2] ? atol(f[2]) : 0;
    long a3 = f[3] ? atol(f[3]) : 0;
    long r = -1;
    int is_read = 0, is_fstat = 0;
    struct stat st;
    memset(&st, 0, sizeof(st));
    errno = 0;
    if (strcmp(op, "open") == 0 && nf >= 3) {
      r = syscall(SYS_open, f[1], open_flags(f[2]), 0);
    } else if (strcmp(op, "openat") == 0 && nf >= 3) {
      r = syscall(SYS_openat, AT_FDCWD, f[1], open_flags(f[2]), 0);
    } else if (strcmp(op, "close") == 0) {
      r = syscall(SYS_close, a1);
    } else if (strcmp(op, "dup") == 0) {
      r = syscall(SYS_dup, a1);
    } else if (strcmp(op, "dup2") == 0) {
      r = syscall(SYS_dup2, a1, a2);
    } else if (strcmp(op, "dup3") == 0) {
      r = syscall(SYS_dup3, a1, a2, 0);
    } else if (strcmp(op, "fcntl_dupfd") == 0) {
      r = syscall(SYS_fcntl, a1, F_DUPFD, a2);
    } else if (strcmp(op, "read") == 0) {
      r = syscall(SYS_read, a1, buf, a2 < (long)sizeof(buf) ? a2 : (long)sizeof(buf));
      is_read = 1;
    } else if (strcmp(op, "pread") == 0) {
      r = syscall(SYS_pread64, a1, buf, a2 < (long)sizeof(buf) ? a2 : (long)sizeof(buf), a3);
      is_read = 1;
    } else if (strcmp(op, "readv") == 0) {
      if (a2 + a3 > (long)sizeof(buf)) a2 = a3 = 0;
      struct iovec iov[2] = {{buf, (size_t)a2}, {buf + a2, (size_t)a3}};
      r = syscall(SYS_readv, a1, iov, 2);
      is_read = 1;
    } else if (strcmp(op, "write") == 0 && nf >= 3) {
      r = syscall(SYS_write, a1, f[2], strlen(f[2]));
    } else if (strcmp(op, "pwrite") == 0 && nf >= 4) {
      r = syscall(SYS_pwrite64, a1, f[2], strlen(f[2]), a3);
    } else if (strcmp(op, "writev") == 0 && nf >= 4) {
      struct iovec iov[2] = {{f[2], strlen(f[2])}, {f[3], strlen(f[3])}};
      r = syscall(SYS_writev, a1, iov, 2);
    } else if (strcmp(op, "lseek") == 0 && nf >= 4) {
      r = syscall(SYS_lseek, a1, a2, whence(f[3]));
    } else if (strcmp(op, "fstat") == 0) {
      r = syscall(SYS_fstat, a1, &st);
      is_fstat = 1;
    } else {
      printf("%s = bad op\n", argv[i]);
      continue;
    }
    printf("%s = %ld", argv[i], r);
    if (r < 0) printf(" errno=%d", errno);
    if (r > 0 && is_read) print_bytes(buf, r);
    if (r == 0 && is_fstat) printf(" size=%lld", (long long)st.st_size);
    printf("\n");
  }
  return 0;
}

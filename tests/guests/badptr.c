// Guest: hands the supervisor bad pointers and huge lengths; every call must fail cleanly (or be
// clipped) while the guest keeps running. Prints "<name> = <ret> errno=<e>" per call, then
// "alive". Expects stdin to hold fewer than 4096 bytes (the tests send "hello") and fd 3 to be a
// readable channel with more than 4 bytes.
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static void report(const char *name, long r) {
  printf("%s = %ld errno=%d\n", name, r, r < 0 ? errno : 0);
}

int main(void) {
  char small[4096];
  report("write_bad_ptr", syscall(SYS_write, 1, (void *)8, 10));
  report("read_null", syscall(SYS_read, 0, (void *)0, 10));
  report("readv_bad_iov", syscall(SYS_readv, 0, (void *)8, 2));
  report("read_huge_len", syscall(SYS_read, 0, small, 1ULL << 40));
  report("write_huge_len", syscall(SYS_write, 1, small, 1ULL << 40));
  report("write_kernel_ptr", syscall(SYS_write, 1, (void *)0xffffffff81000000UL, 10));
  report("open_bad_path", syscall(SYS_open, (void *)8, O_RDONLY, 0));
  report("clock_gettime_bad", syscall(SYS_clock_gettime, CLOCK_REALTIME, (void *)8));
  report("uname_bad", syscall(SYS_uname, (void *)8));
  report("getrandom_bad", syscall(SYS_getrandom, (void *)8, 16, 0));
  report("nanosleep_bad", syscall(SYS_nanosleep, (void *)8, (void *)0));
  report("writev_bad_iov", syscall(SYS_writev, 1, (void *)8, 2));
  struct iovec iov[1] = {{(void *)8, 10}};
  report("writev_bad_base", syscall(SYS_writev, 1, iov, 1));
  report("fstat_bad", syscall(SYS_fstat, 1, (void *)8));
  // A buffer whose tail is unmapped: the part of a read that would land there faults.
  char *pages = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (pages == MAP_FAILED) return 4;
  munmap(pages + 4096, 4096);
  report("write_tail_unmapped", syscall(SYS_write, 1, pages + 4096 - 4, 100));
  report("read_tail_unmapped", syscall(SYS_read, 3, pages + 4096 - 4, 100));
  printf("alive\n");
  return 0;
}

// Guest: the raw vfork syscall (at one process, the default: EAGAIN).
// Prints "start" before the call and "survived ret=<r> errno=<e>" if it returns at all.
#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
  printf("start\n");
  fflush(stdout);
  errno = 0;
  long r = syscall(SYS_vfork);
  printf("survived ret=%ld errno=%d\n", r, r < 0 ? errno : 0);
  return 0;
}

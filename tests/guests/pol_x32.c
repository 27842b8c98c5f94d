// Guest: getpid through the x32 ABI, nr 0x40000000 | 39 (denied: "x32:getpid").
// Prints "start" before the call and "survived ret=<r> errno=<e>" if it returns at all.
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
int main(void) {
  printf("start\n");
  fflush(stdout);
  errno = 0;
  long r = syscall(0x40000000L | 39);
  printf("survived ret=%ld errno=%d\n", r, r < 0 ? errno : 0);
  return 0;
}

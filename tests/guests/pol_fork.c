// Guest: fork() (at one process, the default: EAGAIN).
// Prints "start" before the call and "survived ret=<r> errno=<e>" if it returns at all.
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
int main(void) {
  printf("start\n");
  fflush(stdout);
  errno = 0;
  long r = fork();
  printf("survived ret=%ld errno=%d\n", r, r < 0 ? errno : 0);
  return 0;
}

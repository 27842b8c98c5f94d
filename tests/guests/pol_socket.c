// Guest: socket(AF_INET, SOCK_STREAM, 0) (denied: POLICY_VIOLATION "socket", 41).
// Prints "start" before the call and "survived ret=<r> errno=<e>" if it returns at all.
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
int main(void) {
  printf("start\n");
  fflush(stdout);
  errno = 0;
  long r = socket(AF_INET, SOCK_STREAM, 0);
  printf("survived ret=%ld errno=%d\n", r, r < 0 ? errno : 0);
  return 0;
}

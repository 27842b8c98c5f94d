// Guest: argv[1] = "foreign": kill(1, SIGKILL) (a pid outside the sandbox: a violation, or EPERM);
// "self": kill(getpid(), SIGTERM) (the guest's own virtual pid: SIGNALED 15).
// Prints "start", and "survived ret=<r> errno=<e>" if the call returns.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int self = argc > 1 && strcmp(argv[1], "self") == 0;
  printf("start\n");
  fflush(stdout);
  errno = 0;
  long r = self ? kill(getpid(), SIGTERM) : kill(1, SIGKILL);
  printf("survived ret=%ld errno=%d\n", r, r < 0 ? errno : 0);
  return 0;
}

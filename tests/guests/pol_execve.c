// Guest: execve("/bin/sh") (denied: POLICY_VIOLATION "execve", 59).
// Prints "start" before the call and "survived ret=<r> errno=<e>" if it returns at all.
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {
  printf("start\n");
  fflush(stdout);
  char *argv[] = {"sh", "-c", "echo escaped", NULL};
  char *envp[] = {NULL};
  errno = 0;
  long r = execve("/bin/sh", argv, envp);
  printf("survived ret=%ld errno=%d\n", r, r < 0 ? errno : 0);
  return 0;
}

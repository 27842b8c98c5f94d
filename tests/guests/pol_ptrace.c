// Guest: ptrace(PTRACE_TRACEME) (denied: POLICY_VIOLATION "ptrace", 101).
// Prints "start" before the call and "survived ret=<r> errno=<e>" if it returns at all.
#include <errno.h>
#include <stdio.h>
#include <sys/ptrace.h>
int main(void) {
  printf("start\n");
  fflush(stdout);
  errno = 0;
  long r = ptrace(PTRACE_TRACEME, 0, 0, 0);
  printf("survived ret=%ld errno=%d\n", r, r < 0 ? errno : 0);
  return 0;
}

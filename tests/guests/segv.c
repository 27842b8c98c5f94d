// Guest: dereferences a null pointer (expected outcome: SIGNALED with SIGSEGV).
#include <stdio.h>

int main(void) {
  volatile int *p = (volatile int *)0;
  printf("before\n");
  fflush(stdout);
  *p = 42;
  printf("after\n");
  return 0;
}

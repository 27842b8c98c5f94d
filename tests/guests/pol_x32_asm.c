// Guest: getpid through the x32 ABI with an inline `syscall` (rax = 0x40000000 | 39), independent
// of libc's syscall() (denied: "x32:getpid"). Prints "start", and "survived ret=<r>" if it returns.
#include <stdio.h>

int main(void) {
  printf("start\n");
  fflush(stdout);
  long r = 0x40000000L | 39;
  __asm__ volatile("syscall" : "+a"(r) : : "rcx", "r11", "memory");
  printf("survived ret=%ld\n", r);
  return 0;
}

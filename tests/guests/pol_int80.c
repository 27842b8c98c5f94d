// Guest: getpid (20) through the i386 ABI with `int $0x80` (denied: "i386:getpid").
// Prints "start" before the call and "survived ret=<r>" if it returns at all.
#include <stdio.h>

int main(void) {
  printf("start\n");
  fflush(stdout);
  long r = 20;
  __asm__ volatile("int $0x80" : "+a"(r) : : "memory");
  printf("survived ret=%ld\n", r);
  return 0;
}

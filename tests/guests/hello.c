// Guest: prints "hello, world" and exits 0 (the smallest end-to-end run).
#include <stdio.h>

int main(void) {
  printf("hello, world\n");
  return 0;
}

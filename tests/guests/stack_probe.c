// Guest: uses argv[1] KiB of stack (touching every page from the top down), then prints "ok".
#include <stdio.h>
#include <stdlib.h>

static long touch(long kib) {
  volatile char frame[1024];
  frame[0] = (char)kib;
  frame[1023] = 0;
  if (kib <= 1) return frame[0];
  return touch(kib - 1) + frame[1023];
}

int main(int argc, char **argv) {
  long kib = argc > 1 ? atol(argv[1]) : 64;
  long r = touch(kib);
  printf("ok %ld\n", r);
  return 0;
}

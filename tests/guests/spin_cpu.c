// Guest: busy computation. argv[1] = iterations in millions (0 or absent: forever); prints the
// checksum and exits 0 when finite (a compute guest for CPU usage and the CPU limit).
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  long millions = argc > 1 ? atol(argv[1]) : 0;
  volatile unsigned long x = 1;
  for (long m = 0; millions == 0 || m < millions; m++) {
    for (int i = 0; i < 1000000; i++) x = x * 6364136223846793005UL + 1442695040888963407UL;
  }
  printf("checksum=%lu\n", (unsigned long)x);
  return 0;
}

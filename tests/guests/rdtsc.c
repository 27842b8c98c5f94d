// Guest: executes rdtsc and prints the counter (the virtual clock's where the host traps rdtsc).
#include <stdint.h>
#include <stdio.h>

int main(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  printf("rdtsc=%llu\n", (unsigned long long)(((uint64_t)hi << 32) | lo));
  return 0;
}

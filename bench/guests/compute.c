/* Bench guest: a deterministic CPU loop of argv[1] xorshift64* steps (default 1000000); prints
 * the final state as 16 hex digits and a newline. No syscalls inside the loop. Exits 0, 2 on a
 * bad argument. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  long long iterations = argc > 1 ? atoll(argv[1]) : 1000000;
  if (iterations < 0) return 2;
  uint64_t x = 0x9e3779b97f4a7c15ull;
  uint64_t acc = 0;
  for (long long i = 0; i < iterations; ++i) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    acc += x * 0x2545f4914f6cdd1dull;
  }
  printf("%016llx\n", (unsigned long long)acc);
  return 0;
}

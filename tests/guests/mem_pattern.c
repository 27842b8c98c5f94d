// Guest: leaves a deterministic pattern in its memory, seeded by argv[1] (default "a"): a
// 256 KiB heap block, a 64 KiB anonymous mapping and a static array, then exits 0. Two seeds
// leave different memory; the same seed the same memory.
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static unsigned char table[8192];

int main(int argc, char **argv) {
  const char *seed = argc > 1 ? argv[1] : "a";
  unsigned x = 2166136261u;
  for (const char *p = seed; *p; p++) x = (x ^ (unsigned char)*p) * 16777619u;
  unsigned char *heap = malloc(256 << 10);
  unsigned char *map =
      mmap(NULL, 64 << 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (heap == NULL || map == MAP_FAILED) return 1;
  for (size_t i = 0; i < (256 << 10); i++) heap[i] = (unsigned char)((x >> (i % 24)) + i);
  for (size_t i = 0; i < (64 << 10); i++) map[i] = (unsigned char)(x + 7 * i);
  for (size_t i = 0; i < sizeof table; i++) table[i] = (unsigned char)(x ^ i);
  return 0;
}

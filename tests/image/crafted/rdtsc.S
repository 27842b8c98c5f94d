// Crafted image: rdtsc (refused by the deterministic policy, a warning under standard).
#include "crafted_start.inc"
  rdtsc
  ret

// Crafted image: rdrand (refused by the deterministic policy, a warning under standard).
#include "crafted_start.inc"
  rdrand %eax
  ret

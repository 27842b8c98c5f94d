// Crafted image: rdseed (refused by the deterministic policy, a warning under standard).
#include "crafted_start.inc"
  rdseed %eax
  ret

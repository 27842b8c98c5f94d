// Crafted image: rdtscp (refused by the deterministic policy, a warning under standard).
#include "crafted_start.inc"
  rdtscp
  ret

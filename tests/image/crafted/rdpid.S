// Crafted image: rdpid (refused by the deterministic policy, a warning under standard).
#include "crafted_start.inc"
  rdpid %rax
  ret

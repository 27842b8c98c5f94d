// Crafted image: iretq (refused: interrupt return).
#include "crafted_start.inc"
  iretq
  ret

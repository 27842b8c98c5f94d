// Crafted image: lgdt (refused: privileged).
#include "crafted_start.inc"
  lgdt (%rax)
  ret

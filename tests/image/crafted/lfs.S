// Crafted image: lfs (refused: load of a segment register).
#include "crafted_start.inc"
  lfs (%rax), %eax
  ret

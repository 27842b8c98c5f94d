// Crafted image: lss (refused: load of a segment register).
#include "crafted_start.inc"
  lss (%rax), %eax
  ret

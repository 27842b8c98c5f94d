// Crafted image: mov to a segment register (refused: load of a segment register).
#include "crafted_start.inc"
  mov %ax, %ds
  ret

// Crafted image: pop fs (refused: load of a segment register).
#include "crafted_start.inc"
  pop %fs
  ret

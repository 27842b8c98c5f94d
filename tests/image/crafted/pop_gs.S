// Crafted image: pop gs (refused: load of a segment register).
#include "crafted_start.inc"
  pop %gs
  ret

// Crafted image: int 0x21, any other vector (refused: software interrupt other than int3).
#include "crafted_start.inc"
  int $0x21
  ret

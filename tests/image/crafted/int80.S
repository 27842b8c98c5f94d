// Crafted image: int 0x80, the i386 system call gate (refused: software interrupt other than int3).
#include "crafted_start.inc"
  int $0x80
  ret

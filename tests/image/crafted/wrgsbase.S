// Crafted image: wrgsbase (refused: write of the fs/gs base).
#include "crafted_start.inc"
  wrgsbase %rax
  ret

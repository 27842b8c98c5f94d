// Crafted image: wrfsbase (refused: write of the fs/gs base).
#include "crafted_start.inc"
  wrfsbase %rax
  ret

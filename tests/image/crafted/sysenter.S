// Crafted image: sysenter (refused: 32-bit system call entry).
#include "crafted_start.inc"
  sysenter
  ret

// Crafted image: cli (refused: privileged).
#include "crafted_start.inc"
  cli
  ret

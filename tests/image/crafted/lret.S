// Crafted image: far return (refused: far jump, call or return).
#include "crafted_start.inc"
  lretq
  ret

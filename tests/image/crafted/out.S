// Crafted image: out dx, al (refused: port I/O).
#include "crafted_start.inc"
  out %al, %dx
  ret

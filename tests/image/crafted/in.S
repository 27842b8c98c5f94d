// Crafted image: in al, dx (refused: port I/O).
#include "crafted_start.inc"
  in %dx, %al
  ret

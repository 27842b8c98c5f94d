// Crafted image: four bytes that are not x86-64 instructions (push es, pop es, daa and das are
// invalid in 64-bit mode), reported as one undecodable range; the image is still accepted.
#include "crafted_start.inc"
  .byte 0x06, 0x07, 0x27, 0x2f
  ret

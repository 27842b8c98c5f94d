// Crafted image: .text ends with the 0xcd of `int 0x80` and the next executable section,
// `.after`, starts with its 0x80 (read from there: `add al, 0`). The sweep restarts at the
// section start, and must still check the instruction that straddles the boundary.
#include "crafted_start.inc"
  .byte 0xcd
  .section .after, "ax", @progbits
  .byte 0x80, 0xc0, 0x00
  ret

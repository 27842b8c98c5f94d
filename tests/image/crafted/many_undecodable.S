// Crafted image: 150 separate undecodable bytes: the report keeps 100 ranges and counts all bytes.
#include "crafted_start.inc"
  .rept 150
  .byte 0x06
  nop
  .endr
  ret

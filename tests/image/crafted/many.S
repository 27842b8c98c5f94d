// Crafted image: int 0x80 150 times: the report keeps the first 100.
#include "crafted_start.inc"
  .rept 150
  int $0x80
  .endr
  ret

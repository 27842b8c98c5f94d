// Crafted image: far jmp through memory (refused: far jump, call or return).
#include "crafted_start.inc"
  ljmp *(%rax)
  ret

// Crafted image: far call through memory (refused: far jump, call or return).
#include "crafted_start.inc"
  lcall *(%rax)
  ret

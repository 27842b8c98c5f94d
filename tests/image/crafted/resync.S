// Crafted image: .text ends with a truncated instruction (lea rax, [rax+disp32] with 3 of its
// 4 displacement bytes), and the next section, `.after`, starts with `mov eax, 0xec`. A sweep
// that ran on across the section boundary would take 0xb8 as the last displacement byte and
// decode 0xec as "in al, dx"; restarting at the section start decodes the real mov.
#include "crafted_start.inc"
  .byte 0x48, 0x8d, 0x80, 0x00, 0x00, 0x00
  .section .after, "ax", @progbits
  .globl after
after:
  mov $0xec, %eax
  ret

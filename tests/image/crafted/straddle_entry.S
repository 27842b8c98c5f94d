// Crafted image: the entry point sits one byte into `int 0x80` (cd 80). From the entry the bytes
// read `add al, 0`, then a jump back to `bad`, where they are the i386 system call gate. The
// sweep restarts at the entry, and must still check the instruction that straddles it.
  .section .note.GNU-stack, "", @progbits
  .text
  .globl bad
bad:
  .byte 0xcd
  .globl _start
_start:
  .byte 0x80, 0xc0, 0x00
  mov $60, %eax
  xor %edi, %edi
  jmp bad

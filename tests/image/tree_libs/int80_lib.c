// A shared library holding int 0x80 (an i386 syscall): refused in a tree under every policy.
long tree_bad_syscall(void) {
  long r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L));
  return r;
}

// Guest: an infinite loop without syscalls (for the wall-clock timeout).
int main(void) {
  for (;;) __asm__ volatile("" ::: "memory");
}

// A shared library holding rdrand: refused in a tree under the deterministic policy.
unsigned tree_bad_random(void) {
  unsigned v;
  __asm__ volatile("rdrand %0" : "=r"(v));
  return v;
}

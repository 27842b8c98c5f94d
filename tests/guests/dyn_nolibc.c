// A dynamically linked PIE that needs no library: its interpreter (ld.so) maps and relocates it,
// then jumps to _start, which reports what the auxv says about where the interpreter lives.
#include <elf.h>
#include <stddef.h>
#include <stdint.h>

static long sys3(long nr, long a, long b, long c) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}

static void put(const char* s) {
  volatile size_t n = 0;  // volatile: no strlen call (there is no libc)
  while (s[n]) n = n + 1;
  sys3(1 /* write */, 1, (long)s, (long)n);
}

static void put_hex(uint64_t v) {
  char buf[19] = "0x";
  for (int i = 0; i < 16; ++i) buf[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 15];
  buf[18] = 0;
  put(buf);
}

// A relocated pointer: ld.so must have processed this PIE's relocations for it to be right.
static const char* const kGreeting = "hello from a dynamically linked program\n";

__attribute__((used)) void start_c(uint64_t* sp) {
  uint64_t argc = sp[0];
  uint64_t* p = sp + 1 + argc + 1;  // past argv and its NULL
  while (*p) ++p;                   // past envp
  uint64_t base = 0, entry = 0;
  for (++p; p[0] != AT_NULL; p += 2) {
    if (p[0] == AT_BASE) base = p[1];
    if (p[0] == AT_ENTRY) entry = p[1];
  }
  put(kGreeting);
  put("AT_BASE=");
  put_hex(base);
  put(" AT_ENTRY_IS_START=");
  extern void _start(void);
  put(entry == (uint64_t)&_start ? "yes\n" : "no\n");
  sys3(231 /* exit_group */, 0, 0, 0);
}

// The interpreter jumps here with rsp at argc (and rdx = its fini function, unused).
__asm__(".globl _start\n_start:\n  mov %rsp, %rdi\n  and $-16, %rsp\n  call start_c\n  hlt\n");

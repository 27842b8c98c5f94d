// Guest: looks for code hidden in the slack of its own executable segment, the bytes of its last
// page past p_filesz, which admission never decodes. The loader zeroes them; argv[1] = "madvise"
// first drops that page with madvise(MADV_DONTNEED) (as if to get the file's page back). Prints
// "slack=zero" and exits 0 when the 16 bytes at the first 16-byte boundary past p_filesz are zero,
// otherwise prints "slack=code" and calls them, exiting with what they return. The test that runs
// it puts code there (tests/sandbox/engine/image_integrity_test.cc).
#include <elf.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

static void say(const char *s) { write(1, s, strlen(s)); }

int main(int argc, char **argv) {
  const Elf64_Phdr *ph = (const Elf64_Phdr *)getauxval(AT_PHDR);
  unsigned long phnum = getauxval(AT_PHNUM);
  const Elf64_Phdr *text = 0;
  for (unsigned long i = 0; i < phnum; i++) {
    if (ph[i].p_type == PT_LOAD && (ph[i].p_flags & PF_X)) text = &ph[i];
  }
  if (text == 0) return 3;
  unsigned long slack = (text->p_vaddr + text->p_filesz + 15) & ~15UL;
  if (((slack + 15) & ~4095UL) != ((text->p_vaddr + text->p_filesz - 1) & ~4095UL)) {
    say("no slack on the last page\n");
    return 4;
  }
  if (argc > 1 && strcmp(argv[1], "madvise") == 0) {
    if (madvise((void *)(slack & ~4095UL), 4096, MADV_DONTNEED) != 0) say("madvise failed\n");
  }
  static const unsigned char zero[16];
  if (memcmp((const void *)slack, zero, sizeof zero) == 0) {
    say("slack=zero\n");
    return 0;
  }
  say("slack=code\n");
  return ((int (*)(void))slack)();
}

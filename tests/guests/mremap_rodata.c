// Guest: tries to execute bytes of its .rodata, which admission never decodes, by growing a
// file-backed page of its own code in place with mremap: the pages the growth adds map the image
// file's next pages, .rodata among them, executable. It unmaps what lies between first (the end of
// its code, .rodata) and from then on makes raw system calls only from main, which the static link
// puts on the first page of .text. Exits with what the .rodata code returns (43, after an rdrand)
// if that works, 1 when mremap is refused with an errno.
#include <elf.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>

// mov eax, 43; rdrand ecx; ret
static const unsigned char kHidden[] = {0xb8, 0x2b, 0x00, 0x00, 0x00, 0x0f, 0xc7, 0xf1, 0xc3};

static inline long raw(long nr, long a, long b, long c, long d) {
  long ret;
  register long r10 __asm__("r10") = d;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
                   : "rcx", "r11", "memory");
  return ret;
}

int main(void) {
  const Elf64_Phdr *ph = (const Elf64_Phdr *)getauxval(AT_PHDR);
  unsigned long phnum = getauxval(AT_PHNUM);
  const Elf64_Phdr *text = 0, *holder = 0;
  unsigned long hidden = (unsigned long)kHidden;
  for (unsigned long i = 0; i < phnum; i++) {
    if (ph[i].p_type != PT_LOAD) continue;
    if (ph[i].p_flags & PF_X) text = &ph[i];
    if (hidden >= ph[i].p_vaddr && hidden < ph[i].p_vaddr + ph[i].p_filesz) holder = &ph[i];
  }
  if (text == 0 || holder == 0 || holder == text) return 3;
  // The last page of code that holds nothing but the segment's file bytes.
  unsigned long page = ((text->p_vaddr + text->p_filesz) & ~4095UL) - 4096;
  if (page < text->p_vaddr) return 4;
  unsigned long page_off = text->p_offset + (page - text->p_vaddr);
  unsigned long hidden_off = holder->p_offset + (hidden - holder->p_vaddr);
  unsigned long grown = ((hidden_off + sizeof kHidden + 4095) & ~4095UL) - page_off;
  if (hidden_off <= page_off || (unsigned long)main + 64 > page + 4096) return 5;
  // snprintf also makes the code span several pages (musl's formatting code).
  char line[96];
  int len = snprintf(line, sizeof line, "growing code at %#lx over .rodata to %#lx\n", page,
                     page + grown);
  raw(SYS_write, 1, (long)line, len, 0);
  raw(SYS_munmap, (long)(page + 4096), (long)(grown - 4096), 0, 0);
  long r = raw(SYS_mremap, (long)page, 4096, (long)grown, 0);
  if (r < 0 && r > -4096) raw(SYS_exit_group, 1, 0, 0, 0);
  long code = ((long (*)(void))(page + (hidden_off - page_off)))();
  raw(SYS_exit_group, code, 0, 0, 0);
  return 0;
}

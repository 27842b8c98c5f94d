// Guest: looks for host facts a sandbox must not hold in its address space. Probes, page by page
// (a SIGSEGV handler skips unmapped ones), the top 64 MiB of user space, where the kernel puts
// the exec stack (AT_RANDOM, AT_EXECFN = the loader's host path, AT_UID) when addresses are fixed,
// and the loader's own pages at 0x6f0000000000, where its /proc/self/maps buffer lives. Prints
// "top_readable_pages=N", "host_path_found=0|1" (the text "/zerocell-loader" anywhere probed)
// and "maps_text_found=0|1" (a line of /proc/self/maps, " r-xp ").
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static sigjmp_buf skip;
static void on_fault(int sig) {
  (void)sig;
  siglongjmp(skip, 1);
}

static int Find(const volatile char *page, const char *needle) {
  size_t n = strlen(needle);
  for (size_t i = 0; i + n <= 4096; i++) {
    size_t j = 0;
    while (j < n && page[i + j] == needle[j]) j++;
    if (j == n) return 1;
  }
  return 0;
}

// Scans [lo, hi); returns readable pages, sets the found flags.
static long Scan(uintptr_t lo, uintptr_t hi, int *host_path, int *maps_text) {
  static char copy[4096];
  long readable = 0;
  for (volatile uintptr_t p = lo; p < hi; p += 4096) {
    if (sigsetjmp(skip, 1) != 0) continue;
    const volatile char *page = (const volatile char *)p;
    for (int i = 0; i < 4096; i++) copy[i] = page[i];  // faults here if unmapped
    readable++;
    *host_path |= Find(copy, "/zerocell-loader");
    *maps_text |= Find(copy, " r-xp ");
  }
  return readable;
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_fault;
  sa.sa_flags = SA_NODEFER;
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  int host_path = 0, maps_text = 0;
  const uintptr_t top = 0x7ffffffff000;
  long top_pages = Scan(top - (64 << 20), top, &host_path, &maps_text);
  Scan(0x6f0000000000, 0x6f0000000000 + (1 << 20), &host_path, &maps_text);
  printf("top_readable_pages=%ld\nhost_path_found=%d\nmaps_text_found=%d\n", top_pages, host_path,
         maps_text);
  return 0;
}

// Guest: reads the time stamp counter around a clock read and prints key=value lines.
//   tsc_probe          rdtsc, clock_gettime(CLOCK_MONOTONIC), rdtsc: before=, monotonic=, after=
//   tsc_probe rdtscp   the same with rdtscp, and aux= (its IA32_TSC_AUX)
//   tsc_probe hlt      a privileged instruction: a general protection fault that is not rdtsc
//   tsc_probe raise    SIGSEGV sent to itself
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static uint64_t Rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

static uint64_t Rdtscp(uint32_t* aux) {
  uint32_t lo, hi;
  __asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(*aux));
  return ((uint64_t)hi << 32) | lo;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "rdtsc";
  if (strcmp(mode, "hlt") == 0) {
    __asm__ volatile("hlt");
    return 3;
  }
  if (strcmp(mode, "raise") == 0) {
    raise(SIGSEGV);
    return 3;
  }
  const int use_rdtscp = strcmp(mode, "rdtscp") == 0;
  uint32_t aux = 0xffffffffu;
  struct timespec ts;
  const uint64_t before = use_rdtscp ? Rdtscp(&aux) : Rdtsc();
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const uint64_t after = use_rdtscp ? Rdtscp(&aux) : Rdtsc();
  printf("before=%llu\nmonotonic=%llu\nafter=%llu\n", (unsigned long long)before,
         (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec,
         (unsigned long long)after);
  if (use_rdtscp) printf("aux=%u\n", aux);
  return 0;
}

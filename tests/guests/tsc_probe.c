// Guest: reads the time stamp counter around a clock read and prints key=value lines.
//   tsc_probe          rdtsc, clock_gettime(CLOCK_MONOTONIC), rdtsc: before=, monotonic=, after=
//   tsc_probe rdtscp   the same with rdtscp, aux= (its IA32_TSC_AUX) and carry= (the carry flag
//                      after it: 1 if the byte after 0f 01 ran as stc, i.e. rdtscp was resumed
//                      one byte short)
//   tsc_probe hlt      a privileged instruction: a general protection fault that is not rdtsc
//   tsc_probe raise    SIGSEGV sent to itself
//   tsc_probe altstack a signal delivered to an unmapped sigaltstack: the kernel's SIGSEGV
//   tsc_probe nested   rdtsc in a loop while forked children exit, and in the SIGCHLD handler
//                      (needs 2 processes): nested=<handler calls>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t Rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

static int carry;

static uint64_t Rdtscp(uint32_t* aux) {
  uint32_t lo, hi;
  uint8_t cf;
  __asm__ volatile("clc\n\trdtscp\n\tsetc %3" : "=a"(lo), "=d"(hi), "=c"(*aux), "=r"(cf)::"cc");
  carry |= cf;
  return ((uint64_t)hi << 32) | lo;
}

static volatile sig_atomic_t handled;
static void OnSignal(int sig) {
  (void)sig;
  Rdtsc();
  ++handled;
}

static int Altstack(void) {
  stack_t ss = {.ss_sp = (void*)0x10000000, .ss_size = 65536, .ss_flags = 0};  // unmapped
  if (sigaltstack(&ss, NULL) != 0) return 4;
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = OnSignal;
  sa.sa_flags = SA_ONSTACK;
  sigaction(SIGUSR1, &sa, NULL);
  raise(SIGUSR1);
  printf("survived\n");
  return 0;
}

static int Nested(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = OnSignal;
  sigaction(SIGCHLD, &sa, NULL);
  for (int i = 0; i < 20; ++i) {
    pid_t child = fork();
    if (child < 0) return 5;
    if (child == 0) _exit(0);
    while (handled <= i) Rdtsc();  // the SIGCHLD arrives while some rdtsc is being answered
    waitpid(child, NULL, 0);
  }
  printf("nested=%d\n", (int)handled);
  return 0;
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
  if (strcmp(mode, "altstack") == 0) return Altstack();
  if (strcmp(mode, "nested") == 0) return Nested();
  const int use_rdtscp = strcmp(mode, "rdtscp") == 0;
  uint32_t aux = 0xffffffffu;
  struct timespec ts;
  const uint64_t before = use_rdtscp ? Rdtscp(&aux) : Rdtsc();
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const uint64_t after = use_rdtscp ? Rdtscp(&aux) : Rdtsc();
  printf("before=%llu\nmonotonic=%llu\nafter=%llu\n", (unsigned long long)before,
         (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec,
         (unsigned long long)after);
  if (use_rdtscp) printf("aux=%u\ncarry=%d\n", aux, carry);
  return 0;
}

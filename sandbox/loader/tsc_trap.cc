// The guest's rdtsc and rdtscp, answered from the run's virtual clock where the host traps them.
//
// Why: glibc's ld.so executes rdtsc before main (its start-up timing), so without an answer every
// dynamically linked glibc program dies of SIGSEGV on a host that enforces PR_SET_TSC, and letting
// rdtsc run would show the guest the host's time stamp counter.
#include "sandbox/loader/tsc_trap.h"

#include <asm/sigcontext.h>  // before asm/ucontext.h, which uses it without including it
#include <asm/siginfo.h>
#include <asm/signal.h>  // the same (stack_t, sigset_t)
#include <asm/ucontext.h>
#include <asm/unistd.h>
#include <linux/time.h>
#include <stdint.h>

#include "sandbox/loader/raw_syscall.h"

extern "C" void zerocell_sigreturn();  // loader_start.S: rt_sigreturn, the handler's restorer

namespace zerocell::sandbox::loader {
namespace {

constexpr unsigned long kSaSiginfo = 0x4, kSaRestorer = 0x04000000;
constexpr int kSigSegv = 11;

// The length of the rdtsc (0f 31) or rdtscp (0f 01 f9) at `ip`, 0 for any other instruction.
// Only the exact encodings compilers emit: a prefixed one is left to fault as before. The bytes
// are readable: the CPU has just decoded them.
int TscInstructionLength(const volatile uint8_t* ip) {
  if (ip[0] != 0x0f) return 0;
  if (ip[1] == 0x31) return 2;
  if (ip[1] == 0x01 && ip[2] == 0xf9) return 3;
  return 0;
}

// The SIGSEGV handler (async-signal-safe: registers, the faulting bytes and two system calls).
void TscTrap(int, siginfo_t* info, void* context) {
  auto& regs = static_cast<ucontext*>(context)->uc_mcontext;
  // A trapped rdtsc is a general protection fault (SI_KERNEL); a sent SIGSEGV is not, whatever
  // bytes lie at the interrupted instruction.
  const int length =
      info->si_code == SI_KERNEL ? TscInstructionLength(reinterpret_cast<uint8_t*>(regs.rip)) : 0;
  if (length == 0) {
    // Ends the process by SIGSEGV's default action, here: hlt faults in user mode. Not by
    // returning for the fault to repeat: a SIGSEGV the kernel raised for a failed signal delivery
    // or sigreturn (an unusable sigaltstack, say) does not repeat, nor does a sent one.
    KernelSigaction dfl = {0, 0, 0, 0};
    Sys(__NR_rt_sigaction, kSigSegv, reinterpret_cast<long>(&dfl), 0, 8);
    for (;;) __asm__ volatile("hlt");
  }
  // Virtual, like every clock the guest reads (notified: the supervisor answers it).
  struct timespec now = {0, 0};
  Sys(__NR_clock_gettime, CLOCK_MONOTONIC, reinterpret_cast<long>(&now));
  const uint64_t ticks =
      static_cast<uint64_t>(now.tv_sec) * 1000000000ull + static_cast<uint64_t>(now.tv_nsec);
  regs.rax = ticks & 0xffffffffu;
  regs.rdx = ticks >> 32;
  if (length == 3) regs.rcx = 0;  // rdtscp's IA32_TSC_AUX: cpu 0, as getcpu answers
  regs.rip += static_cast<uint64_t>(length);
}

}  // namespace

long InstallTscTrap() {
  // Every signal blocked while it runs: a guest handler run inside it (SIGCHLD arriving during
  // the clock read, say) would find SIGSEGV blocked, and its own rdtsc would then be fatal.
  KernelSigaction action = {reinterpret_cast<unsigned long>(&TscTrap), kSaSiginfo | kSaRestorer,
                            reinterpret_cast<unsigned long>(&zerocell_sigreturn), ~0ul};
  return Sys(__NR_rt_sigaction, kSigSegv, reinterpret_cast<long>(&action), 0, 8);
}

}  // namespace zerocell::sandbox::loader

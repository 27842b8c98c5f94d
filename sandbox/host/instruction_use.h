// Which host-state-reading instructions an image holds, as admission's decoder found them.
#ifndef ZEROCELL_SANDBOX_HOST_INSTRUCTION_USE_H_
#define ZEROCELL_SANDBOX_HOST_INSTRUCTION_USE_H_

#include <cstdint>
#include <string_view>

namespace zerocell::sandbox::host {

// Instructions whose result depends on the host, one bit each.
enum HostInstruction : uint32_t {
  kRdtsc = 1u << 0,   // time stamp counter (trappable with PR_SET_TSC where the host enforces it)
  kRdtscp = 1u << 1,  // the same, plus the CPU number
  kRdrand = 1u << 2,  // hardware randomness: never trappable from user space
  kRdseed = 1u << 3,
  kRdpid = 1u << 4,   // the CPU number
  kRdpru = 1u << 5,   // AMD performance counters
  kUmwait = 1u << 6,  // umonitor/umwait/tpause: timed waits
  kXbegin = 1u << 7,  // transactions abort for host-dependent reasons
  kCpuid = 1u << 8,   // the host's CPU model and features (fault-able with CPUID faulting)
  kAllHostInstructions = (1u << 9) - 1,
};

// What admission found. known = false: the image was not decoded (an engine caller that skipped
// admission); decisions then assume every instruction may be there.
struct InstructionUse {
  bool known = false;
  uint32_t bits = 0;

  static InstructionUse Unknown() { return {false, kAllHostInstructions}; }
  static InstructionUse Decoded(uint32_t bits) { return {true, bits}; }
  bool Holds(uint32_t bit) const { return !known || (bits & bit) != 0; }
};

// "rdtsc", "rdrand", ... for one bit.
std::string_view HostInstructionName(uint32_t bit);

}  // namespace zerocell::sandbox::host

#endif  // ZEROCELL_SANDBOX_HOST_INSTRUCTION_USE_H_

// Names of execution outcomes.
#include "sandbox/result.h"

#include <string_view>

namespace zerocell::sandbox {

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kExited:
      return "EXITED";
    case Outcome::kSignaled:
      return "SIGNALED";
    case Outcome::kTimeout:
      return "TIMEOUT";
    case Outcome::kCpuLimit:
      return "CPU_LIMIT";
    case Outcome::kMemoryLimit:
      return "MEMORY_LIMIT";
    case Outcome::kOutputLimit:
      return "OUTPUT_LIMIT";
    case Outcome::kPolicyViolation:
      return "POLICY_VIOLATION";
  }
  return "UNKNOWN";  // only reachable through a cast from an out-of-range integer
}

}  // namespace zerocell::sandbox

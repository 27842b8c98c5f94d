// The zerocell CLI's exit status and outcome summary line.
#include "client/exit_codes.h"

#include <string.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/result_proto.h"

namespace zerocell::client {

namespace v1 = ::zerocell::v1;

int ExitCodeForResponse(const v1::ExecuteResponse& response) {
  switch (response.outcome()) {
    case v1::OUTCOME_EXITED:
      return response.exit_code() & 0xff;
    case v1::OUTCOME_SIGNALED:
      return 128 + (response.signal() & 0x7f);
    case v1::OUTCOME_TIMEOUT:
      return kExitTimeout;
    case v1::OUTCOME_CPU_LIMIT:
      return kExitCpuLimit;
    case v1::OUTCOME_MEMORY_LIMIT:
      return kExitMemoryLimit;
    case v1::OUTCOME_OUTPUT_LIMIT:
      return kExitOutputLimit;
    case v1::OUTCOME_POLICY_VIOLATION:
      return kExitPolicyViolation;
    default:
      return kExitInternal;  // a response without an outcome is a server bug
  }
}

int ExitCodeForStatus(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 0;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return kExitUsage;
    case absl::StatusCode::kCancelled:
      return 128 + 2;  // SIGINT
    default:
      return kExitInternal;
  }
}

std::string OutcomeSummary(const v1::ExecuteResponse& response) {
  if (response.outcome() == v1::OUTCOME_EXITED) return "";
  std::string what;
  switch (response.outcome()) {
    case v1::OUTCOME_SIGNALED: {
      const char* abbrev = sigabbrev_np(response.signal());
      what = abbrev != nullptr ? absl::StrFormat("signal %d (SIG%s)", response.signal(), abbrev)
                               : absl::StrFormat("signal %d", response.signal());
      break;
    }
    case v1::OUTCOME_POLICY_VIOLATION:
      what =
          absl::StrFormat("%s (%d)", response.violation().syscall(), response.violation().number());
      if (!response.violation().detail().empty()) {
        absl::StrAppend(&what, ": ", response.violation().detail());
      }
      break;
    default:
      what = response.detail();
      break;
  }
  if (what.empty()) what = "no detail";
  return absl::StrCat("zerocell: ", api::OutcomeProtoName(response.outcome()), ": ", what);
}

std::string ExitCodeHelp() {
  return R"(Exit status:
  0..255   the guest exited with this code (EXITED)
  128+N    the guest was killed by signal N (SIGNALED; 139 = SIGSEGV, 134 = SIGABRT)
  124      TIMEOUT: the wall-clock limit passed (as coreutils timeout)
  152      CPU_LIMIT (128 + SIGXCPU)
  137      MEMORY_LIMIT (128 + SIGKILL, as an out-of-memory kill)
  153      OUTPUT_LIMIT (128 + SIGXFSZ)
  159      POLICY_VIOLATION: a forbidden syscall (128 + SIGSYS)
  2        usage error: bad flag, flag value or manifest
  125      zerocell itself failed (e.g. zerocell-loader missing)
  126      the program is not a static x86-64 ELF, or admission refused it
  127      the program was not found
  130/143  interrupted by SIGINT/SIGTERM; the sandbox was killed
For any outcome other than EXITED a one-line summary goes to stderr, e.g.
  zerocell: POLICY_VIOLATION: socket (41)
)";
}

}  // namespace zerocell::client

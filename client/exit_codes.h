// The zerocell CLI's exit status: the guest's own exit code, or a documented code per outcome.
//
//   status  meaning
//   0..255  OUTCOME_EXITED: the guest's exit code, unchanged
//   128+N   OUTCOME_SIGNALED by signal N (139 = SIGSEGV, 134 = SIGABRT), as a shell reports it
//   124     OUTCOME_TIMEOUT (as coreutils timeout(1))
//   152     OUTCOME_CPU_LIMIT (128 + SIGXCPU, the CPU-limit signal)
//   137     OUTCOME_MEMORY_LIMIT (128 + SIGKILL, as an out-of-memory kill)
//   153     OUTCOME_OUTPUT_LIMIT (128 + SIGXFSZ, the file-size-limit signal)
//   159     OUTCOME_POLICY_VIOLATION (128 + SIGSYS, seccomp's signal)
//   2       usage error: bad flag or flag value, bad manifest (the message names the flag/line)
//   125     zerocell itself failed (loader missing, host out of resources, output not writable)
//   126     PROGRAM refused: not a static x86-64 ELF (dynamic, 32-bit, truncated, not ELF), or
//           refused at admission (`zerocell validate`, a server's ELF checks or instruction policy)
//   127     PROGRAM (or a manifest's Program) not found
//   130/143 the CLI got SIGINT/SIGTERM (128 + signal); the sandbox was killed
// The limit codes borrow the signal a plain process would die of for the same cause, so a guest
// that really dies of that signal reports the same status, with the same meaning.
#ifndef ZEROCELL_CLIENT_EXIT_CODES_H_
#define ZEROCELL_CLIENT_EXIT_CODES_H_

#include <string>

#include "absl/status/status.h"
#include "zerocell/v1/sandbox.pb.h"

namespace zerocell::client {

inline constexpr int kExitUsage = 2;
inline constexpr int kExitTimeout = 124;
inline constexpr int kExitInternal = 125;
inline constexpr int kExitProgramRefused = 126;
inline constexpr int kExitProgramNotFound = 127;
inline constexpr int kExitCpuLimit = 128 + 24;         // SIGXCPU
inline constexpr int kExitMemoryLimit = 128 + 9;       // SIGKILL
inline constexpr int kExitOutputLimit = 128 + 25;      // SIGXFSZ
inline constexpr int kExitPolicyViolation = 128 + 31;  // SIGSYS

// The CLI's exit status for a finished run.
int ExitCodeForResponse(const zerocell::v1::ExecuteResponse& response);

// The CLI's exit status for a run that could not happen: INVALID_ARGUMENT / OUT_OF_RANGE -> 2,
// CANCELLED -> 130, anything else -> 125. (Program loading maps its own errors to 126/127.)
int ExitCodeForStatus(const absl::Status& status);

// The one-line stderr summary for an outcome other than EXITED, e.g.
// "zerocell: POLICY_VIOLATION: socket (41)", "zerocell: SIGNALED: signal 11 (SIGSEGV)",
// "zerocell: TIMEOUT: wall clock limit 2s exceeded". Empty for EXITED.
std::string OutcomeSummary(const zerocell::v1::ExecuteResponse& response);

// The help text's exit-status table.
std::string ExitCodeHelp();

}  // namespace zerocell::client

#endif  // ZEROCELL_CLIENT_EXIT_CODES_H_

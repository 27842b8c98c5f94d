// `zerocell run`: run one program locally under a manifest built from flags.
#ifndef ZEROCELL_CLIENT_RUN_COMMAND_H_
#define ZEROCELL_CLIENT_RUN_COMMAND_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "client/cli_args.h"
#include "client/input_files.h"
#include "client/local_run.h"
#include "client/tree_mounts.h"
#include "sandbox/manifest/manifest.h"

namespace zerocell::client {

// The manifest and output routing that `zerocell run` flags describe.
struct RunPlan {
  std::string program;  // host path of the ELF; with trees, its path in them
  sandbox::Manifest manifest;
  std::vector<OutputBinding> outputs;  // guest stdout/stderr to the CLI's own, out=FILE channels
  ChannelInputs inputs;                // --stdin and --channel input files, opened, not read
  std::vector<TreeArchive> trees;      // --tree archives, read
};

// Builds the plan from parsed flags (opens --stdin and --channel input files; they are read as
// the guest reads). INVALID_ARGUMENT names the flag; NOT_FOUND / PERMISSION_DENIED name the file
// and the flag that gave it.
absl::StatusOr<RunPlan> BuildRunPlan(const ParsedArgs& args);

// `zerocell run [FLAGS] PROGRAM [ARGS...]`; `args` are the words after "run". Returns the exit
// status (see exit_codes.h).
int RunCommand(absl::Span<const std::string> args);

// Usage text of `zerocell run`.
std::string RunHelp();

}  // namespace zerocell::client

#endif  // ZEROCELL_CLIENT_RUN_COMMAND_H_

// Local mode of the zerocell CLI: load a program, run it with the in-process engine, deliver its
// outputs to host files / the terminal, and turn the result into the CLI's exit status.
#ifndef ZEROCELL_CLIENT_LOCAL_RUN_H_
#define ZEROCELL_CLIENT_LOCAL_RUN_H_

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "image/tree_program.h"
#include "image/validator.h"
#include "sandbox/image.h"
#include "sandbox/input_source.h"
#include "sandbox/manifest/manifest.h"
#include "zerocell/v1/sandbox.pb.h"

namespace zerocell::client {

// Prints "zerocell: <message>" on stderr and returns `exit_code` (for one-line error returns).
int Fail(int exit_code, absl::string_view message);

// Reads a program and admits it as a server would: the ELF checks, then the instruction policy.
// On error the returned exit status is 127 (missing) or 126 (not a static x86-64 ELF, or an
// instruction the policy refuses), and the message names the path; a refusal by the policy adds
// one line per refused instruction, as for a server's refusal. The image carries what admission
// decoded (for the run's nondeterminism report).
struct LoadedProgram {
  std::shared_ptr<const sandbox::Image> image;
  int exit_code = 0;  // non-zero when image is null
  std::string error;
};
LoadedProgram LoadProgram(const std::string& path,
                          image::InstructionPolicy policy = image::InstructionPolicy::kStandard);

// Where a writable channel's output goes after the run: a host path, "-" / "/dev/stdout" for the
// CLI's stdout, "/dev/stderr" for its stderr.
struct OutputBinding {
  std::string alias;
  std::string path;
};

// Runs `image` under `manifest` with a local engine (loader_path empty: zerocell-loader beside
// this executable). SIGINT, SIGTERM and SIGHUP received during the run cancel it (the sandbox is
// killed); *interrupt_signal then holds the signal and the status is CANCELLED.
// Channels in `live` bound to the CLI's stdout/stderr are written there as the guest writes them
// (sequential-write channels only); their aliases are added to *streamed so that
// WriteChannelOutputs does not print them again.
// `inputs`: per channel, where a readable one reads from (RunOptions::inputs). `trees`: what
// the manifest mounts (RunOptions::trees and ::executable), when it mounts anything.
absl::StatusOr<zerocell::v1::ExecuteResponse> RunLocally(
    const sandbox::Image& image, const sandbox::Manifest& manifest, const std::string& loader_path,
    int* interrupt_signal, absl::Span<const OutputBinding> live = {},
    std::set<std::string>* streamed = nullptr, std::vector<sandbox::InputSource*> inputs = {},
    const image::TreeRun* trees = nullptr);

// True when `path` names the CLI's own stdout or stderr rather than a file.
bool IsTerminalTarget(const std::string& path);

// Writes every bound channel's output (in binding order; with `json`, targets on the CLI's stdout
// and stderr are skipped because the JSON carries them; aliases in `streamed` were already
// written live). Every failure is reported on stderr; returns false if any write failed.
bool WriteChannelOutputs(const zerocell::v1::ExecuteResponse& response,
                         absl::Span<const OutputBinding> bindings, bool json,
                         const std::set<std::string>& streamed = {});

// Prints the response as one line of JSON on stdout; false (after a message) on failure.
bool PrintJson(const zerocell::v1::ExecuteResponse& response);

}  // namespace zerocell::client

#endif  // ZEROCELL_CLIENT_LOCAL_RUN_H_

// `zerocell manifest`: run a classic ZeroVM manifest locally, with channels bound to host files.
#ifndef ZEROCELL_CLIENT_MANIFEST_COMMAND_H_
#define ZEROCELL_CLIENT_MANIFEST_COMMAND_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "client/input_files.h"
#include "client/local_run.h"
#include "client/tree_mounts.h"
#include "sandbox/manifest/manifest.h"

namespace zerocell::client {

// What a classic manifest file asks for, with its readable channels' host files opened.
struct ManifestPlan {
  std::string program;  // the Program key (or the /boot/elf channel's uri); may be relative
  sandbox::Manifest manifest;
  std::vector<OutputBinding> outputs;  // every writable channel -> its uri
  ChannelInputs inputs;                // every readable channel but /dev/nvram -> its uri
  // The tar archives the nvram's [fstab] mounts (each also stays a channel), in nvram order;
  // manifest.mounts() names them by id.
  std::vector<TreeArchive> trees;
};

// Reads and parses the manifest at `path`, reads and applies its /dev/nvram (argv, env, clock)
// and opens each other readable channel's uri ("/dev/stdin" is this process's stdin), to be read
// as the guest reads. Each [fstab] record's channel must be a readable channel of the manifest;
// its uri's file is read whole as a tar archive and mounted (errors name the nvram line).
// INVALID_ARGUMENT / NOT_FOUND messages start with the manifest path and name the line, e.g.
// "m.manifest: line 5: Channel uri: /tmp/in: No such file or directory". `argv`: a non-empty
// argv[0] replaces the guest's argv[0] (the nvram's or the Program's basename); the rest is
// appended.
absl::StatusOr<ManifestPlan> BuildManifestPlan(const std::string& path, int64_t output_limit,
                                               std::vector<std::string> argv = {});

// `zerocell manifest [--report] [--json] [--output-limit=BYTES] [--loader=PATH] FILE`.
int ManifestCommand(absl::Span<const std::string> args);

// Usage text of `zerocell manifest`.
std::string ManifestHelp();

}  // namespace zerocell::client

#endif  // ZEROCELL_CLIENT_MANIFEST_COMMAND_H_

// `zerocell manifest`: run a classic ZeroVM manifest locally, with channels bound to host files.
#ifndef ZEROCELL_CLIENT_MANIFEST_COMMAND_H_
#define ZEROCELL_CLIENT_MANIFEST_COMMAND_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "client/local_run.h"
#include "sandbox/manifest/manifest.h"

namespace zerocell::client {

// What a classic manifest file asks for, with its readable channels' host files loaded.
struct ManifestPlan {
  std::string program;  // the Program key
  sandbox::Manifest manifest;
  std::vector<OutputBinding> outputs;  // every writable channel -> its uri
};

// Reads and parses the manifest at `path` and loads each readable channel's uri ("/dev/stdin" is
// this process's stdin). INVALID_ARGUMENT / NOT_FOUND messages start with the manifest path and
// name the line, e.g. "m.manifest: line 5: Channel uri \"/tmp/in\": No such file or directory".
// `argv`: the guest's argv; an empty one (or an empty argv[0]) means the Program's basename.
absl::StatusOr<ManifestPlan> BuildManifestPlan(const std::string& path, int64_t output_limit,
                                               std::vector<std::string> argv = {});

// `zerocell manifest [--report] [--json] [--output-limit=BYTES] [--loader=PATH] FILE`.
int ManifestCommand(absl::Span<const std::string> args);

// Usage text of `zerocell manifest`.
std::string ManifestHelp();

}  // namespace zerocell::client

#endif  // ZEROCELL_CLIENT_MANIFEST_COMMAND_H_

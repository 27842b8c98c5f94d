// `zerocell batch`: many runs of one program on a zerocelld in one ExecuteBatch call.
#ifndef ZEROCELL_CLIENT_BATCH_COMMAND_H_
#define ZEROCELL_CLIENT_BATCH_COMMAND_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "zerocell/v1/sandbox.pb.h"

namespace zerocell::client {

// `zerocell batch [--parallelism=N] [--server=ADDR] [--tls_*] PROGRAM < runs.jsonl`: one run per
// stdin line, each a zerocell.v1.Manifest in the proto JSON mapping (e.g. {"argv": ["prog",
// "x"], "timeoutMs": 500}) plus an optional "stdin": "text" (the run's /dev/stdin data, UTF-8);
// "argv" defaults to [PROGRAM's base name]. Blank lines are skipped. Prints one
// ExecuteBatchResult per line as proto JSON as the runs complete. Exit 0 when every run got a
// result (whatever the guests did: see each line), 2 for a bad line (named by number) or flag,
// 126/127 for PROGRAM as `run`, 125 when the batch stopped (server unreachable, overloaded, ...).
int BatchCommand(absl::Span<const std::string> args);
std::string BatchHelp();

// The manifest of one runs.jsonl line; INVALID_ARGUMENT names the problem. `argv0`: the default
// argv when the line has none.
absl::StatusOr<zerocell::v1::Manifest> ParseBatchLine(absl::string_view line,
                                                      const std::string& argv0);

}  // namespace zerocell::client

#endif  // ZEROCELL_CLIENT_BATCH_COMMAND_H_

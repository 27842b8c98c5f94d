// Host files of the CLI: small inputs read whole (manifests, nvram, PEM), outputs written after
// a run. Errors name what the file is for and its path.
#ifndef ZEROCELL_CLIENT_CLI_FILES_H_
#define ZEROCELL_CLIENT_CLI_FILES_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace zerocell::client {

// Reads a whole host file for the CLI ("-" is the CLI's own stdin), at most `max_bytes` of it
// (INVALID_ARGUMENT past that). Errors name `what` and the path: e.g. "--stdin: /tmp/x: No such
// file or directory". For small files (manifests, nvram, PEM); channel inputs are streamed.
absl::StatusOr<std::string> ReadInputFile(absl::string_view what, const std::string& path,
                                          size_t max_bytes = size_t{64} << 20);

// Replaces the file at `path` with `data` ("-" writes to the CLI's stdout, /dev/stdout and
// /dev/stderr to fds 1 and 2 without truncating anything). Errors name `what` and the path.
absl::Status WriteOutputFile(absl::string_view what, const std::string& path,
                             absl::string_view data);

// Writes all of `data` to `fd`, retrying partial writes and EINTR.
absl::Status WriteAllToFd(int fd, absl::string_view data);

}  // namespace zerocell::client

#endif  // ZEROCELL_CLIENT_CLI_FILES_H_

// The one way an errno becomes an absl::Status in this project.
#ifndef ZEROCELL_BASE_ERRNO_STATUS_H_
#define ZEROCELL_BASE_ERRNO_STATUS_H_

#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace zerocell {

// absl's canonical code for `error` and "<context>: <strerror>" as the message:
// ErrnoStatus(ENOENT, "open /x") -> NOT_FOUND "open /x: No such file or directory".
inline absl::Status ErrnoStatus(int error, std::string_view context) {
  return absl::ErrnoToStatus(error, absl::string_view(context.data(), context.size()));
}

}  // namespace zerocell

#endif  // ZEROCELL_BASE_ERRNO_STATUS_H_

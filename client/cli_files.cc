// Host files of the CLI; see cli_files.h.
#include "client/cli_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sandbox/sys/unique_fd.h"

namespace zerocell::client {
namespace {

std::string ErrnoText(int err) { return std::strerror(err); }

}  // namespace

absl::StatusOr<std::string> ReadInputFile(absl::string_view what, const std::string& path,
                                          size_t max_bytes) {
  sandbox::sys::UniqueFd owned;
  int fd = STDIN_FILENO;
  if (path != "-") {
    owned.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!owned.valid()) {
      int err = errno;
      std::string msg = absl::StrFormat("%s: %s: %s", what, path, ErrnoText(err));
      if (err == ENOENT) return absl::NotFoundError(msg);
      if (err == EACCES) return absl::PermissionDeniedError(msg);
      return absl::InvalidArgumentError(msg);
    }
    fd = owned.get();
  }
  std::string data;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: %s: %s", what, path, ErrnoText(errno)));
    }
    if (n == 0) break;
    if (data.size() + static_cast<size_t>(n) > max_bytes) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: %s: more than %d bytes", what, path, max_bytes));
    }
    data.append(buf, static_cast<size_t>(n));
  }
  return data;
}

absl::Status WriteAllToFd(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::InternalError(ErrnoText(errno));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status WriteOutputFile(absl::string_view what, const std::string& path,
                             absl::string_view data) {
  int std_fd = -1;
  if (path == "-" || path == "/dev/stdout") std_fd = STDOUT_FILENO;
  if (path == "/dev/stderr") std_fd = STDERR_FILENO;
  if (std_fd >= 0) {
    absl::Status s = WriteAllToFd(std_fd, data);
    if (!s.ok()) return absl::InternalError(absl::StrCat(what, ": ", path, ": ", s.message()));
    return absl::OkStatus();
  }
  sandbox::sys::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666));
  if (!fd.valid()) {
    return absl::InternalError(absl::StrFormat("%s: %s: %s", what, path, ErrnoText(errno)));
  }
  absl::Status s = WriteAllToFd(fd.get(), data);
  if (!s.ok()) return absl::InternalError(absl::StrCat(what, ": ", path, ": ", s.message()));
  if (::close(fd.release()) != 0) {
    return absl::InternalError(absl::StrFormat("%s: %s: %s", what, path, ErrnoText(errno)));
  }
  return absl::OkStatus();
}

}  // namespace zerocell::client

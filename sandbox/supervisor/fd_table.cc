// Virtual descriptor table; see fd_table.h.
#include "sandbox/supervisor/fd_table.h"

#include <cerrno>
#include <cstddef>

namespace zerocell::sandbox::supervisor {

FdTable::FdTable(const std::vector<int>& handle_order) : fds_(handle_order) {}

int FdTable::Lookup(int64_t fd) const {
  if (fd < 0 || fd >= static_cast<int64_t>(fds_.size())) return -1;
  return fds_[static_cast<size_t>(fd)];
}

int FdTable::Open(int channel, int min_fd) {
  // The guest picks min_fd (fcntl F_DUPFD): bound it before it sizes anything of ours.
  if (min_fd >= kMaxFds) return -EINVAL;
  if (min_fd < 0) min_fd = 0;
  for (size_t i = static_cast<size_t>(min_fd); i < fds_.size(); ++i) {
    if (fds_[i] < 0) {
      fds_[i] = channel;
      return static_cast<int>(i);
    }
  }
  if (fds_.size() >= static_cast<size_t>(kMaxFds)) return -EMFILE;
  if (fds_.size() < static_cast<size_t>(min_fd)) fds_.resize(static_cast<size_t>(min_fd), -1);
  fds_.push_back(channel);
  return static_cast<int>(fds_.size() - 1);
}

int FdTable::OpenAt(int fd, int channel) {
  if (fd < 0 || fd >= kMaxFds) return -EBADF;
  if (static_cast<size_t>(fd) >= fds_.size()) fds_.resize(static_cast<size_t>(fd) + 1, -1);
  fds_[static_cast<size_t>(fd)] = channel;
  return fd;
}

int FdTable::Close(int64_t fd) {
  if (Lookup(fd) < 0) return -EBADF;
  fds_[static_cast<size_t>(fd)] = -1;
  return 0;
}

}  // namespace zerocell::sandbox::supervisor

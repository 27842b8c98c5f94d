// Virtual descriptor table; see fd_table.h.
#include "sandbox/supervisor/fd_table.h"

#include <cerrno>
#include <cstddef>
#include <utility>

namespace zerocell::sandbox::supervisor {

FdTable::FdTable(const std::vector<int>& handle_order) {
  fds_.reserve(handle_order.size());
  for (int channel : handle_order) fds_.push_back(Slot{channel, nullptr, false});
}

const FdTable::Slot* FdTable::Get(int64_t fd) const {
  if (fd < 0 || fd >= static_cast<int64_t>(fds_.size())) return nullptr;
  const Slot& s = fds_[static_cast<size_t>(fd)];
  return s.open() ? &s : nullptr;
}

int FdTable::Lookup(int64_t fd) const {
  const Slot* s = Get(fd);
  return s == nullptr ? -1 : s->channel;
}

OpenFile* FdTable::File(int64_t fd) const {
  const Slot* s = Get(fd);
  return s == nullptr ? nullptr : s->file.get();
}

bool FdTable::IsOpen(int64_t fd) const { return Get(fd) != nullptr; }

int FdTable::Place(Slot slot, int min_fd) {
  // The guest picks min_fd (fcntl F_DUPFD): bound it before it sizes anything of ours.
  if (min_fd >= kMaxFds) return -EINVAL;
  if (min_fd < 0) min_fd = 0;
  for (size_t i = static_cast<size_t>(min_fd); i < fds_.size(); ++i) {
    if (!fds_[i].open()) {
      fds_[i] = std::move(slot);
      return static_cast<int>(i);
    }
  }
  if (fds_.size() >= static_cast<size_t>(kMaxFds)) return -EMFILE;
  if (fds_.size() < static_cast<size_t>(min_fd)) fds_.resize(static_cast<size_t>(min_fd));
  fds_.push_back(std::move(slot));
  return static_cast<int>(fds_.size() - 1);
}

int FdTable::Open(int channel, int min_fd) { return Place(Slot{channel, nullptr, false}, min_fd); }

int FdTable::AddFile(std::shared_ptr<OpenFile> file, bool cloexec, int min_fd) {
  return Place(Slot{-1, std::move(file), cloexec}, min_fd);
}

int FdTable::Dup(int64_t fd, int min_fd, bool cloexec) {
  const Slot* s = Get(fd);
  if (s == nullptr) return -EBADF;
  Slot copy = *s;
  copy.cloexec = cloexec;
  return Place(std::move(copy), min_fd);
}

int FdTable::DupTo(int64_t fd, int64_t newfd, bool cloexec) {
  const Slot* s = Get(fd);
  if (s == nullptr || newfd < 0 || newfd >= kMaxFds) return -EBADF;
  Slot copy = *s;
  copy.cloexec = cloexec;
  if (static_cast<size_t>(newfd) >= fds_.size()) fds_.resize(static_cast<size_t>(newfd) + 1);
  fds_[static_cast<size_t>(newfd)] = std::move(copy);
  return static_cast<int>(newfd);
}

int FdTable::OpenAt(int fd, int channel) {
  if (fd < 0 || fd >= kMaxFds) return -EBADF;
  if (static_cast<size_t>(fd) >= fds_.size()) fds_.resize(static_cast<size_t>(fd) + 1);
  fds_[static_cast<size_t>(fd)] = Slot{channel, nullptr, false};
  return fd;
}

int FdTable::Close(int64_t fd) {
  if (Get(fd) == nullptr) return -EBADF;
  fds_[static_cast<size_t>(fd)] = Slot{};
  return 0;
}

bool FdTable::cloexec(int64_t fd) const {
  const Slot* s = Get(fd);
  return s != nullptr && s->cloexec;
}

void FdTable::set_cloexec(int64_t fd, bool on) {
  if (Get(fd) != nullptr) fds_[static_cast<size_t>(fd)].cloexec = on;
}

}  // namespace zerocell::sandbox::supervisor

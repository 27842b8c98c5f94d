// Virtual descriptor table; see fd_table.h.
#include "sandbox/supervisor/fd_table.h"

#include <cerrno>
#include <cstddef>
#include <utility>

#include "sandbox/launch/launch_spec.h"
#include "sandbox/manifest/manifest.h"

namespace zerocell::sandbox::supervisor {

static_assert(ManifestLimits::kMaxChannels <= FdTable::kTreeFdLo,
              "pre-opened channels must stay below the tree range");
static_assert((FdTable::kTreeFdHi - FdTable::kTreeFdLo) == FdTable::kTreeFdLo,
              "the range is [2^k, 2^(k+1)): the filter masks it");
static_assert(FdTable::kTreeFdHi == launch::kGuestFdLimit,
              "ADDFD refuses numbers at or past the guest's RLIMIT_NOFILE");

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

std::shared_ptr<OpenFile> FdTable::FileRef(int64_t fd) const {
  const Slot* s = Get(fd);
  return s == nullptr ? nullptr : s->file;
}

bool FdTable::IsOpen(int64_t fd) const { return Get(fd) != nullptr; }

int FdTable::Place(Slot slot, int min_fd, bool in_range) {
  if (in_range) {
    for (int i = kTreeFdLo; i < kTreeFdHi; ++i) {
      if (static_cast<size_t>(i) >= fds_.size()) fds_.resize(static_cast<size_t>(i) + 1);
      if (!fds_[static_cast<size_t>(i)].open()) {
        fds_[static_cast<size_t>(i)] = std::move(slot);
        return i;
      }
    }
    return -EMFILE;
  }
  // The guest picks min_fd (fcntl F_DUPFD): bound it before it sizes anything of ours.
  if (min_fd >= kMaxFds) return -EINVAL;
  if (min_fd < 0) min_fd = 0;
  for (size_t i = static_cast<size_t>(min_fd); i < fds_.size(); ++i) {
    if (InTreeRange(static_cast<int64_t>(i))) continue;
    if (!fds_[i].open()) {
      fds_[i] = std::move(slot);
      return static_cast<int>(i);
    }
  }
  if (fds_.size() >= static_cast<size_t>(kMaxFds)) return -EMFILE;
  if (fds_.size() < static_cast<size_t>(min_fd)) fds_.resize(static_cast<size_t>(min_fd));
  if (InTreeRange(static_cast<int64_t>(fds_.size()))) fds_.resize(kTreeFdHi);
  fds_.push_back(std::move(slot));
  return static_cast<int>(fds_.size() - 1);
}

int FdTable::Open(int channel, int min_fd) { return Place(Slot{channel, nullptr, false}, min_fd); }

int FdTable::AddFile(std::shared_ptr<OpenFile> file, bool cloexec, int min_fd, bool in_range) {
  return Place(Slot{-1, std::move(file), cloexec, false}, min_fd, in_range);
}

int FdTable::Dup(int64_t fd, int min_fd, bool cloexec, bool in_range) {
  const Slot* s = Get(fd);
  if (s == nullptr) return -EBADF;
  Slot copy = *s;
  copy.cloexec = cloexec;
  copy.injected = false;
  return Place(std::move(copy), min_fd, in_range);
}

int FdTable::DupTo(int64_t fd, int64_t newfd, bool cloexec) {
  const Slot* s = Get(fd);
  if (s == nullptr || newfd < 0 || newfd >= kMaxFds) return -EBADF;
  Slot copy = *s;
  copy.cloexec = cloexec;
  copy.injected = false;
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

bool FdTable::injected(int64_t fd) const {
  const Slot* s = Get(fd);
  return s != nullptr && s->injected;
}

void FdTable::set_injected(int64_t fd, bool on) {
  if (Get(fd) != nullptr) fds_[static_cast<size_t>(fd)].injected = on;
}

}  // namespace zerocell::sandbox::supervisor

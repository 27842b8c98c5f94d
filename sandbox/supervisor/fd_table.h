// The guest's virtual file descriptors: small integers that name channels or open tree files,
// never real fds.
#ifndef ZEROCELL_SANDBOX_SUPERVISOR_FD_TABLE_H_
#define ZEROCELL_SANDBOX_SUPERVISOR_FD_TABLE_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "sandbox/fs/guest_fs.h"
#include "sandbox/sys/unique_fd.h"

namespace zerocell::sandbox::supervisor {

// An open file description in the guest's file system: shared by the descriptors dup made of
// it (they share the offset), as in the kernel.
struct OpenFile {
  fs::Location at;
  int flags = 0;     // as opened: access mode, O_PATH, O_DIRECTORY, ... (F_GETFL)
  uint64_t pos = 0;  // a directory's next getdents64 entry (a file's offset is real's)
  // A regular file's own read-only description of its sealed memfd: what is injected into the
  // guest, and what emulated reads and seeks use, so that every descriptor of it shares one
  // offset as in the kernel. Null for directories and O_PATH.
  std::shared_ptr<const sys::UniqueFd> real;
  // A scratch file's (ScratchDir::Hold): its bytes stay, also once unlinked, until the last
  // descriptor of it closes.
  std::shared_ptr<const void> scratch_hold;
};

class FdTable {
 public:
  static constexpr int kMaxFds = 4096;
  // Tree files get numbers here, where the same number holds their memfd in the guest (injected)
  // and the filter lets reads and seeks run in the kernel (syscall_policy.cc). Nothing else is
  // ever placed in the range: a channel there would be read from the memfd by the kernel.
  // Aligned to its size (the filter tests it with one mask); above every pre-opened channel.
  static constexpr int kTreeFdLo = 1024, kTreeFdHi = 2048;  // [lo, hi), hi = RLIMIT_NOFILE
  static bool InTreeRange(int64_t fd) { return fd >= kTreeFdLo && fd < kTreeFdHi; }

  // fd i -> channel handle_order[i]: the pre-opened descriptors.
  explicit FdTable(const std::vector<int>& handle_order);

  // Channel index behind `fd`, or -1 when the fd is not open or is a file.
  int Lookup(int64_t fd) const;
  // The open file behind `fd`, or null when the fd is not open or is a channel.
  OpenFile* File(int64_t fd) const;
  std::shared_ptr<OpenFile> FileRef(int64_t fd) const;
  bool IsOpen(int64_t fd) const;
  // Opens a new descriptor for `channel` at the lowest free number >= min_fd; -EMFILE when full,
  // -EINVAL when min_fd >= kMaxFds.
  int Open(int channel, int min_fd = 0);
  // `in_range`: the lowest free number in the tree range (-EMFILE when none is); otherwise, as
  // every other placement, the lowest free number >= min_fd outside it.
  int AddFile(std::shared_ptr<OpenFile> file, bool cloexec, int min_fd = 0, bool in_range = false);
  // A second descriptor for what `fd` refers to (dup, F_DUPFD): -EBADF, -EMFILE, -EINVAL.
  int Dup(int64_t fd, int min_fd, bool cloexec, bool in_range = false);
  // Makes `newfd` refer to what `fd` refers to, closing what it referred to (dup2 semantics,
  // fd != newfd): -EBADF for a bad fd or a newfd out of range.
  int DupTo(int64_t fd, int64_t newfd, bool cloexec);
  // Makes `fd` refer to `channel`, closing what it referred to (dup2 semantics).
  int OpenAt(int fd, int channel);
  // 0, or -EBADF.
  int Close(int64_t fd);
  // FD_CLOEXEC (kept only to be reported: the guest can never exec).
  bool cloexec(int64_t fd) const;
  void set_cloexec(int64_t fd, bool on);
  // Whether the guest holds a real descriptor (the file's memfd) at number `fd`.
  bool injected(int64_t fd) const;
  void set_injected(int64_t fd, bool on);

 private:
  struct Slot {
    int channel = -1;
    std::shared_ptr<OpenFile> file;
    bool cloexec = false;
    bool injected = false;
    bool open() const { return channel >= 0 || file != nullptr; }
  };
  int Place(Slot slot, int min_fd, bool in_range = false);
  const Slot* Get(int64_t fd) const;
  std::vector<Slot> fds_;
};

}  // namespace zerocell::sandbox::supervisor

#endif  // ZEROCELL_SANDBOX_SUPERVISOR_FD_TABLE_H_

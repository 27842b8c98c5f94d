// The guest's virtual file descriptors: small integers that name channels or open tree files,
// never real fds.
#ifndef ZEROCELL_SANDBOX_SUPERVISOR_FD_TABLE_H_
#define ZEROCELL_SANDBOX_SUPERVISOR_FD_TABLE_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "sandbox/fs/guest_fs.h"

namespace zerocell::sandbox::supervisor {

// An open file description in the guest's file system: shared by the descriptors dup made of
// it (they share the offset), as in the kernel.
struct OpenFile {
  fs::Location at;
  int flags = 0;     // as opened: access mode, O_PATH, O_DIRECTORY, ... (F_GETFL)
  uint64_t pos = 0;  // the file offset; for a directory, the next getdents64 entry
};

class FdTable {
 public:
  static constexpr int kMaxFds = 4096;

  // fd i -> channel handle_order[i]: the pre-opened descriptors.
  explicit FdTable(const std::vector<int>& handle_order);

  // Channel index behind `fd`, or -1 when the fd is not open or is a file.
  int Lookup(int64_t fd) const;
  // The open file behind `fd`, or null when the fd is not open or is a channel.
  OpenFile* File(int64_t fd) const;
  bool IsOpen(int64_t fd) const;
  // Opens a new descriptor for `channel` at the lowest free number >= min_fd; -EMFILE when full,
  // -EINVAL when min_fd >= kMaxFds.
  int Open(int channel, int min_fd = 0);
  int AddFile(std::shared_ptr<OpenFile> file, bool cloexec, int min_fd = 0);
  // A second descriptor for what `fd` refers to (dup, F_DUPFD): -EBADF, -EMFILE, -EINVAL.
  int Dup(int64_t fd, int min_fd, bool cloexec);
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

 private:
  struct Slot {
    int channel = -1;
    std::shared_ptr<OpenFile> file;
    bool cloexec = false;
    bool open() const { return channel >= 0 || file != nullptr; }
  };
  int Place(Slot slot, int min_fd);
  const Slot* Get(int64_t fd) const;
  std::vector<Slot> fds_;
};

}  // namespace zerocell::sandbox::supervisor

#endif  // ZEROCELL_SANDBOX_SUPERVISOR_FD_TABLE_H_

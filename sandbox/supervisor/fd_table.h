// The guest's virtual file descriptors: small integers that name channels, never real fds.
#ifndef ZEROCELL_SANDBOX_SUPERVISOR_FD_TABLE_H_
#define ZEROCELL_SANDBOX_SUPERVISOR_FD_TABLE_H_

#include <cstdint>
#include <vector>

namespace zerocell::sandbox::supervisor {

class FdTable {
 public:
  static constexpr int kMaxFds = 4096;

  // fd i -> channel handle_order[i]: the pre-opened descriptors.
  explicit FdTable(const std::vector<int>& handle_order);

  // Channel index behind `fd`, or -1 when the fd is not open.
  int Lookup(int64_t fd) const;
  // Opens a new descriptor for `channel` at the lowest free number >= min_fd; -EMFILE when full,
  // -EINVAL when min_fd >= kMaxFds.
  int Open(int channel, int min_fd = 0);
  // Makes `fd` refer to `channel`, closing what it referred to (dup2 semantics).
  int OpenAt(int fd, int channel);
  // 0, or -EBADF.
  int Close(int64_t fd);

 private:
  std::vector<int> fds_;  // -1 = free
};

}  // namespace zerocell::sandbox::supervisor

#endif  // ZEROCELL_SANDBOX_SUPERVISOR_FD_TABLE_H_

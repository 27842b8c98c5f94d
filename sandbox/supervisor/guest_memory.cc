// Guest memory access: the process_vm implementation and the shared string reader.
#include "sandbox/supervisor/guest_memory.h"

#include <cerrno>
#include <cstring>

#include "sandbox/sys/syscalls.h"

namespace zerocell::sandbox::supervisor {
namespace {
// process_vm_* can be partial at a page boundary; the guest sees the whole range or EFAULT.
constexpr uint64_t kMaxAddress = uint64_t{1} << 47;

bool RangeOk(uint64_t addr, size_t len) { return addr < kMaxAddress && len <= kMaxAddress - addr; }
}  // namespace

int ProcessMemory::Read(uint64_t addr, void* out, size_t len) const {
  if (len == 0) return 0;
  if (!RangeOk(addr, len)) return EFAULT;
  size_t done = 0;
  while (done < len) {
    ssize_t n =
        sys::ReadProcessMemory(pid_, addr + done, static_cast<char*>(out) + done, len - done);
    if (n <= 0) return EFAULT;
    done += static_cast<size_t>(n);
  }
  return 0;
}

int ProcessMemory::Write(uint64_t addr, const void* data, size_t len) const {
  if (len == 0) return 0;
  if (!RangeOk(addr, len)) return EFAULT;
  size_t done = 0;
  while (done < len) {
    ssize_t n = sys::WriteProcessMemory(pid_, addr + done, static_cast<const char*>(data) + done,
                                        len - done);
    if (n <= 0) return EFAULT;
    done += static_cast<size_t>(n);
  }
  return 0;
}

int GuestMemory::ReadString(uint64_t addr, size_t max_len, std::string* out) const {
  out->clear();
  char chunk[256];
  while (out->size() <= max_len) {
    // Read up to the next page boundary so a string at the end of a mapping still works.
    size_t want = sizeof(chunk) - ((addr + out->size()) % sizeof(chunk));
    if (int err = Read(addr + out->size(), chunk, want); err != 0) return err;
    const void* nul = memchr(chunk, '\0', want);
    if (nul != nullptr) {
      out->append(chunk, static_cast<const char*>(nul) - chunk);
      return out->size() > max_len ? ENAMETOOLONG : 0;
    }
    out->append(chunk, want);
  }
  return ENAMETOOLONG;
}

}  // namespace zerocell::sandbox::supervisor
